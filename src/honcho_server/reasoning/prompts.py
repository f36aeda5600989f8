"""The text of every prompt that writes derived memory, as one digest: part of a generation's fingerprint, so two
generations derived with different wording never look alike."""

from __future__ import annotations

import hashlib
import json
from functools import cache

from honcho_server.reasoning import deriver, dreams, summaries


@cache
def digest() -> str:
    texts = [deriver.INSTRUCTIONS, dreams.INSTRUCTIONS, dreams.CARD_INSTRUCTIONS,
             json.dumps(summaries.INSTRUCTIONS, sort_keys=True), json.dumps(summaries.WORDS, sort_keys=True)]
    return hashlib.sha256("\n\0\n".join(texts).encode()).hexdigest()
