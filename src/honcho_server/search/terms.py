"""Turning a natural-language query into index terms."""

from __future__ import annotations

import re

MAX_TERMS = 64
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no topic: matching them would pull in nearly every message of a workspace.
_STOP_WORD_TEXT = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased content words of `text` in order (PostgreSQL's english configuration drops the
    same kind of words, so both databases agree that a query of only stop words matches nothing)."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return [w for w in words if w not in STOP_WORDS][:MAX_TERMS]
