"""Queries through TwinGraph on a real SQLite file: results, paging, indexes, timeouts."""

from __future__ import annotations

import pytest

from tests.graph.models import PLANT, pump, tank
from twinforge.errors import QueryTimeout
from twinforge.graph import TwinGraph
from twinforge.query import compile_query, parse_query


@pytest.fixture
def plant(graph: TwinGraph) -> TwinGraph:
    graph.add_models(PLANT)
    graph.create_twins([(f"p{i}", pump(f"pump {i}", flow=float(i), mode="auto" if i % 2 else "off",
                                        motor={"$metadata": {}, "rpm": 100.0 * i}))
                        for i in range(6)] + [("t1", tank("tank one", level=0.5)), ("t2", tank("tank two"))])
    graph.create_relationships([(f"p{i}", f"f{i}", {"$relationshipName": "feeds", "$targetId": "t1" if i < 4 else "t2",
                                                    "pipeLength": float(i)}) for i in range(6)])
    return graph


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["$dtId"] for r in rows]


def test_point_lookup_and_filters(plant: TwinGraph) -> None:
    assert ids(list(plant.query("SELECT * FROM DIGITALTWINS WHERE $dtId = 'p3'"))) == ["p3"]
    rows = list(plant.query("SELECT T.$dtId, T.flow FROM DIGITALTWINS T WHERE T.flow >= 3 AND T.mode = 'auto'"))
    assert rows == [{"$dtId": "p3", "flow": 3.0}, {"$dtId": "p5", "flow": 5.0}]
    rows = list(plant.query("SELECT T.rpm FROM DIGITALTWINS T WHERE T.motor.rpm > 250"))
    assert rows == [{}, {}, {}]  # rpm lives in the component: a projection the twin lacks is left out
    rows = list(plant.query("SELECT T.motor.rpm FROM DIGITALTWINS T WHERE T.motor.rpm > 250"))
    assert rows == [{"rpm": 300.0}, {"rpm": 400.0}, {"rpm": 500.0}]


def test_is_of_model_follows_extends(plant: TwinGraph) -> None:
    assert len(list(plant.query("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Asset;1')"))) == 8
    assert len(list(plant.query("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:test:Asset;1', exact)"))) == 0
    assert list(plant.query("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Tank;1')")) == [
        {"COUNT": 2}]


def test_joins_and_relationships(plant: TwinGraph) -> None:
    rows = list(plant.query("SELECT P.$dtId AS pump, F.pipeLength, T.name FROM DIGITALTWINS P "
                            "JOIN T RELATED P.feeds F WHERE T.$dtId = 't2'"))
    assert rows == [{"pump": "p4", "pipeLength": 4.0, "name": "tank two"},
                    {"pump": "p5", "pipeLength": 5.0, "name": "tank two"}]
    rows = list(plant.query("SELECT * FROM RELATIONSHIPS R WHERE R.$targetId = 't1' AND R.pipeLength < 2"))
    assert [r["$relationshipId"] for r in rows] == ["f0", "f1"]
    both = list(plant.query("SELECT P, T FROM DIGITALTWINS P JOIN T RELATED P.feeds WHERE P.$dtId = 'p0'"))
    assert both[0]["P"]["$dtId"] == "p0" and both[0]["T"]["$dtId"] == "t1"


def test_top_and_lazy_paging(plant: TwinGraph) -> None:
    assert ids(list(plant.query("SELECT TOP(3) FROM DIGITALTWINS"))) == ["p0", "p1", "p2"]
    every = ids(list(plant.query("SELECT * FROM DIGITALTWINS", page_size=3)))
    assert every == ["p0", "p1", "p2", "p3", "p4", "p5", "t1", "t2"]
    page, more = plant.query_page("SELECT TOP(5) FROM DIGITALTWINS", offset=3, size=10)
    assert ids(page) == ["p3", "p4"] and not more
    rows = plant.query("SELECT * FROM DIGITALTWINS", page_size=1)
    assert next(rows)["$dtId"] == "p0"  # a generator: nothing more is read until asked


def test_property_index_is_used(plant: TwinGraph) -> None:
    compiled = compile_query(parse_query("SELECT * FROM DIGITALTWINS T WHERE T.name = 'x'"), lambda m: [m],
                             plant.store.dialect)
    if plant.store.dialect.name == "postgresql":
        import psycopg

        from twinforge.store.postgres.connections import marks

        plant.add_property_index("name")
        with psycopg.connect(plant.store.url, autocommit=True) as conn:  # type: ignore[attr-defined]
            conn.execute("SET enable_seqscan = off")  # a table this small would be scanned anyway
            plan = conn.execute("EXPLAIN " + marks(compiled.sql), compiled.params).fetchall()
        assert "twins_prop" in str(plan), plan
        assert plant.store.list_property_indexes() == ["$.name"]
        assert ids(list(plant.query("SELECT * FROM DIGITALTWINS T WHERE T.name = 'tank one'"))) == ["t1"]
        return
    plan = plant.store.select("EXPLAIN QUERY PLAN " + compiled.sql, compiled.params)
    assert "twins_prop" not in str(plan)
    plant.add_property_index("name")
    plant.store.select(compiled.sql, compiled.params)  # a real read notices the new schema
    plan = plant.store.select("EXPLAIN QUERY PLAN " + compiled.sql + " -- with the index", compiled.params)
    assert "twins_prop" in str(plan), plan
    assert plant.store.list_property_indexes() == ["$.name"]
    assert ids(list(plant.query("SELECT * FROM DIGITALTWINS T WHERE T.name = 'tank one'"))) == ["t1"]


def test_expensive_query_times_out(plant: TwinGraph) -> None:
    cross = ("SELECT COUNT() FROM DIGITALTWINS P WHERE "
             + " OR ".join(f"CONTAINS(P.name, 'zz{i}')" for i in range(200)))
    plant.create_twins([(f"bulk{i}", tank(f"bulk {i}")) for i in range(20_000)])
    with pytest.raises(QueryTimeout, match="longer than"):
        list(plant.query(cross, timeout=0.001))
    assert list(plant.query(cross)) == [{"COUNT": 0}]
