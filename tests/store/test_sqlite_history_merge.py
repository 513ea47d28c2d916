"""SQLite history in two tables: new points in `history_recent`, moved to `history` in key-order
slices. Whatever the moves did, reads must see each point once, with its last written value.

The thresholds are made tiny so that moves, sweeps that wrap around and points written again
across the two tables all happen within a few writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinforge.store import HistoryPoint
from twinforge.store.sqlite import SQLiteStore

SERIES = [("a", "", "x"), ("a", "motor", "x"), ("b", "", "x"), ("b", "", "y"), ("c", "", "x")]
BUCKET = 10


def tiny(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.recent_rows, store.slice_rows = 6, 2
    return store


def counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        recent = conn.execute("SELECT count(*) FROM history_recent").fetchone()[0]
        merged = conn.execute("SELECT count(*) FROM history").fetchone()[0]
    return int(recent), int(merged)


writes = st.lists(st.lists(st.tuples(st.integers(0, len(SERIES) - 1), st.integers(0, 40), st.integers(-50, 50)),
                           min_size=0, max_size=12), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=writes, cut=st.integers(0, 45))
def test_reads_match_a_dictionary_through_every_move(tmp_path_factory: object, batches: list[list[tuple[int, int, int]]],
                                                     cut: int) -> None:
    path = tmp_path_factory.mktemp("h") / "s.db"  # type: ignore[attr-defined]
    store = tiny(path)
    model: dict[tuple[str, str, str], dict[int, int]] = {s: {} for s in SERIES}
    try:
        for batch in batches:
            points = [HistoryPoint(*SERIES[k], ts, float(v), str(v)) for k, ts, v in batch]
            store.append_history(points)
            for k, ts, v in batch:
                model[SERIES[k]][ts] = v  # a point at an existing time replaces it
            for (twin, component, name), expected in model.items():
                got = store.read_history(twin, name, component=component, limit=1000)
                assert [(p.ts, p.value) for p in got] == sorted((t, str(v)) for t, v in expected.items())
        recent, merged = counts(path)
        assert recent + merged >= sum(len(m) for m in model.values())
        for (twin, component, name), expected in model.items():
            last = store.last_history(twin, name, component=component)
            if expected:
                newest = max(expected)
                assert last is not None and (last.ts, last.value) == (newest, str(expected[newest]))
            else:
                assert last is None
            page = store.read_history(twin, name, component=component, start=5, end=30, after=12, limit=3)
            assert [p.ts for p in page] == sorted(t for t in expected if 13 <= t < 30)[:3]
            for agg, fold in (("count", len), ("max", max), ("min", min), ("avg", lambda vs: sum(vs) / len(vs))):
                buckets: dict[int, list[int]] = {}
                for t, v in expected.items():
                    buckets.setdefault(t // BUCKET * BUCKET, []).append(v)
                got_agg = store.aggregate_history(twin, name, component=component, start=0, end=50, bucket=BUCKET,
                                                  agg=agg)
                assert got_agg == [(b, pytest.approx(fold(vs))) for b, vs in sorted(buckets.items())], agg
            lasts = store.aggregate_history(twin, name, component=component, start=0, end=50, bucket=BUCKET,
                                            agg="last")
            assert lasts == [(b, str(expected[max(t for t in expected if t // BUCKET * BUCKET == b)]))
                             for b in sorted({t // BUCKET * BUCKET for t in expected})]
        # Retention counts each point once, wherever it was, and leaves one table.
        assert store.delete_history_before(cut) == sum(1 for m in model.values() for t in m if t < cut)
        assert counts(path) == (0, sum(1 for m in model.values() for t in m if t >= cut))
    finally:
        store.close()


def test_a_point_written_again_reads_as_its_new_value_in_either_table(tmp_path: Path) -> None:
    store = tiny(tmp_path / "s.db")
    store.append_history([HistoryPoint("a", "", "x", ts, 1.0, "old") for ts in range(20)])
    assert counts(tmp_path / "s.db")[1] > 0  # some moved to history
    store.append_history([HistoryPoint("a", "", "x", 3, 2.0, "new")])  # its old copy is in history
    assert [p.value for p in store.read_history("a", "x")].count("new") == 1
    assert len(store.read_history("a", "x")) == 20
    assert store.aggregate_history("a", "x", start=0, end=20, bucket=20, agg="count") == [(0, 20)]
    assert store.merge_history() > 0
    assert counts(tmp_path / "s.db")[0] == 0
    assert [p.value for p in store.read_history("a", "x")][3] == "new"
    store.close()


def test_moves_keep_the_recent_table_near_its_size_and_span_the_key_space(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.recent_rows, store.slice_rows = 500, 100
    for round_ in range(40):  # 50 series, one point each per write: the sensor pattern
        store.append_history([HistoryPoint(f"t{s:02d}", "", "x", round_, float(s), str(s)) for s in range(50)])
    recent, merged = counts(tmp_path / "s.db")
    assert recent + merged == 2000
    assert 500 <= recent < 500 + 100 + 50
    with sqlite3.connect(tmp_path / "s.db") as conn:  # every series has moved points, not just the first few
        assert conn.execute("SELECT count(DISTINCT twin) FROM history").fetchone()[0] == 50
    assert [p.ts for p in store.read_history("t49", "x")] == list(range(40))
    store.close()


def test_a_store_reopened_in_another_process_goes_on_with_the_same_cursor_and_count(tmp_path: Path) -> None:
    first = tiny(tmp_path / "s.db")
    for part in range(3):  # batches smaller than the small table: staged, then moved
        first.append_history([HistoryPoint(f"t{s}", "", "x", 0, 1.0, "1") for s in range(part * 3, part * 3 + 3)])
    with sqlite3.connect(tmp_path / "s.db") as conn:
        cursor = conn.execute("SELECT twin, pending FROM history_merge").fetchone()
    assert cursor[0] != ""  # a slice moved, the next one starts after it
    assert cursor[1] == counts(tmp_path / "s.db")[0]  # no point was written twice: the count is exact
    first.close()
    # A second process writes on: it must take up the shared cursor and count.
    code = ("import sys; from twinforge.store import HistoryPoint; from twinforge.store.sqlite import SQLiteStore\n"
            "s = SQLiteStore(sys.argv[1]); s.recent_rows, s.slice_rows = 6, 2\n"
            "[s.append_history([HistoryPoint(f't{k}', '', 'x', 1, 2.0, '2') for k in range(p, p + 3)]) for p in (0, 3, 6)]\n"
            "s.close()")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.db")], check=True, timeout=60)
    with sqlite3.connect(tmp_path / "s.db") as conn:  # the count both processes kept is exact
        assert conn.execute("SELECT pending FROM history_merge").fetchone()[0] == counts(tmp_path / "s.db")[0]
    third = SQLiteStore(tmp_path / "s.db")
    assert [len(third.read_history(f"t{s}", "x")) for s in range(9)] == [2] * 9
    third.close()


def test_a_bulk_batch_goes_straight_to_history_and_still_replaces_recent_copies(tmp_path: Path) -> None:
    store = tiny(tmp_path / "s.db")
    store.append_history([HistoryPoint("a", "", "x", ts, 1.0, "old") for ts in range(3)])  # staged
    assert counts(tmp_path / "s.db") == (3, 0)
    bulk = [HistoryPoint("a", "", "x", ts, 2.0, "bulk") for ts in range(1, 9)]
    bulk.append(HistoryPoint("a", "", "x", 8, 3.0, "bulk, later copy"))  # the same key twice: the last wins
    store.append_history(bulk)
    assert counts(tmp_path / "s.db") == (0, 9)
    assert [p.value for p in store.read_history("a", "x")] == ["old"] + ["bulk"] * 7 + ["bulk, later copy"]
    store.close()
