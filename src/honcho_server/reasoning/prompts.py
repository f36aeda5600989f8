"""The fixed text of every prompt that writes derived memory: one digest of it (part of a generation's
fingerprint, so two generations derived with different wording never look alike), and its size in tokens (what a
rederive's estimate adds to each call)."""

from __future__ import annotations

import hashlib
import json
from functools import cache

from honcho_server.domain.generations import PromptOverhead
from honcho_server.domain.tokens import count_tokens
from honcho_server.reasoning import deriver, dreams, summaries


@cache
def digest() -> str:
    texts = [deriver.INSTRUCTIONS, dreams.INSTRUCTIONS, dreams.CARD_INSTRUCTIONS,
             json.dumps(summaries.INSTRUCTIONS, sort_keys=True), json.dumps(summaries.WORDS, sort_keys=True)]
    return hashlib.sha256("\n\0\n".join(texts).encode()).hexdigest()


@cache
def overhead() -> PromptOverhead:
    """Tokens each call sends besides the conversation or conclusions it carries: the instructions and the prompt's
    own headings, rendered with nothing in them. Per-line prefixes (numbers, times, names) and custom instructions
    vary with the content: the estimate adds those itself."""
    derive = count_tokens(deriver.INSTRUCTIONS) + count_tokens(deriver.render_prompt("", [], None))
    # The long kind's instructions, the longer of the two: an estimate should not come out short.
    summary = (count_tokens(summaries.INSTRUCTIONS["long"].format(words=summaries.WORDS["long"]))
               + count_tokens(summaries.render_prompt(None, [])))
    # A rederive's dream may be a full consolidation or a card refresh: both sets of instructions are counted
    # (placeholders unformatted: they stand for the two peer names).
    dream = (count_tokens(dreams.INSTRUCTIONS) + count_tokens(dreams.CARD_INSTRUCTIONS)
             + count_tokens(dreams.render_prompt([], None)))
    return PromptOverhead(deriver=derive, summary=summary, dream=dream)
