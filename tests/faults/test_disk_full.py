"""A full disk under load (issue 13, 1): a real server (API and worker) on an SQLite database in a small tmpfs,
keep-alive clients writing and reading, the filesystem filled up and then freed.

While full, writes are answered 503 with Retry-After and a detail naming "disk full" (never 500, no connection
reset), /health stays 200; once space is freed, writes succeed again without a restart, and every acknowledged
message is stored. Needs root for `mount -t tmpfs` (CI runs as root); skipped otherwise. Bounded, nothing timed."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import time
from pathlib import Path

import pytest
from live import Load, fill, serve, small_filesystem, stored_contents, summary, wait_until

from honcho_server.store.migrate import upgrade

SIZE = "6m"  # the schema and a first stretch of messages fit; the filler takes the rest


def test_sqlite_disk_full_under_load(tmp_path: Path) -> None:
    with small_filesystem(SIZE) as disk:
        database = disk / "honcho.db"
        url = f"sqlite:///{database}"
        upgrade(url)
        with serve(url, tmp_path) as base:
            load = Load(base, "faults-disk", content_bytes=2000).start()
            wait_until(lambda: sum(map(len, load.acknowledged.values())) >= 10, "writes before the disk is full")

            filler = disk / "filler"
            fill(filler)
            full = time.monotonic()
            with pytest.raises(OSError) as raised:  # really full
                (disk / "probe").write_bytes(b"x" * 65536)
            assert raised.value.errno == errno.ENOSPC
            wait_until(lambda: len([a for a in load.since(full) if a.what == "write" and a.status == 503]) >= 5,
                       "writes refused for the full disk")
            freeing = time.monotonic()
            filler.unlink()
            (disk / "probe").unlink(missing_ok=True)
            freed = time.monotonic()

            back = load.wait_for_writes_after(freed)
            load.stop()

            everything = load.answers
            assert not [a for a in everything if a.status is None], "connections reset or refused: " + str(
                [a.error for a in everything if a.status is None][:5])
            assert not [a for a in everything if a.status == 500], summary(everything)
            refused = [a for a in everything if a.status == 503]
            assert refused and all(a.retry_after and "disk full" in a.detail for a in refused), {
                a.detail for a in refused}
            while_full = load.since(full, freeing)
            assert all(a.status == 200 for a in while_full if a.what == "health"), summary(while_full)
            assert all(a.status in (200, 201, 503) for a in while_full), summary(while_full)
            after = load.since(back)
            assert all(a.status in (200, 201) for a in after if a.what in ("write", "read", "health")), summary(after)

            for session, acknowledged in load.acknowledged.items():
                stored = stored_contents(base, "faults-disk", session)
                assert set(acknowledged) <= set(stored), f"{session}: lost {len(set(acknowledged) - set(stored))}"
        # And on disk, read by a fresh connection once the server is gone.
        with contextlib.closing(sqlite3.connect(database)) as db:
            count = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        assert count >= sum(map(len, load.acknowledged.values()))
