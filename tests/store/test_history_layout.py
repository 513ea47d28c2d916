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


def test_odd_names_and_values_in_big_and_small_writes(store: TwinStore) -> None:
    odd = "a\tb\\c\nd\re \\N"
    batch = [HistoryPoint(odd, "c\\1", "x\ty", BASE + i, float(i), '"\\t\\n \\\\ \\u0000"') for i in range(300)]
    store.append_history(batch)  # COPY on PostgreSQL
    store.append_history([HistoryPoint(odd, "c\\1", "x\ty", BASE + 500, None, '"\\\\N"')])
    read = store.read_history(odd, "x\ty", component="c\\1", limit=1000)
    assert [(p.twin, p.component, p.name, p.ts, p.num, p.value) for p in read] == [tuple(p) for p in batch] + [
        (odd, "c\\1", "x\ty", BASE + 500, None, '"\\\\N"')]


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
        conn.execute("CREATE TABLE history_2026_09 (LIKE history INCLUDING DEFAULTS)")  # as that release made them
        september, october = 1_788_220_800_000_000, 1_790_812_800_000_000
        conn.execute(f"ALTER TABLE history ATTACH PARTITION history_2026_09 FOR VALUES FROM ({september}) "
                     f"TO ({october})")
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


def _chunks(url: str, twin: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM history_chunks WHERE twin = %s", (twin,)).fetchone()[0])


def test_postgresql_merges_the_small_chunks_of_live_ingest(pg_url: str) -> None:
    """One point per write makes one chunk per point; merging them leaves one chunk per series
    and day, and every read the same as before."""
    from twinforge.store import open_store
    from twinforge.store.postgres import PostgresStore

    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        stamps = [BASE + i * (DAY // 100) for i in range(300)]  # three days
        for k, ts in enumerate(stamps):
            store.append_history([HistoryPoint("live", "", "x", ts, float(k), repr(float(k)))])
            if k % 3 == 0:  # written again with another value: the later write wins
                store.append_history([HistoryPoint("live", "", "x", ts, -float(k), repr(-float(k)))])
        store.append_history([HistoryPoint("live", "", "x", stamps[5], math.inf, "1e999"),
                              HistoryPoint("live", "", "x", stamps[6], None, '"text"')])

        def reads() -> tuple[object, ...]:
            return (store.read_history("live", "x", limit=1000),
                    store.read_history("live", "x", start=stamps[150], end=stamps[160]),
                    store.aggregate_history("live", "x", start=BASE, end=BASE + 3 * DAY, bucket=DAY, agg="avg"),
                    store.aggregate_history("live", "x", start=BASE, end=BASE + 3 * DAY, bucket=DAY, agg="last"),
                    store.last_history("live", "x"))

        before = reads()
        assert len(before[0]) == 300 and before[0][3].num == -3.0 and before[0][5].num == math.inf  # type: ignore[index]
        assert _chunks(pg_url, "live") == 401
        days = len({ts // DAY for ts in stamps})  # from mid-day: four
        assert store.compact_history() == (401, days)
        assert _chunks(pg_url, "live") == days
        assert reads() == before
    finally:
        store.close()


def test_postgresql_merging_never_lets_an_earlier_write_win(pg_url: str) -> None:
    """A small chunk, then a big one over the same time, then another small one: merging the two
    small ones would give the first a later place than the big one, so that day stays as it is."""
    from twinforge.store import open_store
    from twinforge.store.postgres import PostgresStore

    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    store.compact_fanout = 2
    try:
        store.append_history([HistoryPoint("s", "", "x", BASE + 5, 1.0, "1.0")])
        store.append_history(pts("s", [BASE + i for i in range(300)], scale=0.0))  # big: the point at 5 is 0.0
        store.append_history([HistoryPoint("s", "", "x", BASE + 400, 2.0, "2.0")])
        store.append_history([HistoryPoint("t", "", "x", BASE + 1, 1.0, "1.0")])
        store.append_history([HistoryPoint("t", "", "x", BASE + 2, 2.0, "2.0")])
        assert store.compact_history() == (2, 1)  # only t's day
        assert [p.num for p in store.read_history("s", "x", start=BASE + 5, end=BASE + 6)] == [0.0]
        assert [p.num for p in store.read_history("t", "x")] == [1.0, 2.0]
    finally:
        store.close()


def test_postgresql_merges_small_chunks_as_it_writes(pg_url: str) -> None:
    from twinforge.store import open_store
    from twinforge.store.postgres import PostgresStore

    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    store.compact_every = 50
    try:
        for k in range(120):  # ten sensors, one point each per write, as MQTT ingest writes
            store.append_history([HistoryPoint(f"m{j}", "", "x", BASE + k * 1000, float(k), repr(float(k)))
                                  for j in range(10)])
        assert _chunks(pg_url, "m3") < 40  # merged twice over the run: 120 chunks each without it
        assert [p.num for p in store.read_history("m3", "x", limit=500)] == [float(k) for k in range(120)]
    finally:
        store.close()


def test_postgresql_merges_after_the_writers_transaction_not_inside_it(pg_url: str) -> None:
    """An ingest batch writes twins, events and history in one transaction: the merge waits for
    it to commit, and runs in a transaction of its own."""
    from twinforge.store import EventRecord, open_store
    from twinforge.store.postgres import PostgresStore

    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    store.compact_every = 5
    store.compact_fanout = 2
    try:
        # the month's partition made first: made inside the transaction, it would lock the table
        # against the count below until the commit
        store.append_history([HistoryPoint("other", "", "x", BASE, 0.0, "0.0")])
        with store.transaction():
            for k in range(12):
                store.append_history([HistoryPoint("w", "", "x", BASE + k, float(k), repr(float(k)))])
            store.append_events([EventRecord("2026-12-04T00:00:00Z", "Twin.Update", "w", "{}")])
            assert _chunks(pg_url, "w") == 0  # nothing committed yet, nothing merged
        assert _chunks(pg_url, "w") == 1
        assert [p.num for p in store.read_history("w", "x")] == [float(k) for k in range(12)]
        assert len(store.read_events()) == 1
    finally:
        store.close()


def test_postgresql_merges_by_tiers_so_a_slow_series_is_not_rewritten_per_point(pg_url: str) -> None:
    """Many series, one new point each per merge: merging every small chunk each time would
    rewrite each series' growing chunk for every point. By tiers, a chunk merges only with
    chunks of its own size range, once 16 of them have piled up."""
    import psycopg

    from twinforge.store import open_store
    from twinforge.store.postgres import PostgresStore
    from twinforge.store.postgres.history import MERGE_TIERS

    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    store.compact_every = 40  # a merge after every write below
    merged: list[tuple[int, int]] = []
    compact = store.compact_history
    store.compact_history = lambda days=None: merged.append(compact(days)) or merged[-1]  # type: ignore[method-assign]
    try:
        for k in range(300):
            store.append_history([HistoryPoint(f"s{j}", "", "x", BASE + k * 1000, float(k), repr(float(k)))
                                  for j in range(40)])
        assert len(merged) == 300
        # chunks merged: 300 one-point chunks per series, and each merged chunk of 16+ points
        # once more at most: far under the 300 x 150 a merge of every small chunk would take
        assert sum(before for before, _ in merged) < 40 * (300 + 300 // 16)
        with psycopg.connect(pg_url) as conn:
            for low, high in MERGE_TIERS:
                most = conn.execute("SELECT max(c) FROM (SELECT count(*) AS c FROM history_chunks WHERE n >= %s "
                                    "AND n < %s GROUP BY twin) AS t", (low, high)).fetchone()[0]
                assert most is None or most < 16
        assert [p.num for p in store.read_history("s7", "x", limit=500)] == [float(k) for k in range(300)]
    finally:
        store.close()
