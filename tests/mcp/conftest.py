"""The MCP suite's modules import `mcp_helpers` from this directory (whatever pytest's import mode). This folder
has no __init__.py on purpose: as a namespace portion it can never shadow the `mcp` SDK package."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
