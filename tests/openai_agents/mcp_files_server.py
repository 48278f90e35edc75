"""A tiny local MCP server for the adapter tests: ``python mcp_files_server.py LEDGER``.

Its one tool, ``delete_file(path)``, deletes nothing: it appends the call to the JSON-lines
`LEDGER` file (as the other test tools do), so a test can count what really ran. It speaks
MCP over stdio (`MCPServerStdio`), so no network is involved.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("files")


@server.tool()
def delete_file(path: str) -> str:
    """Delete the file at `path`."""
    with Path(sys.argv[1]).open("a") as ledger:
        ledger.write(json.dumps({"tool": "delete_file", "args": {"path": path}}) + "\n")
    return f"deleted {path}"


if __name__ == "__main__":
    server.run("stdio")
