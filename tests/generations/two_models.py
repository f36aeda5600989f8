"""One loopback OpenAI-compatible server playing two models that answer the same conversation differently,
chosen by each request's `model`: "model-a" and "model-b" (the tests of issue 16 tell their memories apart by
the words each puts in what it concludes, summarises and writes on cards)."""

from __future__ import annotations

import json
import re
from typing import Any

LINE = re.compile(r"^\[(\d+)\] \d{4}-\d\d-\d\d \d\d:\d\d ([\w-]+): (.*)$", re.MULTILINE)
VOICE = {"model-a": "A heard", "model-b": "B heard"}


def answer(body: dict[str, Any]) -> Any:
    """The deriver gets one conclusion per message of its target (and a card entry), worded by the model; a
    summary is the model's own line."""
    voice = VOICE[body["model"]]
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    target = re.search(r"Target peer: (\S+)", prompt)
    if target is None:
        return f"{voice} a summary of {prompt.count(chr(10))} lines."
    found = [{"content": f"{voice} {target.group(1)}: {content}", "sources": [int(number)]}
             for number, peer, content in LINE.findall(prompt) if peer == target.group(1)]
    return json.dumps({"conclusions": found, "card": [f"ATTRIBUTE: {voice} {target.group(1)}"] if found else []})
