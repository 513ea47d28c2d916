"""ADT's import and delete jobs over a real server: bulk files from disk and from an HTTP
blob store, logs written back, cancel, bad files refused with the line named."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.graph.models import PLANT, pump, tank
from tests.servers import running_api
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.jobs import BlobPolicy, BulkFile, read_bulk, write_bulk


@pytest.fixture
def client(graph: TwinGraph, tmp_path: Path) -> Iterator[httpx.Client]:
    """A server whose jobs may use the test's folder and the loopback blob store below."""
    with running_api(graph, blobs=BlobPolicy.of([tmp_path], ["127.0.0.1"])) as url, httpx.Client(base_url=url) as c:
        yield c


def bulk(twins: int = 3) -> BulkFile:
    return BulkFile(
        header={"fileVersion": "1.0.0", "author": "tests", "organization": "twinforge"},
        models=PLANT,
        twins=[("t0", tank())] + [(f"p{i}", pump(flow=float(i))) for i in range(twins)],
        relationships=[(f"p{i}", f"r{i}", {"$targetId": "t0", "$relationshipName": "feeds"}) for i in range(twins)],
    )


def wait_for(client: httpx.Client, path: str, statuses: set[str], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(path).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_the_bulk_format_reads_back_what_it_writes() -> None:
    original = bulk()
    again = read_bulk(write_bulk(original).splitlines())
    assert again.models == original.models and again.twins[1][0] == "p0"
    assert again.relationships[0] == ("p0", "r0", {"$targetId": "t0", "$relationshipName": "feeds"})


@pytest.mark.parametrize(("text", "message"), [
    (b'{"Section": "Twins"}\n{"$metadata": {}}\n', "line 2: a twin needs $dtId"),
    (b'{"Section": "Twins"}\n{"Section": "Models"}\n', "line 2: section Models out of order"),
    (b'{"Section": "Header"}\n{oops\n', "line 2: not JSON"),
    (b'{"$dtId": "x"}\n', "line 1: a bulk file starts with"),
    (b'{"Section": "Header"}\n{"fileVersion": "2.0.0"}\n', "fileVersion '2.0.0' is not supported"),
])
def test_bad_bulk_files_name_the_line(text: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        read_bulk(text.splitlines())


def test_an_import_job_loads_models_twins_and_relationships(client: httpx.Client, tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_bytes(write_bulk(bulk(twins=12_000)))
    out = tmp_path / "logs" / "out.ndjson"
    r = client.put("/jobs/imports/job1", json={"inputBlobUri": source.as_uri(), "outputBlobUri": str(out)})
    assert r.status_code == 201 and r.json()["status"] in ("notstarted", "running")
    job = wait_for(client, "/jobs/imports/job1", {"succeeded", "failed"}, timeout=120)
    assert job["status"] == "succeeded", job
    assert job["finishedDateTime"] >= job["createdDateTime"] and job["purgeDateTime"] > job["finishedDateTime"]
    assert client.get("/digitaltwins/p11999").json()["flow"] == 11999.0
    assert len(client.get("/digitaltwins/t0/incomingrelationships").json()["value"]) > 0
    log = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert log[0]["details"]["status"] == "Started" and log[-1]["details"] == {
        "status": "Succeeded", "models": 4, "twins": 12_001, "relationships": 12_000}
    assert {line["jobId"] for line in log} == {"job1"} and {line["jobType"] for line in log} == {"Import"}
    assert [j["id"] for j in client.get("/jobs/imports").json()["value"]] == ["job1"]
    # The id stays taken until the job is deleted.
    again = client.put("/jobs/imports/job1", json={"inputBlobUri": str(source), "outputBlobUri": str(out)})
    assert again.status_code == 400 and again.json()["error"]["code"] == "ValidationFailed"
    assert client.delete("/jobs/imports/job1").status_code == 204
    r = client.get("/jobs/imports/job1")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ImportJobNotFound"


def test_a_failing_import_keeps_what_was_done_and_says_why(client: httpx.Client, tmp_path: Path) -> None:
    bad = bulk()
    bad.twins.append(("p9", pump(flow="fast")))
    source, out = tmp_path / "in.ndjson", tmp_path / "out.ndjson"
    source.write_bytes(write_bulk(bad))
    client.put("/jobs/imports/j", json={"inputBlobUri": str(source), "outputBlobUri": str(out)})
    job = wait_for(client, "/jobs/imports/j", {"succeeded", "failed"})
    assert job["status"] == "failed" and job["error"]["code"] == "ValidationFailed"
    assert "p9" in job["error"]["message"] or "fast" in job["error"]["message"]
    assert client.get("/models/dtmi:test:Pump;1").status_code == 200  # models were imported (no rollback)
    assert client.get("/digitaltwins/p0").status_code == 404  # the failing chunk is all or nothing
    last = orjson.loads(out.read_bytes().splitlines()[-1])
    assert last["logType"] == "Error" and last["details"]["models"] == 4
    missing = client.put("/jobs/imports/k", json={"inputBlobUri": str(tmp_path / "nope"), "outputBlobUri": str(out)})
    assert missing.status_code == 201
    job = wait_for(client, "/jobs/imports/k", {"succeeded", "failed"})
    assert job["status"] == "failed" and "cannot read" in job["error"]["message"]
    r = client.put("/jobs/imports/x", json={"inputBlobUri": str(source)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationFailed"


class Blobs(BaseHTTPRequestHandler):
    """A tiny blob store: GET and PUT by path."""

    store: dict[str, bytes] = {}

    def do_GET(self) -> None:
        data = self.store.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.end_headers()
        self.wfile.write(data or b"")

    def do_PUT(self) -> None:
        self.store[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_blobs_over_http_and_cancel(client: httpx.Client) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Blobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        Blobs.store["/c/in.ndjson"] = write_bulk(bulk(twins=2))
        client.put("/jobs/imports/h", json={"inputBlobUri": f"{base}/c/in.ndjson",
                                            "outputBlobUri": f"{base}/c/out.ndjson"})
        assert wait_for(client, "/jobs/imports/h", {"succeeded", "failed"})["status"] == "succeeded"
        assert b'"Succeeded"' in Blobs.store["/c/out.ndjson"]
        # A big import cancelled while it runs stops between chunks.
        Blobs.store["/c/big.ndjson"] = write_bulk(BulkFile(
            twins=[(f"b{i}", tank()) for i in range(60_000)]))
        client.put("/jobs/imports/big", json={"inputBlobUri": f"{base}/c/big.ndjson",
                                              "outputBlobUri": f"{base}/c/big-out.ndjson"})
        wait_for(client, "/jobs/imports/big", {"running", "succeeded"})
        r = client.post("/jobs/imports/big/cancel")
        if r.status_code == 200:
            assert r.json()["status"] in ("cancelling", "cancelled")
            job = wait_for(client, "/jobs/imports/big", {"cancelled", "succeeded"}, timeout=60)
            if job["status"] == "cancelled":
                count = client.post("/query", json={"query": "SELECT COUNT() FROM DIGITALTWINS WHERE "
                                                             "IS_OF_MODEL('dtmi:test:Tank;1')"}).json()
                assert count["value"][0]["COUNT"] < 60_001
        else:  # it finished before the cancel arrived: cancelling a finished job is refused
            assert r.json()["error"]["code"] == "ValidationFailed"
    finally:
        server.shutdown()


def test_a_delete_job_removes_everything(client: httpx.Client, tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_bytes(write_bulk(bulk(twins=20)))
    client.put("/jobs/imports/i", json={"inputBlobUri": str(source), "outputBlobUri": str(tmp_path / "o")})
    assert wait_for(client, "/jobs/imports/i", {"succeeded", "failed"})["status"] == "succeeded"
    r = client.post("/jobs/deletions", headers={"Operation-Id": "wipe-1"})
    assert r.status_code == 202 and r.json()["id"] == "wipe-1"
    assert r.headers["Operation-Location"].endswith("/jobs/deletions/wipe-1")
    job = wait_for(client, "/jobs/deletions/wipe-1", {"succeeded", "failed"})
    assert job["status"] == "succeeded", job
    assert client.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).json()["value"] == []
    assert client.get("/models").json()["value"] == []
    again = client.post("/jobs/deletions", headers={"Operation-Id": "wipe-1"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "ValidationFailed"
    assert [j["id"] for j in client.get("/jobs/deletions").json()["value"]] == ["wipe-1"]
    r = client.get("/jobs/deletions/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "DeleteJobNotFound"
