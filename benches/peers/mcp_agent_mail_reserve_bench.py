#!/usr/bin/env python3
"""Peer benchmark: file reservation latency of `mcp-agent-mail` with 1,000 live leases.

The side-by-side figure for `comm-node reserve` (benches/reserve.rs). Drives
the peer in-process through fastmcp's in-memory client, exactly like
mcp_agent_mail_bench.py (whose environment setup and driver it reuses):

1. a fresh DB and Git archive; one project and five agents;
2. `--live` leases (default 1000), one `file_reservation_paths` call each,
   spread over the agents, each on its own folder (`svc/<agent>/m<i>/**`),
   exclusive, TTL 2 h;
3. `--n` more (default 200) timed one by one, each on a new folder of the
   first agent (no conflicts, like the comm-node bench);
4. one overlapping exclusive request by another agent, to record what the
   peer does with a conflict (it grants the lease and reports the conflict).

Prints one JSON object: reserve_p50_ms, reserve_p90_ms, ..., and the
conflict probe's outcome.

Run (after installing the peer as described in mcp_agent_mail_bench.py):
    /tmp/peer-mcp/venv/bin/python benches/peers/mcp_agent_mail_reserve_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mcp_agent_mail_bench import (  # noqa: E402
    PROJECT_KEY,
    ClientDriver,
    configure_environment,
    percentile,
)

AGENTS = ("BlueLake", "GreenCastle", "RedStone", "WhiteMountain", "PurpleBear")
TTL = 7200


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from mcp_agent_mail.app import build_mcp_server

    server = build_mcp_server()
    async with ClientDriver(server) as drv:
        await drv.call("ensure_project", {"human_key": PROJECT_KEY})
        names = []
        for wanted in AGENTS:
            agent = await drv.call(
                "register_agent",
                {"project_key": PROJECT_KEY, "program": "bench", "model": "none", "name": wanted},
            )
            names.append(agent["name"])

        async def reserve(agent: str, path: str) -> dict[str, Any]:
            return await drv.call(
                "file_reservation_paths",
                {
                    "project_key": PROJECT_KEY,
                    "agent_name": agent,
                    "paths": [path],
                    "ttl_seconds": TTL,
                    "exclusive": True,
                },
            )

        t0 = time.perf_counter()
        for i in range(args.live):
            agent = names[i % len(names)]
            res = await reserve(agent, f"svc/{agent}/m{i}/**")
            if res["conflicts"] or len(res["granted"]) != 1:
                raise RuntimeError(f"setup lease {i}: {res!r}")
        setup_s = time.perf_counter() - t0

        times: list[float] = []
        for i in range(args.n):
            t = time.perf_counter()
            res = await reserve(names[0], f"svc/{names[0]}/bench/w{i}/**")
            times.append((time.perf_counter() - t) * 1000.0)
            if len(res["granted"]) != 1:
                raise RuntimeError(f"timed lease {i}: {res!r}")

        probe = await reserve(names[1], f"svc/{names[0]}/bench/w0/x.py")

    s = sorted(times)
    return {
        "peer": "mcp-agent-mail",
        "version": metadata.version("mcp-agent-mail"),
        "live_before": args.live,
        "n": args.n,
        "setup_s": round(setup_s, 1),
        "reserve_p50_ms": round(percentile(s, 50), 3),
        "reserve_p90_ms": round(percentile(s, 90), 3),
        "reserve_p99_ms": round(percentile(s, 99), 3),
        "reserve_min_ms": round(s[0], 3),
        "first10pct_mean_ms": round(sum(times[: max(1, len(times) // 10)]) / max(1, len(times) // 10), 3),
        "last10pct_mean_ms": round(sum(times[-max(1, len(times) // 10):]) / max(1, len(times) // 10), 3),
        "conflict_probe": {
            "granted": len(probe["granted"]),
            "conflicts": len(probe["conflicts"]),
        },
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--live", type=int, default=1000, help="live leases before timing (default 1000)")
    ap.add_argument("--n", type=int, default=200, help="leases to time (default 200)")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mcp-agent-mail-reserve-"))
    # The lease tools are only exposed in the peer's extended tool set.
    os.environ.setdefault("MCP_TOOLS_MODE", "extended")
    configure_environment(workdir)
    saved = os.dup(2)
    log = os.open(workdir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    try:
        result = asyncio.run(run_bench(args))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    os.chdir("/")
    shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
