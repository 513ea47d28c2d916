"""The `TwinStore` contract, run on every store: SQLite and PostgreSQL must behave alike."""

from __future__ import annotations

import threading

import pytest

from twinforge.errors import Conflict
from twinforge.store import (
    DeadLetter,
    EventRecord,
    HistoryPoint,
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
    TwinStore,
    TwinValues,
    open_store,
)


def twin(i: str, model: str = "dtmi:x:A;1", **values: object) -> TwinRecord:
    import json

    doc = {"$dtId": i, "$etag": "e0", "$metadata": {"$model": model}, **values}
    return TwinRecord(i, model, "e0", json.dumps(doc))


def test_models_keep_their_order_and_generation(store: TwinStore) -> None:
    g0 = store.models_generation()
    store.put_models([ModelRecord("dtmi:x:B;1", "{}", "t1", False), ModelRecord("dtmi:x:A;1", "{}", "t2", False)])
    assert [m.id for m in store.list_models()] == ["dtmi:x:B;1", "dtmi:x:A;1"]  # upload order, not id order
    assert store.models_generation() > g0
    store.set_decommissioned("dtmi:x:A;1", True)
    model = store.get_model("dtmi:x:A;1")
    assert model is not None and model.decommissioned
    store.delete_model("dtmi:x:B;1")
    assert store.get_model("dtmi:x:B;1") is None and len(store.list_models()) == 1


def test_twins_insert_replace_list_page_and_refuse_duplicates(store: TwinStore) -> None:
    store.insert_twins([twin(i) for i in ("b", "a", "B", "a-1", "é")])
    with pytest.raises(Conflict):
        store.insert_twins([twin("c"), twin("a")])
    assert store.get_twin("c") is None  # the whole batch was refused
    # ids sort byte-wise on every store, so pages agree
    assert [t.id for t in store.list_twins(limit=10)] == ["B", "a", "a-1", "b", "é"]
    assert [t.id for t in store.list_twins(after="a", limit=2)] == ["a-1", "b"]
    store.replace_twin(twin("a", "dtmi:x:C;1", x=1))
    assert store.get_twin_models(["a", "b", "zz"]) == {"a": "dtmi:x:C;1", "b": "dtmi:x:A;1"}
    assert [t.id for t in store.list_twins(model="dtmi:x:C;1")] == ["a"]
    assert store.count_twins() == 5 and store.count_twins_of_model("dtmi:x:A;1") == 4
    store.delete_twin("a")
    assert set(store.get_twins(["a", "b"])) == {"b"}


def test_twins_version_moves_when_twins_come_go_or_change_model(store: TwinStore) -> None:
    v0 = store.twins_version()
    store.insert_twins([twin("a"), twin("b")])
    v1 = store.twins_version()
    assert v1 != v0
    store.replace_twin(twin("a", x=5))  # same model: caches of models stay good
    store.set_twin_values([TwinValues("a", "e1", "t", {("", "x"): ("6", '{"lastUpdateTime": "t"}')})])
    store.put_setting("other", "write")
    store.append_history([HistoryPoint("a", "", "x", 1, 6.0, "6")])
    assert store.twins_version() == v1
    store.replace_twin(twin("a", "dtmi:x:C;1"))
    v2 = store.twins_version()
    assert v2 != v1
    store.replace_twin(twin("new"))  # a replace that creates
    v3 = store.twins_version()
    assert v3 != v2
    store.delete_twin("b")
    assert store.twins_version() != v3
    with pytest.raises(Conflict):
        store.insert_twins([twin("a")])
    assert store.twins_version() != v3


def test_set_twin_values_inside_documents(store: TwinStore) -> None:
    import json

    store.insert_twins([twin("t", comp={"$metadata": {}})])
    store.set_twin_values([TwinValues("t", "e1", "2026-01-01T00:00:00Z", {
        ("", "temperature"): ("21.5", json.dumps({"lastUpdateTime": "2026-01-01T00:00:00Z"})),
        ("comp", "speed"): ("3", json.dumps({"lastUpdateTime": "2026-01-01T00:00:00Z"}))})])
    record = store.get_twin("t")
    assert record is not None and record.etag == "e1"
    doc = json.loads(record.document)
    assert doc["temperature"] == 21.5 and doc["comp"]["speed"] == 3 and doc["$etag"] == "e1"
    assert doc["$metadata"]["temperature"] == {"lastUpdateTime": "2026-01-01T00:00:00Z"}
    assert doc["$metadata"]["$lastUpdateTime"] == "2026-01-01T00:00:00Z"


def test_relationships_outgoing_incoming_and_counts(store: TwinStore) -> None:
    rels = [RelationshipRecord("s", f"r{i}", "feeds" if i % 2 else "near", "t", "e", "{}") for i in range(5)]
    store.insert_relationships(rels)
    with pytest.raises(Conflict):
        store.insert_relationships([RelationshipRecord("s", "r0", "feeds", "t", "e", "{}")])
    assert [r.id for r in store.list_relationships("s", "feeds")] == ["r1", "r3"]
    assert [r.id for r in store.list_relationships("s", after="r2", limit=2)] == ["r3", "r4"]
    assert [r.id for r in store.list_incoming("t", after=("s", "r3"))] == ["r4"]
    assert store.count_relationships("s", "near") == 3 and store.has_relationships("t")
    store.replace_relationship(RelationshipRecord("s", "r0", "feeds", "u", "e2", "{}"))
    got = store.get_relationship("s", "r0")
    assert got is not None and got.target == "u" and got.etag == "e2"
    for r in rels:
        store.delete_relationship("s", r.id)
    assert not store.has_relationships("t")


def test_a_failed_transaction_leaves_nothing(store: TwinStore) -> None:
    def half_done() -> None:
        with store.transaction():
            store.insert_twins([twin("x")])
            store.append_events([EventRecord("t", "Twin.Create", "x", "{}")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_done()
    assert store.get_twin("x") is None and store.last_event_seq() == 0


def test_events_in_commit_order(store: TwinStore) -> None:
    def write(k: int) -> None:
        for i in range(20):
            store.append_events([EventRecord("t", "Twin.Update", f"w{k}-{i}", "{}")])

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in store.iter_events()]
    assert len(seqs) == 80 and seqs == sorted(seqs) and len(set(seqs)) == 80
    assert store.last_event_seq() == seqs[-1]
    assert [e.twin for e in store.read_events(seqs[77])] == [e.twin for e in store.read_events()[78:]]


def test_history_replace_read_aggregate_retain(store: TwinStore) -> None:
    month = 30 * 86_400 * 1_000_000
    base = 1_790_000_040_000_000  # 2026-09, a whole minute
    points = [HistoryPoint("t", "", "x", base + i * 1_000_000, float(i), str(float(i))) for i in range(600)]
    points += [HistoryPoint("t", "", "x", base + 2 * month, 7.0, "7.0")]  # two months on: another partition
    store.append_history(points)
    store.append_history([HistoryPoint("t", "", "x", base, 100.0, "100.0")])  # replaces, single row
    dupes = [HistoryPoint("t", "", "x", base + 1_000_000, float(v), str(float(v))) for v in (5, 6)] * 150
    store.append_history(dupes)  # a big batch (COPY on PostgreSQL) with duplicates: the last wins
    read = store.read_history("t", "x", limit=3)
    assert [p.num for p in read] == [100.0, 6.0, 2.0]
    # a big batch without duplicates of its own, some of whose points are stored already: replaced
    again = [HistoryPoint("t", "", "x", base + i * 1_000_000, -float(i), str(-float(i))) for i in range(2, 302)]
    store.append_history(again)
    assert [p.num for p in store.read_history("t", "x", limit=4)] == [100.0, 6.0, -2.0, -3.0]
    store.append_history([HistoryPoint("t", "", "x", base + i * 1_000_000, float(i), str(float(i)))
                          for i in range(2, 302)])  # and back
    assert [p.num for p in store.read_history("t", "x", after=base + 598_000_000)] == [599.0, 7.0]
    buckets = store.aggregate_history("t", "x", start=base, end=base + 600_000_000, bucket=300_000_000, agg="max")
    assert buckets == [(base, 299.0), (base + 300_000_000, 599.0)]
    last = store.aggregate_history("t", "x", start=base, end=base + 600_000_000, bucket=300_000_000, agg="last")
    assert last == [(base, "299.0"), (base + 300_000_000, "599.0")]
    counts = store.aggregate_history("t", "x", start=base, end=base + 3 * month, bucket=month, agg="count")
    assert counts == [(base, 600), (base + 2 * month, 1)]
    removed, added = store.downsample_history(base + 600_000_000, 60_000_000)
    assert removed == 600 and added == 10
    assert store.delete_history_before(base + 2 * month) == 10
    assert [p.num for p in store.read_history("t", "x")] == [7.0]


def test_settings_blobs_and_dead_letters(store: TwinStore) -> None:
    store.put_setting("route:a", "1")
    store.put_setting("route:b", "2")
    store.put_setting("route:a", "3")
    store.put_setting("routf", "x")
    assert store.list_settings("route:") == [("route:a", "3"), ("route:b", "2")]
    assert store.delete_setting("route:a") and not store.delete_setting("route:a")
    store.put_blob("g/1", "model/gltf-binary", b"\x00glTF\xff")
    assert store.get_blob("g/1") == ("model/gltf-binary", b"\x00glTF\xff")
    assert store.delete_blob("g/1") and store.get_blob("g/1") is None
    store.append_dead_letters([DeadLetter("t", "mqtt", "bad_json", "no", "{"), DeadLetter("t", "mqtt", "bad_json", "no", "[")])
    assert store.count_dead_letters() == {"bad_json": 2}
    first = store.read_dead_letters(limit=1)
    assert [d.payload for d in store.read_dead_letters(after=first[0].seq or 0)] == ["["]


def test_one_lease_holder_at_a_time(store: TwinStore) -> None:
    if store.url == "sqlite:///:memory:":
        pytest.skip("in memory, the one process always leads")
    a, b = store.lease("routes"), open_store(store.url).lease("routes")
    assert a.try_acquire()
    assert not b.try_acquire()
    a.release()
    assert b.try_acquire()
    b.release()
