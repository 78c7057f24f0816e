#!/usr/bin/env python3
"""A scripted model on 127.0.0.1 speaking the Anthropic Messages API, for
driving the real Claude Code CLI in tests (see AGENT_CLIS.md).

Usage: model_server.py LOG SCRIPT
  Prints the port it listens on, then serves until killed.
  Every request that starts a turn (its last message is the user's prompt)
  is answered with one Bash tool call running `sh SCRIPT`; the request
  carrying the tool result is answered with text and end_turn. Requests
  without tools (side queries) get plain text. Every answer's usage is
  appended to LOG as one JSON line, so tests can check the CLI's accounting.

It also speaks the OpenAI Responses API (`POST /v1/responses`) for the real
Codex CLI: a request whose last input item is the user's prompt is answered
with one `exec_command` function call running `sh SCRIPT`; the request
carrying its `function_call_output` is answered with an assistant message.
Its usage (`input_tokens` counting `cached_tokens`) is logged the same way,
with `"api": "responses"`.

Rate limits: while a file SCRIPT.headers exists, each of its `Name: value`
lines is sent as a response header of every answer, and a line
`x-scripted-status: 429` makes every answer that status, with an Anthropic
`rate_limit_error` body (logged as `"api": "refused"`). With `retry-after:
N`, Claude Code (an API-key account) reports it as `system/api_retry` lines
with `error_status` 429 and `retry_delay_ms` about N s; Codex as `error`
lines "Reconnecting... (last status: 429 ...)". (Claude Code's
`rate_limit_event`, from the `anthropic-ratelimit-unified-*` headers, is
only emitted for subscription accounts: with an API key those headers,
even `-status: rejected`, produce no such line.) Every request is logged
with `"t"`, the time it arrived, `"cwd"`, the working directory the CLI
states in its prompt, and `"headers"`, the extra headers sent.

A SCRIPT holding a JSON list of tool calls, `[{"name": "mcp__comm-node__send",
"input": {...}}, ...]`, is played instead on the Messages API: the request
carrying the Nth tool result is answered with call N+1, and once the list
is done, with text and end_turn. Each log line then also holds the names of
the tools the request offered (`tools`) and the text of the tool result it
carried (`result`, with `is_error`), so a test can see what the CLI saw.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG, SCRIPT = sys.argv[1], sys.argv[2]
lock = threading.Lock()
counter = [0]


def extra_headers():
    """The headers SCRIPT.headers asks for, as (name, value) pairs."""
    try:
        with open(SCRIPT + ".headers") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [tuple(p.strip() for p in l.split(":", 1)) for l in lines if ":" in l]


def next_usage(model, messages, headers, cwd, body):
    with lock:
        counter[0] += 1
        n = counter[0]
        usage = {
            "input_tokens": 100 + n,
            "output_tokens": 10 + n,
            "cache_read_input_tokens": 5 * n,
            "cache_creation_input_tokens": 3,
        }
        with open(LOG, "a") as f:
            results = tool_results(messages)
            f.write(json.dumps({"n": n, "model": model, "usage": usage,
                                "messages": len(messages), "t": time.time(),
                                "headers": dict(headers), "cwd": cwd,
                                "tools": [t.get("name") for t in body.get("tools") or []],
                                "result": results[-1] if results else None}) + "\n")
        return n, usage


def scripted_calls():
    """The tool calls SCRIPT lists, or None when it is a shell script."""
    try:
        with open(SCRIPT) as f:
            calls = json.load(f)
    except (OSError, ValueError):
        return None
    return calls if isinstance(calls, list) else None


def tool_results(messages):
    """The tool results the conversation carries, oldest first."""
    out = []
    for m in messages:
        content = m.get("content")
        if m.get("role") != "user" or not isinstance(content, list):
            continue
        for b in content:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                inner = b.get("content")
                if isinstance(inner, list):
                    inner = "".join(c.get("text", "") for c in inner if isinstance(c, dict))
                out.append({"text": inner or "", "is_error": bool(b.get("is_error"))})
    return out


def blocks_for(body):
    """The content blocks and stop reason of the answer."""
    messages = body.get("messages") or []
    calls = scripted_calls()
    if calls is not None:
        done = len(tool_results(messages))
        offered = [t.get("name") for t in body.get("tools") or []]
        if not offered or done >= len(calls):
            return [{"type": "text", "text": "Done for now."}], "end_turn"
        call = calls[done]
        return [{"type": "tool_use", "id": "toolu_%d_%d" % (counter[0], done),
                 "name": call["name"], "input": call.get("input", {})}], "tool_use"
    last = messages[-1] if messages else {}
    content = last.get("content")
    has_result = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    tools = [t.get("name") for t in body.get("tools") or []]
    if "Bash" not in tools or has_result:
        return [{"type": "text", "text": "Done for now."}], "end_turn"
    command = "sh " + SCRIPT
    return [
        {"type": "text", "text": "Working on it."},
        {"type": "tool_use", "id": "toolu_%d" % counter[0], "name": "Bash",
         "input": {"command": command, "description": "run the scripted step"}},
    ], "tool_use"


def cwd_of(body):
    """The working directory the CLI states in its prompt, if any."""
    text = json.dumps(body)
    for marker in ("Primary working directory: ", "Working directory: ", "<cwd>"):
        i = text.find(marker)
        if i >= 0:
            break
    if i < 0:
        return None
    rest = text[i + len(marker):]
    if marker == "<cwd>":
        return rest[:rest.find("<")]
    end = min([j for j in (rest.find("\\n"), rest.find('"')) if j >= 0] or [len(rest)])
    return rest[:end]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, headers):
        """Answers with the scripted status (`x-scripted-status`), if any."""
        refuse = [v for k, v in headers if k.lower() == "x-scripted-status"]
        if not refuse:
            return False
        data = json.dumps({"type": "error", "error": {
            "type": "rate_limit_error",
            "message": "This request would exceed your account's rate limit."}}).encode()
        self.send_response(int(refuse[0]))
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            if name.lower() != "x-scripted-status":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        return True

    def answer_responses(self, body):
        headers = extra_headers()
        if self.refuse(headers):
            with lock, open(LOG, "a") as f:
                f.write(json.dumps({"api": "refused", "t": time.time(),
                                    "headers": dict(headers), "cwd": cwd_of(body)}) + "\n")
            return
        items = body.get("input") or []
        last = items[-1] if items else {}
        done = last.get("type") == "function_call_output"
        with lock:
            counter[0] += 1
            n = counter[0]
            usage = {"input_tokens": 200 + n,
                     "input_tokens_details": {"cached_tokens": 50 + n},
                     "output_tokens": 20 + n,
                     "output_tokens_details": {"reasoning_tokens": 0},
                     "total_tokens": 220 + 2 * n}
            with open(LOG, "a") as f:
                f.write(json.dumps({"n": n, "api": "responses", "model": body.get("model"),
                                    "usage": usage, "input": len(items),
                                    "done": done, "t": time.time(),
                                    "cwd": cwd_of(body)}) + "\n")
        if done:
            item = {"type": "message", "id": "msg_%d" % n, "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Done for now.",
                                 "annotations": []}]}
        else:
            item = {"type": "function_call", "id": "fc_%d" % n, "call_id": "call_%d" % n,
                    "name": "exec_command", "status": "completed",
                    "arguments": json.dumps({"cmd": "sh " + SCRIPT})}
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        rid = "resp_%d" % n

        def event(name, data):
            data = dict(data, type=name)
            self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())

        event("response.created", {"response": {"id": rid, "status": "in_progress",
                                                 "output": []}})
        event("response.output_item.added", {"output_index": 0, "item": item})
        event("response.output_item.done", {"output_index": 0, "item": item})
        event("response.completed", {"response": {"id": rid, "status": "completed",
                                                   "output": [item], "usage": usage}})
        self.wfile.flush()
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/").endswith("/responses"):
            return self.answer_responses(body)
        if "count_tokens" in self.path:
            return self.send_json({"input_tokens": 10})
        model = body.get("model", "claude-sonnet-4-5")
        headers = extra_headers()
        if self.refuse(headers):
            with lock, open(LOG, "a") as f:
                f.write(json.dumps({"api": "refused", "t": time.time(),
                                    "headers": dict(headers), "cwd": cwd_of(body)}) + "\n")
            return
        n, usage = next_usage(model, body.get("messages") or [], headers, cwd_of(body), body)
        blocks, stop = blocks_for(body)
        msg_id = "msg_%d" % n
        if not body.get("stream"):
            return self.send_json({
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop, "stop_sequence": None,
                "usage": usage,
            })
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

        def event(name, data):
            self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())

        start_usage = dict(usage)
        start_usage["output_tokens"] = 1
        event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": b["text"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "tool_use", "id": b["id"],
                                                                "name": b["name"], "input": {}}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": json.dumps(b["input"])}})
            event("content_block_stop", {"type": "content_block_stop", "index": i})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": usage["output_tokens"]}})
        event("message_stop", {"type": "message_stop"})
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self):
        self.send_json({})

    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
