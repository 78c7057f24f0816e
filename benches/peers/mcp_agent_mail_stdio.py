#!/usr/bin/env python3
"""mcp-agent-mail (PyPI, 0.1.0) served over stdio, for benches/mcp.rs.

Usage: mcp_agent_mail_stdio.py WORKDIR
  Points the peer at a fresh database and archive under WORKDIR (the same
  settings as mcp_agent_mail_bench.py) and serves its FastMCP server on
  stdin/stdout until stdin closes: the way an agent's MCP client runs it.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mcp_agent_mail_bench import configure_environment  # noqa: E402

workdir = Path(sys.argv[1])
workdir.mkdir(parents=True, exist_ok=True)
configure_environment(workdir)

from mcp_agent_mail.app import build_mcp_server  # noqa: E402

server = build_mcp_server()
try:
    server.run(transport="stdio", show_banner=False)
except TypeError:  # a FastMCP without show_banner
    server.run(transport="stdio")
