"""The README's webhook verification snippet works: run as written against a signature the server makes."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from honcho_server.domain import webhooks as events

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> Any:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (code,) = [b for b in blocks if "def verify(secret" in b]
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # our own documentation
    return scope["verify"]


def test_the_readme_snippet_verifies_what_the_server_signs() -> None:
    verify = _snippet()
    secret, body, stamp = events.new_secret(), '{"data":{},"timestamp":"x","type":"test.event"}', int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": events.signature(secret, "msg_1", stamp, body)}
    assert verify(secret, headers, body.encode())
    assert not verify(secret, headers, body.encode() + b" ")
    assert not verify(events.new_secret(), headers, body.encode())
    old = {**headers, "webhook-timestamp": str(stamp - 600),
           "webhook-signature": events.signature(secret, "msg_1", stamp - 600, body)}
    assert not verify(secret, old, body.encode())
