"""`python bench/run.py chat`: the fake chat agent's turns, and a short end-to-end run of the command on a small
LoCoMo-shaped conversation (memory derived by the worker, then streamed chats at every level)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from honcho_bench import fake_dialectic
from honcho_bench.cli import bench_app
from honcho_bench.fake_llm import FakeLLM, stream_events

FACT = "- id:AAAAAAAAAAAAAAAAAAAAA | explicit | learned 2023-05-08 13:56 | session s1 | Ann adopted a dog [messages: " \
       "BBBBBBBBBBBBBBBBBBBBB]"
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("search_conclusions", "search_messages", "reasoning_chain", "read_messages", "answer")]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HONCHO_") and not name.startswith("HONCHO_TEST_"):
            monkeypatch.delenv(name)


def _body(*history: dict, tools: list | None = None) -> dict:
    return {"model": "m", "tools": TOOLS if tools is None else tools, "max_tokens": 300, "messages": [
        {"role": "system", "content": "You answer an application's questions"},
        {"role": "user", "content": f"Conclusions closest to the question:\n{FACT}\n\nQuestion: Did Ann get a pet?"},
        *history]}


def _calls(message: dict) -> list[tuple[str, dict]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]]


def test_the_fake_agent_searches_follows_the_chain_then_answers_from_what_it_saw() -> None:
    first, _ = fake_dialectic.turn(_body(), [t["function"]["name"] for t in TOOLS], None)
    assert _calls(first) == [("search_conclusions", {"query": "Did Ann get a pet?"}),
                             ("search_messages", {"query": "Did Ann get a pet?"})]
    history = [first, {"role": "tool", "tool_call_id": "x", "content": f"Conclusions:\n{FACT}"}]
    second, _ = fake_dialectic.turn(_body(*history), [t["function"]["name"] for t in TOOLS], None)
    assert _calls(second) == [("reasoning_chain", {"conclusion_id": "A" * 21}),
                              ("read_messages", {"message_ids": ["B" * 21]})]
    done, text = fake_dialectic.turn(_body(*history), ["answer"], None)  # tools no longer offered: answer
    assert _calls(done) == [("answer", {"answer": "Based on memory: Ann adopted a dog"})]
    assert json.loads(text) == {"answer": "Based on memory: Ann adopted a dog"}
    stopped, _ = fake_dialectic.turn(_body(*history), [t["function"]["name"] for t in TOOLS], 1)
    assert _calls(stopped)[0][0] == "answer"  # --turns 1: one tool turn, then the answer


def test_the_fake_streams_and_bills_the_whole_history() -> None:
    with FakeLLM() as fake:
        completion = fake.complete(_body())
    events = stream_events(completion, piece=4)
    assert events[-1] == "[DONE]" and json.loads(events[-2])["usage"] == completion["usage"]
    arguments = "".join(json.loads(e)["choices"][0]["delta"].get("tool_calls", [{}])[0].get("function", {})
                        .get("arguments", "") for e in events[1:-2])
    assert arguments == "".join(c["function"]["arguments"] for c in completion["choices"][0]["message"]["tool_calls"])
    assert fake.usage["dialectic"].requests == 1


def _locomo(path: Path) -> Path:
    conversation: dict = {"speaker_a": "Ann", "speaker_b": "Bob"}
    for s in (1, 2):
        conversation[f"session_{s}_date_time"] = f"1:15 pm on {s * 7} May, 2023"
        conversation[f"session_{s}"] = [
            {"speaker": "Ann" if t % 2 == 0 else "Bob", "dia_id": f"D{s}:{t + 1}",
             "text": f"On day {s}{t} I went hiking near the river with my sister and the dog number {t}"}
            for t in range(10)]
    qa = [{"question": "Where did Ann go hiking?", "answer": "river", "evidence": ["D1:1"], "category": 4},
          {"question": "Who came with Ann?", "answer": "her sister", "evidence": ["D2:3"], "category": 4}]
    file = path / "locomo10.json"
    file.write_text(json.dumps([{"sample_id": "conv-test", "conversation": conversation, "qa": qa}]))
    return file


def test_chat_command_reports_every_level(tmp_path: Path) -> None:
    result = CliRunner().invoke(bench_app, ["chat", str(_locomo(tmp_path)), "--questions", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert (report["conversation_id"], report["messages"], report["sessions"]) == ("conv-test", 20, 2)
    assert report["conclusions"] == 20 and len(report["questions"]) == 2 and report["notes"]
    levels = report["levels"]
    assert [row["level"] for row in levels] == ["minimal", "low", "medium", "high", "max"]
    for row in levels:
        assert row["chats"] == 2
        assert row["tool_rounds"] == row["tool_turns_allowed"]  # the diligent fake uses every turn allowed
        assert row["requests"] == row["tool_turns_allowed"] + 1  # and answers once: never twice
        assert 0 < row["first_delta_ms_p50"] <= row["wall_ms_p50"]
    inputs = [row["input_tokens"] for row in levels]
    assert inputs == sorted(inputs) and inputs[0] > 0

    capped = CliRunner().invoke(bench_app, ["chat", str(_locomo(tmp_path)), "--questions", "1", "--turns", "1"],
                                env={"COLUMNS": "200"})
    assert capped.exit_code == 0, capped.output
    cells = [line.replace("│", " ").split() for line in capped.stdout.splitlines()]
    rows = {row[0]: row for row in cells if row[:1] and row[0] in ("minimal", "low", "max")}
    assert rows["minimal"][1:5] == ["1", "300", "10", "1"]  # allowed, output cap, read-ahead, turns taken
    assert rows["max"][1:5] == ["12", "8,000", "40", "1"]  # --turns 1: the fake stops after one turn
