"""`python bench/run.py cost`: the recording fake model's answers and accounting, and a short end-to-end run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from honcho_bench.cli import bench_app
from honcho_bench.fake_llm import FakeLLM, conclusions, summary
from honcho_server.domain.tokens import count_tokens
from honcho_server.reasoning import deriver, summaries


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HONCHO_") and not name.startswith("HONCHO_TEST_"):
            monkeypatch.delenv(name)


WORDS = ["garden", "tomatoes", "cello", "lesson", "weekend", "hiking", "sister", "Porto", "painting", "museum",
         "recipe", "marathon", "puppy", "library", "concert", "camping", "guitar", "bakery", "river", "friends",
         "school", "project", "trip", "photos"]


def _text(s: int, t: int) -> str:
    words = (WORDS[(s * 7 + t * 3 + k) % len(WORDS)] for k in range(60 + (t * 13) % 81))
    return f"On day {s * 100 + t} I " + " ".join(words)


def _locomo(path: Path, sessions: int = 3, turns: int = 24) -> Path:
    """A LoCoMo-shaped file: two speakers alternating, messages of 60-140 words (each with its own number, so no
    two facts are the same), sessions a week apart."""
    conversation: dict = {"speaker_a": "Ann", "speaker_b": "Bob"}
    for s in range(1, sessions + 1):
        conversation[f"session_{s}_date_time"] = f"{1 + s}:15 pm on {s * 7} May, 2023"
        conversation[f"session_{s}"] = [
            {"speaker": "Ann" if t % 2 == 0 else "Bob", "dia_id": f"D{s}:{t + 1}",
             "text": _text(s, t)}
            for t in range(turns)]
    file = path / "locomo10.json"
    file.write_text(json.dumps([{"sample_id": "conv-test", "conversation": conversation, "qa": []}]))
    return file


def test_fake_answers_one_short_cited_fact_per_long_target_message() -> None:
    prompt = ("Target peer: ann\n\nMessages (numbered; timestamps are when each was sent, UTC):\n"
              "[1] 2023-05-08 13:56 bob: How was your weekend with the family?\n"
              "[2] 2023-05-08 13:57 ann: I went hiking yesterday with my sister Joan near Porto and it rained a lot\n"
              "[3] 2023-05-08 13:58 ann: Thanks a lot\n"
              "[4] 2023-05-08 13:59 ann: My cello teacher says I should practise every single morning")
    facts = conclusions(prompt)
    assert [f["sources"] for f in facts] == [[2], [4]]
    assert facts[0]["content"].startswith("ann said on 2023-05-08 that I went hiking")
    assert all(10 <= count_tokens(f["content"]) <= 25 for f in facts)


def test_fake_summary_uses_most_of_the_word_limit_capped_by_the_material() -> None:
    lines = "\n".join(f"[2023-05-08 13:{i:02d}] ann: " + "word " * 30 for i in range(20))
    assert len(summary("There is no previous summary.\n\nNew messages:\n" + lines, 250).split()) == 200
    assert len(summary("Previous summary:\nAnn likes tea.\n\nNew messages:\n[2023-05-08 13:00] ann: hi there",
                       250).split()) == 5


def test_fake_bills_every_token_sent_and_answered() -> None:
    system = summaries.INSTRUCTIONS["short"].format(words=250)
    user = ("There is no previous summary.\n\nNew messages:\n"
            "[2023-05-08 13:00] ann: I adopted a greyhound called Biscuit")
    tools = [{"type": "function", "function": {"name": "final_result", "parameters": {"type": "object"}}}]
    with FakeLLM() as fake:
        answer = fake.complete({"model": "m", "messages": [{"role": "system", "content": system},
                                                           {"role": "user", "content": user}]})
        structured = fake.complete({"model": "m", "tools": tools, "messages": [
            {"role": "system", "content": deriver.INSTRUCTIONS},
            {"role": "user", "content": "Target peer: ann\n\n[1] 2023-05-08 13:00 ann: I adopted a greyhound "
                                        "called Biscuit"}]})
    text = answer["choices"][0]["message"]["content"]
    assert text == "I adopted a greyhound called Biscuit"
    assert answer["usage"] == {"prompt_tokens": count_tokens(system) + count_tokens(user),
                               "completion_tokens": count_tokens(text),
                               "total_tokens": count_tokens(system) + count_tokens(user) + count_tokens(text)}
    call = structured["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "final_result"
    assert json.loads(call["arguments"])["conclusions"][0]["sources"] == [1]
    assert structured["usage"]["prompt_tokens"] > count_tokens(deriver.INSTRUCTIONS) + count_tokens(json.dumps(tools))
    assert {k: (u.requests, u.completion_tokens) for k, u in fake.usage.items()} == {
        "summary": (1, count_tokens(text)), "deriver": (1, structured["usage"]["completion_tokens"])}


def test_cost_command_reports_both_batching_policies(tmp_path: Path) -> None:
    # Long messages and the same age flush on both sides: the comparison is about the token gate and the window
    # size (the reference's 512-token gate and 1,024-token windows cut more, smaller calls).
    result = CliRunner().invoke(bench_app, ["cost", str(_locomo(tmp_path)), "--messages", "40", "--json",
                                            "--reference-flush-seconds", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert (report["dataset"], report["conversation_id"], report["messages"], report["sessions"]) == (
        "locomo", "conv-test", 40, 2)
    assert report["notes"] and set(report["ratio"]) == {"input_tokens", "output_tokens", "calls"}
    ours, reference = report["configurations"]
    assert (ours["name"], reference["name"]) == ("ours", "reference")
    assert (reference["batch_tokens"], reference["max_input_tokens"]) == (512, 1024)
    for config in (ours, reference):
        assert config["messages"] == 40 and config["conversation_tokens"] == report["conversation_tokens"]
        assert set(config["tasks"]) == {"deriver", "summary"}
        assert set(config["per_100_messages"]) == {"input_tokens", "output_tokens", "calls"}
        assert all(states == {"done": sum(states.values())} for states in config["jobs"].values())
        assert config["tasks"]["deriver"]["calls"] > 0 and config["tasks"]["deriver"]["output_tokens"] > 0
        assert config["tasks"]["summary"]["calls"] == 1  # one session reached 20 messages in the first 40
        assert config["conclusions"] == 40  # every message has 5+ words: one fact each, nothing lost
    assert ours["tasks"]["summary"] == reference["tasks"]["summary"]  # same cadence, same prompts
    assert ours["tasks"]["deriver"]["input_tokens"] <= reference["tasks"]["deriver"]["input_tokens"]
    assert ours["tasks"]["deriver"]["calls"] <= reference["tasks"]["deriver"]["calls"]
    assert report["ratio"]["input_tokens"] <= 1
