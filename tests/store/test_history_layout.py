"""History on every store, past the contract's basics: points written again (redelivery), many
small writes read back in pages, points across days and months, odd numbers, retention.
On PostgreSQL these run over chunks (one row per series and day per write); on SQLite over rows."""

from __future__ import annotations

import math
import random

from twinforge.store import HistoryPoint, TwinStore

DAY = 86_400_000_000
BASE = 1_790_000_040_000_000  # 2026-09-22


def pts(series: str, stamps: list[int], scale: float = 1.0) -> list[HistoryPoint]:
    return [HistoryPoint(series, "", "x", ts, ts * scale, repr(ts * scale)) for ts in stamps]


def test_a_batch_written_again_is_stored_once(store: TwinStore) -> None:
    batch = [p for s in ("a", "b", "c") for p in pts(s, [BASE + i * 1000 for i in range(400)])]
    store.append_history(batch)
    store.append_history(batch)  # redelivered: same points, same values
    store.append_history(batch[:10])
    read = store.read_history("b", "x", limit=1000)
    assert [p.ts for p in read] == [BASE + i * 1000 for i in range(400)]
    assert store.aggregate_history("a", "x", start=BASE, end=BASE + DAY, bucket=DAY, agg="count") == [(BASE, 400)]
    assert store.delete_history_before(BASE + 100 * 1000) == 300  # 100 points of three series, once each
    assert [p.ts for p in store.read_history("c", "x", limit=2)] == [BASE + 100_000, BASE + 101_000]


def test_the_latest_write_of_a_point_wins(store: TwinStore) -> None:
    stamps = [BASE + i * 1000 for i in range(300)]
    store.append_history(pts("a", stamps))  # one big write
    for ts in stamps[::7]:  # then single points over it, one write each
        store.append_history([HistoryPoint("a", "", "x", ts, -1.0, "-1.0")])
    store.append_history(pts("a", stamps[::21], scale=2.0))  # and a small batch over those
    read = {p.ts: p.num for p in store.read_history("a", "x", limit=1000)}
    for i, ts in enumerate(stamps):
        want = ts * 2.0 if i % 21 == 0 else -1.0 if i % 7 == 0 else float(ts)
        assert read[ts] == want, i
    last = store.last_history("a", "x")
    assert last is not None and last.ts == stamps[-1]
    buckets = store.aggregate_history("a", "x", start=BASE, end=BASE + DAY, bucket=DAY, agg="min")
    assert buckets == [(BASE, -1.0)]


def test_pages_of_many_small_writes_come_back_whole_and_in_order(store: TwinStore) -> None:
    rng = random.Random(7)
    stamps = [BASE + i * 60_000_000 for i in range(1500)]  # a minute apart: about a day and a month
    shuffled = stamps[:]
    rng.shuffle(shuffled)
    for k in range(0, 600, 3):  # 200 writes of 3 points out of order, then the rest at once
        store.append_history(pts("s", shuffled[k:k + 3]))
    store.append_history(pts("s", shuffled[600:]))
    for _ in range(150):  # the first point redelivered, one write at a time
        store.append_history(pts("s", stamps[:1]))
    seen: list[int] = []
    after = None
    while True:
        page = store.read_history("s", "x", after=after, limit=100)
        if not page:
            break
        seen += [p.ts for p in page]
        after = page[-1].ts
    assert seen == stamps
    window = store.read_history("s", "x", start=stamps[700], end=stamps[710])
    assert [p.ts for p in window] == stamps[700:710]
    last = store.last_history("s", "x")
    assert last is not None and (last.ts, last.num) == (stamps[-1], float(stamps[-1]))


def test_points_across_days_and_months_in_one_write(store: TwinStore) -> None:
    stamps = [BASE + i * (DAY // 4) for i in range(200)]  # 50 days, two month boundaries
    store.append_history(pts("m", stamps) + pts("n", stamps[::2]))
    assert [p.ts for p in store.read_history("m", "x", limit=500)] == stamps
    counts = store.aggregate_history("n", "x", start=BASE, end=BASE + 50 * DAY, bucket=10 * DAY, agg="count")
    assert counts == [(BASE + k * 10 * DAY, 20) for k in range(5)]
    latest = store.aggregate_history("m", "x", start=BASE, end=BASE + 50 * DAY, bucket=25 * DAY, agg="last")
    assert latest == [(BASE, repr(float(stamps[99]))), (BASE + 25 * DAY, repr(float(stamps[199])))]
    assert store.delete_history_before(stamps[150]) == 150 + 75
    assert store.read_history("m", "x", limit=1)[0].ts == stamps[150]


def test_infinities_text_and_no_number(store: TwinStore) -> None:
    batch = [HistoryPoint("o", "", "x", BASE, math.inf, "1e999"),
             HistoryPoint("o", "", "x", BASE + 1, -math.inf, "-1e999"),
             HistoryPoint("o", "", "x", BASE + 2, None, '"on \\"quoted\\" \\\\ é"'),
             HistoryPoint("o", "", "x", BASE + 3, 1.5, "1.5")]
    for write in (batch, batch * 60):  # one row at a time, then a big batch (COPY on PostgreSQL)
        store.append_history(write)
        read = store.read_history("o", "x")
        assert [(p.num, p.value) for p in read] == [(p.num, p.value) for p in batch]
    assert store.aggregate_history("o", "x", start=BASE, end=BASE + 4, bucket=4, agg="max") == [(BASE, math.inf)]


def test_downsampling_keeps_text_points_and_later_points(store: TwinStore) -> None:
    minute = 60_000_000
    store.append_history(pts("d", [BASE + i * minute // 6 for i in range(120)]))  # 20 minutes at 10 s
    store.append_history([HistoryPoint("d", "", "x", BASE + 5, None, '"note"'),
                          HistoryPoint("d", "", "x", BASE + 2 * minute, None, '"replaced by the average"')])
    removed, added = store.downsample_history(BASE + 10 * minute, minute)
    assert (removed, added) == (59, 10)  # the point at 2 minutes is text now, so not counted
    read = store.read_history("d", "x", limit=200)
    old = [p for p in read if p.ts < BASE + 10 * minute]
    assert [p.ts for p in old] == sorted([BASE + k * minute for k in range(10)] + [BASE + 5])
    assert next(p for p in old if p.ts == BASE + 5).value == '"note"'
    averaged = next(p for p in old if p.ts == BASE + minute)
    assert averaged.num is not None and math.isclose(averaged.num, BASE + minute + 25 * minute / 60)
    assert [p.ts for p in read if p.ts >= BASE + 10 * minute] == [BASE + i * minute // 6 for i in range(60, 120)]


def test_postgresql_moves_a_history_of_rows_into_chunks(pg_url: str) -> None:
    """A database written before chunks kept one row per point in a table ``history``: opening
    it moves those points into chunks, and ``history`` becomes a view of the points."""
    import psycopg

    from twinforge.store import open_store

    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the layout of the release before
        conn.execute("DROP VIEW history")
        conn.execute('CREATE TABLE history (twin TEXT COLLATE "C" NOT NULL, component TEXT COLLATE "C" NOT NULL, '
                     'name TEXT COLLATE "C" NOT NULL, ts BIGINT NOT NULL, num DOUBLE PRECISION, value TEXT NOT NULL, '
                     "PRIMARY KEY (twin, component, name, ts)) PARTITION BY RANGE (ts)")
        conn.execute("CREATE TABLE history_default PARTITION OF history DEFAULT")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO history VALUES (%s, %s, %s, %s, %s, %s)",
                               [(f"t{i % 3}", "", "x", BASE + i * (DAY // 8), float(i), repr(float(i)))
                                for i in range(90)] + [("t0", "c", "y", BASE, None, '"text"')])
    store = open_store(pg_url)
    try:
        read = store.read_history("t1", "x", limit=100)
        assert [p.num for p in read] == [float(i) for i in range(1, 90, 3)]
        assert [(p.num, p.value) for p in store.read_history("t0", "y", component="c")] == [(None, '"text"')]
        store.append_history(pts("t2", [BASE + 2 * (DAY // 8)], scale=0.0))  # replaces a moved point
        assert store.read_history("t2", "x", limit=1)[0].num == 0.0
        with psycopg.connect(pg_url) as conn:
            kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass('history')").fetchone()
            assert kind == ("v",)
            rows = conn.execute("SELECT count(*), count(DISTINCT (twin, component, name, ts)) FROM history").fetchone()
            assert rows == (91, 91)
            assert conn.execute("SELECT num FROM history WHERE twin = 't2' AND ts = %s",
                                (BASE + 2 * (DAY // 8),)).fetchone() == (0.0,)
    finally:
        store.close()
