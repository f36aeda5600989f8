"""What gets embedded for a stored message, and what a query is embedded as."""

from __future__ import annotations

from honcho_server.store.repos.embeddings import SourceMessage


def embedding_text(message: SourceMessage, previous: SourceMessage | None = None) -> str:
    """The sender's name with the text: questions usually name who said something, and the name anchors
    the vector to that person ("Caroline: I went to a support group")."""
    del previous  # the recipe may use the turn being answered; it does not today
    return f"{message.peer_name}: {message.content}" if message.peer_name else message.content
