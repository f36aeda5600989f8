"""Turning a natural-language query into index terms."""

from __future__ import annotations

import re

MAX_TERMS = 64
# Runs of letters and digits, as the FTS5 unicode61 tokenizer cuts words ("don't" -> "don", "t").
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that carry no topic: matching them would pull in nearly every message of a workspace. The usual English
# function words, plus the pieces contractions split into ("isn", "t", "ll") and a few fillers.
_STOP_WORD_TEXT = """
a about above after again against all am an and any are aren as at be because been before being below between
both but by can cannot could couldn did didn do does doesn doing don down during each few for from further had
hadn has hasn have haven having he her here hers herself him himself his how i if in into is isn it its itself
just let ll me more most my myself no nor not now of off on once only or other ought our ours ourselves out over
own re same shan she should shouldn so some such than that the their theirs them themselves then there these
they this those through to too under until up ve very was wasn we were weren what when where which while who
whom why will with won would wouldn you your yours yourself yourselves s t d m o y also ever else yet
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


def _content_words(text: str) -> list[str]:
    """Words of `text` in order and original case, without stop words and stray single letters."""
    return [w for w in _WORD.findall(text) if w.lower() not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def query_terms(text: str) -> list[str]:
    """Distinct lower-cased content words of `text` in order (PostgreSQL's english configuration drops the
    same kind of words, so both databases agree that a query of only stop words matches nothing)."""
    return list(dict.fromkeys(w.lower() for w in _content_words(text)))[:MAX_TERMS]


def keyword_text(text: str) -> str:
    """The query as a static embedding model should see it: content words only. An averaged-token model
    weighs every token alike, so "what", "did" and "?" would otherwise dilute the words that matter."""
    return " ".join(_content_words(text))
