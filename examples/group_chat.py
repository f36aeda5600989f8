"""A group chat of several peers, and what each of them knows of the others.

Three people (alice, bob, carol) talk in one session with an AI host. Each peer's session config says whose memory
is formed: `observe_others=True` makes a peer form its own view of the others from what it saw in the session;
`observe_me=False` keeps everyone (the server's own view included) from forming a view of that peer. The host
answers each line with the OpenAI-compatible model, given `session.context()` from its own perspective. Once the
server has reasoned over the chat, the script prints, for each peer, its representation of every other peer.

    python examples/group_chat.py                       # the built-in conversation
    python examples/group_chat.py --script chat.txt     # lines of "peer: text" (peers: alice, bob, carol)

Reasoning must be on in the server (HONCHO_LLM__*); with HONCHO_DERIVER__FLUSH_SECONDS=0 it reasons at once instead
of waiting for a batch to fill. Settings as in chat_loop.py: --honcho-url / HONCHO_URL, HONCHO_API_KEY,
--model / OPENAI_MODEL, OPENAI_BASE_URL, OPENAI_API_KEY.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from honcho import Honcho, Peer, Session
from honcho.api_types import SessionPeerConfig
from openai import OpenAI

# Who forms a view of whom, per peer of the session.
CONFIGS = {
    "alice": SessionPeerConfig(observe_others=True),  # alice forms her own view of the others
    "bob": SessionPeerConfig(),  # the defaults: others may know bob, bob keeps no view of them
    "carol": SessionPeerConfig(observe_others=True, observe_me=False),  # carol watches but stays unobserved
    "host": SessionPeerConfig(observe_others=True, observe_me=False),  # the AI learns about the people
}
CONVERSATION = [
    ("alice", "I have been learning to play the cello for two years now"),
    ("bob", "Nice, I play the violin in a community orchestra on Tuesdays"),
    ("carol", "I mostly listen to old jazz records at home on weekends"),
]
HOST_PROMPT = ("You host a friendly group chat. The system messages below hold what you remember about the person "
               "who just spoke; answer them in one or two sentences.")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--honcho-url", default=os.environ.get("HONCHO_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--workspace", default=f"group-chat-{int(time.time())}", help="default: a new one per run")
    parser.add_argument("--session", default="music-club")
    parser.add_argument("--model", default=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
    parser.add_argument("--script", type=Path, help='a file of "peer: text" lines instead of the built-in chat')
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the server's reasoning")
    return parser.parse_args(argv)


def conversation(script: Path | None) -> list[tuple[str, str]]:
    if script is None:
        return CONVERSATION
    lines = [line.partition(":") for line in script.read_text().splitlines() if line.strip()]
    turns = [(peer.strip(), text.strip()) for peer, _, text in lines]
    unknown = {peer for peer, _ in turns} - set(CONFIGS)
    if unknown:
        raise SystemExit(f"unknown peers in {script}: {', '.join(sorted(unknown))} (use {', '.join(CONFIGS)})")
    return turns


def host_reply(model: OpenAI, model_name: str, session: Session, host: Peer, speaker: Peer) -> str:
    """The host's answer, from what the host itself knows of the speaker (its perspective) and the chat so far."""
    context = session.context(tokens=2000, peer_target=speaker.id, peer_perspective=host.id)
    messages = [{"role": "system", "content": HOST_PROMPT}, *context.to_openai(assistant=host)]
    answer = model.chat.completions.create(model=model_name, messages=messages)
    return answer.choices[0].message.content or ""


def wait_for_reasoning(honcho: Honcho, session: Session, seconds: float) -> bool:
    """True once the server has done the work the chat queued (conclusions, summaries)."""
    deadline = time.monotonic() + seconds
    while True:
        status = honcho.queue_status(session=session)
        if status.pending_work_units == 0 and status.in_progress_work_units == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def print_what_each_knows(peers: dict[str, Peer]) -> None:
    for observer_id, observer in peers.items():
        config = CONFIGS[observer_id]
        flags = f"observe_others={bool(config.observe_others)}, observe_me={config.observe_me is not False}"
        print(f"\n{observer_id} ({flags}) knows:")
        for observed_id in peers:
            if observed_id == observer_id:
                continue
            known = observer.representation(target=observed_id).strip()
            lines = [line for line in known.splitlines() if line and not line.startswith("#")]
            print(f"  of {observed_id}: " + ("; ".join(lines) if lines else "nothing"))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    honcho = Honcho(base_url=args.honcho_url, workspace_id=args.workspace)  # HONCHO_API_KEY is read by the SDK
    model = OpenAI(base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                   api_key=os.environ.get("OPENAI_API_KEY", "none"))
    peers = {peer_id: honcho.peer(peer_id) for peer_id in CONFIGS}
    session = honcho.session(args.session)
    session.add_peers([(peers[peer_id], config) for peer_id, config in CONFIGS.items()])
    print(f"workspace {args.workspace}, session {args.session}")
    host = peers["host"]
    for speaker_id, text in conversation(args.script):
        speaker = peers[speaker_id]
        session.add_messages([speaker.message(text)])
        print(f"{speaker_id}: {text}")
        reply = host_reply(model, args.model, session, host, speaker)
        session.add_messages([host.message(reply)])
        print(f"host: {reply}", flush=True)
    if not wait_for_reasoning(honcho, session, args.wait):
        print(f"\n(the server has not reasoned over the chat within {args.wait:g} s: is reasoning on? Small batches "
              "wait for more messages unless the server runs with HONCHO_DERIVER__FLUSH_SECONDS=0)")
    print_what_each_knows(peers)


if __name__ == "__main__":
    main()
