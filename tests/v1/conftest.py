"""Fixtures of the v1 suite (its in-process clients, `client` and `auth_client`, are in tests/conftest.py)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # v1_route_helpers, whatever pytest's import mode






@pytest.fixture
def app_name() -> str:
    """An app name no other test uses."""
    return f"app-{uuid.uuid4().hex[:12]}"
