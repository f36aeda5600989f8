"""A minimal chat loop with memory: every turn is stored through the honcho-ai SDK, and the model is given
`session.context()` (recent messages, summary, what the server knows about the user) instead of a local history.

    python examples/chat_loop.py                         # type lines; an empty line or Ctrl-D ends
    python examples/chat_loop.py --say "hi" --say "what do you remember about me?"

Settings (each flag falls back to its variable, then to the default):
    --honcho-url  HONCHO_URL       http://127.0.0.1:8000
                  HONCHO_API_KEY   (none: for a server with auth off)
    --model       OPENAI_MODEL     gpt-4o-mini
                  OPENAI_BASE_URL  https://api.openai.com/v1 (any OpenAI-compatible endpoint)
                  OPENAI_API_KEY   "none" (local endpoints ignore it)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

from honcho import Honcho
from openai import OpenAI

SYSTEM = ("You are a helpful assistant with a long-term memory of the user. The system messages below hold what "
          "you remember about them; the rest is the conversation so far.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--honcho-url", default=os.environ.get("HONCHO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--workspace", default="chat-loop-example")
    parser.add_argument("--session", default="chat-loop")
    parser.add_argument("--user", default="user", help="peer id of the person typing")
    parser.add_argument("--assistant", default="assistant", help="peer id of the model")
    parser.add_argument("--model", default=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
    parser.add_argument("--tokens", type=int, default=4000, help="token budget of the context")
    parser.add_argument("--say", action="append", default=[], help="a user turn (repeat; instead of typing)")
    parser.add_argument("--turns", type=int, default=None, help="stop after this many user turns")
    return parser.parse_args(argv)


def user_turns(args: argparse.Namespace) -> Iterator[str]:
    """The scripted turns, else lines typed on stdin (until an empty line or end of input)."""
    if args.say:
        yield from args.say
        return
    while True:
        try:
            line = input("you> " if sys.stdin.isatty() else "").strip()
        except EOFError:
            return
        if not line:
            return
        yield line


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    honcho = Honcho(base_url=args.honcho_url, workspace_id=args.workspace)  # HONCHO_API_KEY is read by the SDK
    model = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                   api_key=os.environ.get("OPENAI_API_KEY", "none"))
    user, assistant = honcho.peer(args.user), honcho.peer(args.assistant)
    session = honcho.session(args.session)
    for number, text in enumerate(user_turns(args), start=1):
        session.add_messages([user.message(text)])
        # What the server holds for this session, within the budget: the latest messages (this turn included), a
        # summary of older ones, and the user's representation and card (peer_target).
        context = session.context(tokens=args.tokens, peer_target=user.id, search_query=text)
        messages = [{"role": "system", "content": SYSTEM}, *context.to_openai(assistant=assistant)]
        answer = model.chat.completions.create(model=args.model, messages=messages)
        reply = answer.choices[0].message.content or ""
        session.add_messages([assistant.message(reply)])
        print(f"{args.assistant}> {reply}", flush=True)
        if args.turns is not None and number >= args.turns:
            break


if __name__ == "__main__":
    main()
