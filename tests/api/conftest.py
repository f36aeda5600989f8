"""The API suite imports its helpers by name (its clients, `client` and `auth_client`, are in tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The test modules import `api_helpers` from this directory (whatever pytest's import mode).
sys.path.insert(0, str(Path(__file__).parent))
