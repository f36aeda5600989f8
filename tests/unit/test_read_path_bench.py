"""bench/read_path.py's pure parts: figures from the driver's JSON, ratios, goals, the table and profile summaries."""

from __future__ import annotations

import read_path as rp

METRIC = {m.key: m for m in rp.METRICS}

WORKLOAD = {
    "phases": {
        "session_search": {"latency_ms": {"p50": 4.5, "p95": 12.0}},
        "workspace_search": {"latency_ms": {"p50": 9.0, "p95": 20.0}},
        "context_full": {"latency_ms": {"p50": 3.2}},
        "messages_list": {"latency_ms": {"p50": 2.0}},
        "single_create": {"latency_ms": {"p50": 3.9, "p95": 9.0}},
        "bulk_ingest": {"messages_per_s": 12_000.0},
        "concurrent_create": {"throughput_rps": 390.0},
    },
    "server_rss_mb_before": {"rss": {"111": 95.0, "222": 40.0, "total": 135.0}},
    "server_rss_mb_after": {"rss": {"111": 210.0, "222": 60.0, "total": 270.0}},
}


def test_figures_pick_the_api_process_and_leave_missing_ones_empty() -> None:
    got = rp.figures(WORKLOAD, api_pid=111, cold_start_s=0.8)
    assert got["session_search_p50"] == 4.5 and got["session_search_p95"] == 12.0
    assert got["context_p50"] == 3.2 and got["writers_16"] == 390.0 and got["bulk_ingest"] == 12_000.0
    assert got["rss_idle"] == 95.0 and got["rss_after"] == 210.0  # the API's tree, not the postmaster's or the total
    assert got["cold_start"] == 0.8
    assert got["long_session_p50"] is None
    assert rp.figures({}, api_pid=None)["session_search_p50"] is None


def test_long_session_figures_come_from_their_own_run() -> None:
    long_run = {"phases": {"session_search": {"latency_ms": {"p50": 8.0, "p95": 15.0}}}}
    got = rp.figures({}, long_session=long_run)
    assert (got["long_session_p50"], got["long_session_p95"]) == (8.0, 15.0)


def test_ratio_is_ours_over_the_reference() -> None:
    assert rp.ratio(10.0, 20.0) == 0.5
    assert rp.ratio(None, 20.0) is None
    assert rp.ratio(10.0, None) is None


def test_goals_point_the_right_way_and_the_bound_itself_is_met() -> None:
    assert rp.goal_met(METRIC["session_search_p50"], 5.0) is True
    assert rp.goal_met(METRIC["session_search_p50"], 5.01) is False
    assert rp.goal_met(METRIC["bulk_ingest"], 10_000) is True
    assert rp.goal_met(METRIC["bulk_ingest"], 9_999) is False
    assert rp.goal_met(METRIC["single_create_p95"], 1.0) is None  # no goal
    assert rp.goal_met(METRIC["cold_start"], None) is None


def test_cells_say_value_ratio_and_verdict() -> None:
    assert rp.cell(METRIC["session_search_p50"], 13.65) == "13.7 (0.50x) **missed**"
    assert rp.cell(METRIC["writers_16"], 400.0) == "400 (10.99x) met"
    assert rp.cell(METRIC["single_create_p95"], 9.0) == "9.00 (0.09x)"
    assert rp.cell(METRIC["context_p50"], None) == "—"


def test_table_has_both_reference_columns_and_one_column_per_configuration() -> None:
    columns = {"ours A": rp.figures(WORKLOAD, api_pid=111, cold_start_s=0.8), "ours B": {}}
    table = rp.render_table(columns)
    lines = table.splitlines()
    assert lines[0] == ("| metric | goal | reference (from issue 15, not re-run): embeddings on "
                        "| reference: embeddings off | ours A | ours B |")
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 13  # the long-session rows only appear when measured
    assert "| session search p50 ms | ≤ 5 | 27.3 | 12.5 | 4.50 (0.16x) met | — |" in lines
    assert "| bulk ingest msg/s | ≥ 10,000 | 123 | 1,651 | 12,000 (97.56x) met | — |" in lines
    assert "| cold start to /health s | ≤ 1 | 1.98 | 1.86 | 0.80 (0.40x) met | — |" in lines


def test_table_names_the_long_session_size_when_it_was_measured() -> None:
    long_run = {"phases": {"session_search": {"latency_ms": {"p50": 12.0, "p95": 30.0}}}}
    table = rp.render_table({"ours": rp.figures({}, long_session=long_run)}, long_session_n=5000)
    assert "| session search p50 ms, one session of 5,000 msgs | ≤ 10 | — | — | 12.0 **missed** |" in table
    assert "bulk ingest" not in table  # rows nobody measured are left out


def test_profile_summary_charges_innermost_frames_to_packages_and_ours_inclusively() -> None:
    folded = [
        "main (honcho-server:8);search_session (honcho_server/api/routes/sessions.py:238);"
        "execute (sqlalchemy/engine/base.py:10) 30",
        "main (honcho-server:8);search_session (honcho_server/api/routes/sessions.py:238) 10",
        "main (honcho-server:8);Runner.run (asyncio/runners.py:118) 60",
        "not a stack line",
    ]
    text = rp.summarize_folded(folded, rate=1000, requests=10)
    assert text.startswith("samples: 100 (~10.00 ms sampled per request)")
    assert "  60.0%    6.00 ms/req  asyncio" in text
    assert "  30.0%    3.00 ms/req  sqlalchemy" in text
    assert "  40.0%    4.00 ms/req  search_session (honcho_server/api/routes/sessions.py:238)" in text
    assert rp.summarize_folded([]) == "no samples\n"


def test_frame_package() -> None:
    assert rp.frame_package("execute (sqlalchemy/engine/base.py:10)") == "sqlalchemy"
    assert rp.frame_package("<module> (honcho-server:8)") == "honcho-server"
