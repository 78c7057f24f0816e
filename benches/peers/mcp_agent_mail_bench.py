#!/usr/bin/env python3
"""Peer benchmark: message send / inbox fetch latency of `mcp-agent-mail` (PyPI).

Used for a side-by-side comparison with comm-node. It drives the peer's own
FastMCP server *in-process* (no HTTP, no network), the same way the peer's
test-suite does: `build_mcp_server()` plus a `fastmcp.Client` attached to the
server object through FastMCP's in-memory transport.

What it measures
----------------
1. Creates a fresh temporary directory holding the peer's SQLite database
   (DATABASE_URL) and its Git mailbox archive (STORAGE_ROOT).
2. Registers one project and two agents (sender A, receiver B) with the
   `ensure_project` / `register_agent` tools.
3. Sends N messages (default 200, `--n`) one at a time from A to B via the
   `send_message` tool: a short subject plus a ~200-byte Markdown body. Each
   call is timed with time.perf_counter() around the awaited call.
   In mcp-agent-mail 0.1.0 one send does: SQLite insert (message + recipient,
   FTS trigger), writes three .md files (canonical, sender outbox, receiver
   inbox) and makes one Git commit of those files (GitPython) under an
   advisory file lock, plus renders a Rich panel used as commit message
   (which the peer also prints to stderr).
4. Fetches B's inbox with limit 50 (`fetch_inbox`) `--inbox-iters` times
   (default 20), timing each call.
5. Prints one JSON object on stdout: version, n, send_p50_ms, send_p90_ms,
   send_mean_ms, sends_per_s, inbox50_p50_ms (plus a few extra fields).

Modes (`--mode`):
  client (default)  calls go through fastmcp.Client over the in-memory MCP
                    transport (JSON-RPC objects, pydantic validation, result
                    serialisation) -- what an agent's tool call costs, minus
                    any socket / HTTP hop.
  direct            awaits the registered tool functions directly with a tiny
                    stand-in for the MCP request Context: the peer's tool body
                    (DB + files + git) without the MCP protocol layer.

Noise control (all set before the peer is imported, only if not already set
in the environment): TOOLS_LOG_ENABLED=false (the peer would otherwise print
Rich panels to stdout around every tool call), LLM_ENABLED=false,
FASTMCP_LOG_LEVEL=WARNING, LITELLM_LOCAL_MODEL_COST_MAP=True (stops litellm,
a peer dependency, from trying to download a price list at import time).
Process stderr (fd 2) is redirected into <tmpdir>/stderr.log while the peer
runs (use --show-stderr to keep it), because the peer prints a panel per send
to stderr; the rendering cost stays in the timings, only terminal I/O is
avoided.

Install the peer
----------------
    python3 -m venv /tmp/peer-mcp/venv && /tmp/peer-mcp/venv/bin/pip install mcp-agent-mail==0.1.0

Run
---
    /tmp/peer-mcp/venv/bin/python benches/peers/mcp_agent_mail_bench.py --n 200 --inbox-iters 20
    /tmp/peer-mcp/venv/bin/python benches/peers/mcp_agent_mail_bench.py --mode direct

Requires Python >= 3.11 (peer requirement) and a `git` binary on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PROJECT_KEY = "/bench/comm-node-peer"
SENDER = "BenchSender"
RECEIVER = "BenchReceiver"
BODY_TARGET_BYTES = 200


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * (q / 100.0)
    lo = int(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = rank - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def make_body(i: int) -> str:
    """A ~200-byte Markdown body, unique per message."""
    head = (
        f"## Status update #{i}\n\n"
        "- build: **passed**\n"
        "- tests: `cargo test` green\n"
        "- next: review `src/bus.rs` changes\n\n"
        "Notes: "
    )
    pad = BODY_TARGET_BYTES - len(head.encode("utf-8")) - 1
    filler = ("lorem ipsum dolor sit amet " * 10)[: max(pad, 0)]
    return head + filler + "\n"


def configure_environment(workdir: Path) -> None:
    """Point the peer at a fresh DB + archive; must run before importing it."""
    db_path = workdir / "agent_mail.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{db_path}"
    os.environ["STORAGE_ROOT"] = str(workdir / "archive")
    os.environ["APP_ENVIRONMENT"] = "bench"
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench-agent")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    os.environ.setdefault("TOOLS_LOG_ENABLED", "false")
    os.environ.setdefault("LLM_ENABLED", "false")
    os.environ.setdefault("FASTMCP_LOG_LEVEL", "WARNING")
    # litellm (imported by the peer) otherwise tries to download a model price
    # list from GitHub in a background thread at import time.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # The peer's config reads ./.env when present; run from the empty tmp dir
    # so that no stray .env in the caller's cwd changes its settings.
    os.chdir(workdir)


class _StandInContext:
    """Minimal substitute for fastmcp's request Context used in --mode direct.

    The peer's tool bodies only await ctx.info()/ctx.error() (logging back to
    the MCP client); with no client attached those become no-ops.
    """

    async def info(self, *_a: Any, **_k: Any) -> None:
        return None

    async def error(self, *_a: Any, **_k: Any) -> None:
        return None

    async def warning(self, *_a: Any, **_k: Any) -> None:
        return None

    async def debug(self, *_a: Any, **_k: Any) -> None:
        return None


class ClientDriver:
    """Calls tools through fastmcp.Client over the in-memory transport."""

    def __init__(self, server: Any) -> None:
        from fastmcp import Client

        self._client = Client(server)

    async def __aenter__(self) -> "ClientDriver":
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.__aexit__(*exc)

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        result = await self._client.call_tool(tool, args)
        return result.data


class DirectDriver:
    """Awaits the registered tool callables directly (no MCP protocol layer)."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._fns: dict[str, Any] = {}
        self._ctx = _StandInContext()

    async def __aenter__(self) -> "DirectDriver":
        # Equivalent of the server lifespan: engine + schema.
        from mcp_agent_mail.config import get_settings
        from mcp_agent_mail.db import ensure_schema, init_engine

        settings = get_settings()
        init_engine(settings)
        await ensure_schema(settings)
        for name in ("ensure_project", "register_agent", "send_message", "fetch_inbox"):
            tool = await self._server.get_tool(name)
            self._fns[name] = tool.fn
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        return await self._fns[tool](ctx=self._ctx, **args)


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from mcp_agent_mail.app import build_mcp_server

    server = build_mcp_server()
    driver_cls = ClientDriver if args.mode == "client" else DirectDriver

    async with driver_cls(server) as drv:
        t0 = time.perf_counter()
        await drv.call("ensure_project", {"human_key": PROJECT_KEY})
        names = []
        for wanted in (SENDER, RECEIVER):
            agent = await drv.call(
                "register_agent",
                {"project_key": PROJECT_KEY, "program": "bench", "model": "none", "name": wanted},
            )
            names.append(agent["name"])
        sender, receiver = names
        setup_s = time.perf_counter() - t0

        bodies = [make_body(i) for i in range(args.n)]
        send_ms: list[float] = []
        wall0 = time.perf_counter()
        for i in range(args.n):
            payload = {
                "project_key": PROJECT_KEY,
                "sender_name": sender,
                "to": [receiver],
                "subject": f"bench msg {i}",
                "body_md": bodies[i],
            }
            t = time.perf_counter()
            res = await drv.call("send_message", payload)
            send_ms.append((time.perf_counter() - t) * 1000.0)
            if i == 0 and not (isinstance(res, dict) and res.get("deliveries")):
                raise RuntimeError(f"unexpected send_message result: {res!r}")
        send_wall_s = time.perf_counter() - wall0

        inbox_ms: list[float] = []
        last_count = -1
        for _ in range(args.inbox_iters):
            t = time.perf_counter()
            items = await drv.call(
                "fetch_inbox",
                {"project_key": PROJECT_KEY, "agent_name": receiver, "limit": args.inbox_limit},
            )
            inbox_ms.append((time.perf_counter() - t) * 1000.0)
            last_count = len(items)
        expected = min(args.inbox_limit, args.n)
        if args.inbox_iters and last_count != expected:
            raise RuntimeError(f"fetch_inbox returned {last_count} items, expected {expected}")

    s_sorted = sorted(send_ms)
    i_sorted = sorted(inbox_ms)
    return {
        "peer": "mcp-agent-mail",
        "version": metadata.version("mcp-agent-mail"),
        "mode": args.mode,
        "n": args.n,
        "body_bytes": len(bodies[0].encode("utf-8")) if bodies else 0,
        "send_p50_ms": round(percentile(s_sorted, 50), 3),
        "send_p90_ms": round(percentile(s_sorted, 90), 3),
        "send_p99_ms": round(percentile(s_sorted, 99), 3),
        "send_mean_ms": round(sum(send_ms) / len(send_ms), 3) if send_ms else None,
        "send_min_ms": round(s_sorted[0], 3) if s_sorted else None,
        "send_max_ms": round(s_sorted[-1], 3) if s_sorted else None,
        "send_first_ms": round(send_ms[0], 3) if send_ms else None,
        # latency drift as the mailbox / git archive grows
        "send_first10pct_mean_ms": round(_mean(send_ms[: max(1, len(send_ms) // 10)]), 3),
        "send_last10pct_mean_ms": round(_mean(send_ms[-max(1, len(send_ms) // 10):]), 3),
        "sends_per_s": round(args.n / send_wall_s, 2) if send_wall_s > 0 else None,
        "inbox_limit": args.inbox_limit,
        "inbox_iters": args.inbox_iters,
        "inbox_items": last_count,
        "inbox50_p50_ms": round(percentile(i_sorted, 50), 3),
        "inbox50_mean_ms": round(sum(inbox_ms) / len(inbox_ms), 3) if inbox_ms else None,
        "setup_s": round(setup_s, 3),
    }


def environment_info(workdir: Path) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
    }
    for dist in ("fastmcp", "mcp", "sqlalchemy", "aiosqlite", "gitpython"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        info["git"] = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        info["git"] = None
    repo = workdir / "archive"
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
        info["archive_git_commits"] = int(out) if out else None
    except (OSError, ValueError):
        info["archive_git_commits"] = None
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="messages to send (default 200)")
    ap.add_argument("--inbox-iters", type=int, default=20, help="inbox fetches to time (default 20)")
    ap.add_argument("--inbox-limit", type=int, default=50, help="inbox fetch limit (default 50)")
    ap.add_argument("--mode", choices=("client", "direct"), default="client")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (DB + git archive)")
    ap.add_argument("--show-stderr", action="store_true", help="do not redirect the peer's stderr")
    ap.add_argument("--tmp-parent", default=None, help="parent dir for the temp workdir (default: system temp)")
    args = ap.parse_args()

    if args.tmp_parent:
        Path(args.tmp_parent).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mcp-agent-mail-bench-", dir=args.tmp_parent))
    configure_environment(workdir)

    saved_fd2 = None
    if not args.show_stderr:
        sys.stderr.flush()
        saved_fd2 = os.dup(2)
        log_fd = os.open(workdir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log_fd, 2)
        os.close(log_fd)

    error: BaseException | None = None
    result: dict[str, Any] = {}
    try:
        load_before = os.getloadavg()[0]
        result = asyncio.run(run_bench(args))
        result["env"] = environment_info(workdir)
        # machine contention indicator (1-min load average before / after)
        result["env"]["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    except BaseException as exc:  # noqa: BLE001 - report after restoring stderr
        error = exc
    finally:
        if saved_fd2 is not None:
            sys.stderr.flush()
            os.dup2(saved_fd2, 2)
            os.close(saved_fd2)

    if error is not None:
        log = workdir / "stderr.log"
        if log.exists():
            tail = log.read_text(errors="replace")[-4000:]
            print(f"--- peer stderr (tail) ---\n{tail}", file=sys.stderr)
        print(f"benchmark failed: {type(error).__name__}: {error}", file=sys.stderr)
        print(f"workdir kept at {workdir}", file=sys.stderr)
        return 1

    if args.keep:
        result["workdir"] = str(workdir)
    else:
        os.chdir("/")
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
