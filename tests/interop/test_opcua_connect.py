"""`twinforge connect opcua` against a real asyncua server that loads the PackML companion
nodeset and holds a bottling line's machines: models, twins, values, then live changes through
the mapping it writes."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import need_module
from tests.servers import free_port
from tests.test_cli import tf
from twinforge.graph import TwinGraph

asyncua = need_module("asyncua")
yaml = need_module("yaml")
pytestmark = pytest.mark.integration
PACKML = Path(__file__).parent / "data" / "Opc.Ua.PackML.NodeSet2.xml.gz"
BASE = "dtmi:opcfoundation:org:UA:PackML:PackMLBaseObjectType;1"


class LineServer:
    """An asyncua server on its own thread: PackML loaded, Line1 with a Filler and a Capper."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/line/"
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop_event: asyncio.Event | None = None
        self.nodes: dict[str, Any] = {}
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        from asyncua import ua
        from asyncua.common.instantiate_util import instantiate

        server = asyncua.Server()
        await server.init()
        server.set_endpoint(self.url)
        xml = self.folder / "packml.xml"
        xml.write_bytes(gzip.decompress(PACKML.read_bytes()))
        await server.import_xml(str(xml))
        pk = await server.get_namespace_index("http://opcfoundation.org/UA/PackML/")
        base = await server.nodes.root.get_child(["0:Types", "0:ObjectTypes", "0:BaseObjectType",
                                                  f"{pk}:PackMLBaseObjectType"])
        ns = await server.register_namespace("urn:example:bottling")
        line = await server.nodes.objects.add_folder(ns, "Line1")
        for name in ("Filler", "Capper"):
            made = await instantiate(line, base, bname=f"{ns}:{name}", dname=ua.LocalizedText(name), idx=ns)
            machine = server.get_node(made[0])
            self.nodes[name] = machine
            self.nodes[f"{name}.TagID"] = await machine.get_child([f"{pk}:TagID"])
            await self.nodes[f"{name}.TagID"].write_value(f"{name.upper()}-01")
            status = await machine.get_child([f"{pk}:Status"])
            self.nodes[f"{name}.UnitSupportedModes"] = await status.get_child([f"{pk}:UnitSupportedModes"])
        self.stop_event = asyncio.Event()
        self.server = server
        async with server:
            self.ready.set()
            await self.stop_event.wait()

    def write(self, key: str, value: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.nodes[key].write_value(value), self.loop).result(10)

    def __enter__(self) -> LineServer:
        self.thread.start()
        assert self.ready.wait(60), "the OPC UA server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(20)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineServer]:
    with LineServer(tmp_path_factory.mktemp("opcua")) as server:
        yield server


def test_connect_builds_models_twins_and_a_mapping_that_follows_changes(line: LineServer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'line.db'}"
    mapping = tmp_path / "line.yaml"
    out = tf("connect", "opcua", line.url, "--mapping", str(mapping), "--db", db)
    assert out.returncode == 0, out.stderr
    noise = [line for line in out.stderr.splitlines() if not line.startswith(("note: ", "created a new store"))]
    assert noise == [], noise  # the OPC UA library's warnings are not the user's business
    assert "2 twin(s)" in out.stdout and f"twinforge serve --mapping {mapping} --db {db}" in out.stdout
    graph = TwinGraph.open(db)
    try:
        filler = graph.get_twin("Line1-Filler")
        assert filler["$metadata"]["$model"] == BASE
        assert filler["TagID"] == "FILLER-01" and filler["PackMLVersion"].startswith("TR88")  # values read at connect
        assert "Status" in filler and "Admin" in filler  # components
        assert graph.get_twin("Line1-Capper")["TagID"] == "CAPPER-01"
        assert BASE in graph.models
    finally:
        graph.close()
    doc = yaml.safe_load(mapping.read_text())
    rules = doc["opcua"][0]["nodes"]
    assert doc["opcua"][0]["endpoint"] == line.url
    assert {(r["twin"], r["name"]) for r in rules} >= {("Line1-Filler", "TagID"), ("Line1-Capper", "TagID")}
    assert any(r.get("component") == "Status" for r in rules)

    # Live: the mapping drives the OPC UA connector; a change on the server reaches the twin.
    from twinforge.ingest import Ingestor
    from twinforge.ingest.mapping import parse_mapping
    from twinforge.ingest.opcua import OpcUaConnector

    graph = TwinGraph.open(db)

    async def follow() -> None:
        connector = OpcUaConnector(Ingestor(graph), parse_mapping(doc).opcua[0], flush_interval=0.02)
        await connector.start()
        try:
            await asyncio.wait_for(connector.connected.wait(), 20)
            await asyncio.to_thread(line.write, "Filler.TagID", "FILLER-02")
            async with asyncio.timeout(20):
                while graph.get_twin("Line1-Filler").get("TagID") != "FILLER-02":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            await connector.stop()

    try:
        asyncio.run(follow())
    finally:
        graph.close()


def test_connect_refuses_what_is_not_an_endpoint(tmp_path: Path) -> None:
    out = tf("connect", "opcua", "http://example.com", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert out.returncode == 1 and "starts with opc.tcp://" in out.stderr
    port = free_port()
    down = tf("connect", "opcua", f"opc.tcp://127.0.0.1:{port}/", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert down.returncode == 1 and "cannot reach" in down.stderr and "Traceback" not in down.stderr
