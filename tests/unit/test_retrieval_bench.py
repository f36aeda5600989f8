"""`python bench/run.py retrieval`: dataset loaders, recall arithmetic, and end-to-end runs on tiny datasets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from honcho_bench import retrieval_bench as rb
from honcho_bench.cli import bench_app, bench_settings
from honcho_server.domain.documents import DEFAULT_MAX_CHARS
from support import fresh_database_url


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HONCHO_") and not name.startswith("HONCHO_TEST_"):
            monkeypatch.delenv(name)


def _turn(dia_id: str, speaker: str, text: str, **extra: str) -> dict:
    return {"speaker": speaker, "dia_id": dia_id, "text": text, **extra}


LOCOMO = [{
    "sample_id": "conv-1",
    "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bob Lee",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            _turn("D1:1", "Ann", "I adopted a greyhound called Biscuit last weekend."),
            _turn("D1:2", "Bob Lee", "Lovely! Here is my garden.", blip_caption="a photo of tulips"),
            _turn("D1:3", "Ann", "Your tulips look wonderful."),
        ],
        "session_2_date_time": "not a date",
        "session_2": [
            _turn("D2:1", "Bob Lee", "I started learning the cello in March."),
            _turn("D2:2", "Ann", "Biscuit chewed my violin case."),
        ],
    },
    "qa": [
        {"question": "What is the name of Ann's greyhound?", "evidence": ["D1:1"], "category": 4},
        {"question": "Which instrument is Bob learning, and what is in his garden?", "evidence": ["D2:01; D:1:2"],
         "category": 1},
        {"question": "Who adopted a greyhound?", "evidence": ["D1:1", "D9:9"], "category": 2},
        {"question": "What flowers grow in Bob's garden?", "evidence": ["D1:2"], "category": 3},
        {"question": "Nothing known", "evidence": ["D7:7"], "category": 4},
        {"question": "What did Ann say about tulips?", "evidence": ["D1:3"], "category": 5},
    ],
}]


def _beam_folder(root: Path, number: int, chat: list, probing: dict) -> None:
    folder = root / str(number)
    (folder / "probing_questions").mkdir(parents=True)
    (folder / "chat.json").write_text(json.dumps(chat))
    (folder / "probing_questions" / "probing_questions.json").write_text(json.dumps(probing))


def _beam(root: Path) -> Path:
    chat = [
        {"batch_number": 1, "time_anchor": None, "turns": [[
            {"role": "user", "id": 0, "content": "My budget tracker uses Flask and PostgreSQL ->-> 1,1"},
            {"role": "assistant", "id": 1, "content": "Flask with PostgreSQL is a solid choice."},
        ]]},
        {"batch_number": 2, "time_anchor": None, "turns": [[
            {"role": "user", "id": 2, "content": "I moved the deadline to April 30 ->-> 2,1"},
            {"role": "assistant", "id": 3, "content": "Noted, the new deadline is April 30."},
        ]]},
    ]
    probing = {
        "information_extraction": [{"question": "Which web framework does the budget tracker use?",
                                    "source_chat_ids": [0, 1]}],
        "knowledge_update": [{"question": "When is the deadline now?",
                              "source_chat_ids": {"original_info": [], "updated_info": [2, 99]}}],
        "abstention": [{"question": "What is my cat called?", "source_chat_ids": []}],
        "summarization": [{"question": "Summarise", "source_chat_ids": None}],
    }
    _beam_folder(root, 10, chat, probing)
    _beam_folder(root, 2, chat, {})
    return root


def test_locomo_loader(tmp_path: Path) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps(LOCOMO))
    [conv] = rb.load_dataset("locomo", tmp_path)
    assert conv.id == "conv-1" and [t.id for t in conv.turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert conv.turns[1].text == "Lovely! Here is my garden. [image: a photo of tulips]"
    assert conv.turns[0].created_at == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert conv.turns[2].created_at == datetime(2023, 5, 8, 13, 57, tzinfo=UTC)
    assert conv.turns[3].session == "session_2" and conv.turns[3].created_at.tzinfo is UTC  # synthetic date
    assert [(q.evidence, q.category) for q in conv.questions] == [
        (["D1:1"], "4"), (["D2:1", "D1:2"], "1"), (["D1:1"], "2"), (["D1:2"], "3")]  # no D7:7, no category 5
    assert rb.load_locomo(path, categories=(5,))[0].questions[0].evidence == ["D1:3"]


def test_locomo_malformed_ids() -> None:
    assert rb.locomo_ids("D8:6; D9:17") == ["D8:6", "D9:17"]
    assert rb.locomo_ids("D:11:26") == ["D11:26"]
    assert rb.locomo_ids("D30:05") == ["D30:5"]
    assert rb.parse_locomo_date("10:04 am on 19 December, 2023") == datetime(2023, 12, 19, 10, 4, tzinfo=UTC)
    assert rb.parse_locomo_date(None) is None


def test_beam_loader(tmp_path: Path) -> None:
    convs = rb.load_dataset("beam", _beam(tmp_path))
    assert [c.id for c in convs] == ["beam-2", "beam-10"]  # numeric order
    conv = convs[1]
    assert conv.turns[0].text == "My budget tracker uses Flask and PostgreSQL"
    assert [t.session for t in conv.turns] == ["batch_1", "batch_1", "batch_2", "batch_2"]
    assert [t.speaker for t in conv.turns[:2]] == ["user", "assistant"]
    assert conv.turns[0].created_at < conv.turns[1].created_at < conv.turns[3].created_at
    assert [(q.category, q.evidence) for q in conv.questions] == [
        ("information_extraction", ["0", "1"]), ("knowledge_update", ["2"])]  # no abstention, no empty ids
    assert rb.load_beam(tmp_path / "10" / "chat.json")[0].id == "beam-10"  # a single chat by its file


def test_beam_helpers() -> None:
    assert rb.strip_marker("Hello there ->-> 3,12") == "Hello there"
    assert rb.strip_marker("Keep -> arrows") == "Keep -> arrows"
    assert list(rb.flatten_ids({"a": [1, [2, None]], "b": 3})) == ["1", "2", "3"]


def test_recall_arithmetic() -> None:
    assert rb.recall_at(["a", "b"], ["x", "a", None, "b"], 2) == 0.5
    assert rb.recall_at(["a", "b"], ["x", "a", None, "b"], 5) == 1.0
    assert rb.recall_at(["a"], ["a", "a"], 1) == 1.0
    outcomes = [rb.Outcome("1", {5: 1.0, 10: 1.0, 20: 1.0}, 0.01), rb.Outcome("2", {5: 0.0, 10: 0.5, 20: 1.0}, 0.03)]
    assert rb.mean_recall(outcomes) == {"recall@5": 0.5, "recall@10": 0.75, "recall@20": 1.0}
    assert rb.by_category(outcomes)["2"] == {"questions": 1, "recall@5": 0.0, "recall@10": 0.5, "recall@20": 1.0}
    assert rb.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert rb.percentile(list(range(1, 101)), 0.95) == 95
    assert rb.percentile([], 0.5) == 0.0


def test_long_turns_become_several_messages_with_the_same_id() -> None:
    turn = rb.Turn("7", "user", "word " * (DEFAULT_MAX_CHARS * 3 // 10), "batch_1", rb.SYNTHETIC_START)
    batch = rb.new_messages([turn, rb.Turn("8", "Bob Lee", "hi", "batch_1", rb.SYNTHETIC_START)])
    assert len(batch) == 3 and all(len(m.content) <= DEFAULT_MAX_CHARS for m in batch)
    assert [m.metadata["bench_id"] for m in batch] == ["7", "7", "8"] and batch[2].peer_name == "Bob-Lee"


def test_settings_override_the_embedder_and_switch_reasoning_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONCHO_EMBEDDING__MODEL", "minilm")
    settings = bench_settings("sqlite:///x.db", provider="hash", dimensions=64)
    assert (settings.embedding.provider, settings.embedding.model, settings.embedding.dimensions) == ("hash", None, 64)
    assert not settings.defaults.reasoning_enabled and not settings.defaults.summary_enabled
    assert bench_settings("sqlite:///x.db").embedding.model == "minilm"
    with pytest.raises(ValueError):
        bench_settings("sqlite:///x.db", provider="nope")


async def test_run_finds_the_evidence(backend: str, tmp_path: Path) -> None:
    """Ingest through the message service, drain the worker, ask through workspace search."""
    (tmp_path / "locomo10.json").write_text(json.dumps(LOCOMO))
    url = fresh_database_url(backend, tmp_path)
    convs = rb.load_dataset("locomo", tmp_path)
    report = await rb.run(bench_settings(url, provider="hash"), "locomo", convs)
    assert (report.conversations, report.messages, report.stored_messages, report.questions) == (1, 5, 5, 4)
    assert report.recall == {"recall@5": 1.0, "recall@10": 1.0, "recall@20": 1.0}
    assert report.embedder.startswith("hash") and report.latency_p95_ms >= report.latency_p50_ms > 0
    assert set(report.jobs) == {"embed"}  # reasoning and summaries are off for benchmark runs
    assert report.jobs["embed"] == {"done": report.jobs_run} and report.jobs_run == 2  # one per session


def test_command_prints_json(tmp_path: Path) -> None:
    data = _beam(tmp_path / "beam")
    result = CliRunner().invoke(bench_app, ["retrieval", "--dataset", "beam", str(data), "--provider", "hash",
                                            "--limit-conversations", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["dataset"], report["conversations"], report["messages"], report["questions"]) == ("beam", 1, 4, 0)
    result = CliRunner().invoke(bench_app, ["retrieval", "--dataset", "beam", str(data), "--provider", "hash"])
    assert result.exit_code == 0, result.output
    assert "recall@5" in result.stdout and "information_extraction" in result.stdout


def test_command_reports_a_missing_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(bench_app, ["retrieval", "--dataset", "locomo", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "does not exist" in result.output
