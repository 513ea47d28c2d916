"""Import jobs as an attacker with a writer token would use them: server files, loopback and
cloud-metadata URLs, redirects, symbolic links, sizes. Each refusal names the rule, is a 400 at
`PUT` (or fails the job when it shows only while running) and is in the audit log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.graph.models import tank
from tests.servers import running_api
from twinforge.auth import Tokens, read_audit
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.jobs import BlobPolicy, BulkFile, write_bulk

BULK = write_bulk(BulkFile(twins=[("t0", tank())]))


def resolving_to(address: str) -> Any:
    """A resolver that answers every name with ``address`` (what a hostile DNS would do)."""
    def resolve(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
    return resolve


@pytest.mark.parametrize(("policy", "uri", "rule"), [
    (BlobPolicy(), "/etc/passwd", "reading or writing server files is off"),
    (BlobPolicy.of(["/tmp"]), "/etc/passwd", "outside the --blob-root folders"),
    (BlobPolicy.of(["/tmp"]), "/tmp/../etc/passwd", "outside the --blob-root folders (resolved to /etc/passwd)"),
    (BlobPolicy.of(["/tmp"]), "file:///tmp/%2E%2E/etc/shadow", "outside the --blob-root folders"),
    (BlobPolicy.of(["/tmp"]), "file://evil.example.com/tmp/x", "a file URI names no host"),
    (BlobPolicy.of(["/tmp"]), "tmp/x", "give an absolute path"),
    (BlobPolicy.of(["/tmp"]), "/tmp/a\x00b", "NUL"),
    (BlobPolicy(), "http://169.254.169.254/latest/meta-data/", "host '169.254.169.254' is not allowed"),
    (BlobPolicy(), "gopher://127.0.0.1/x", "only file paths and http(s) URLs"),
    (BlobPolicy.of(allow=["*.example.com"], ), "http://127.0.0.1/x", "host '127.0.0.1' is not allowed"),
    (BlobPolicy(allow=("*.blobs.example.com",), resolve=resolving_to("169.254.169.254")),
     "https://a.blobs.example.com/c/x", "resolves to 169.254.169.254, a loopback, private, link-local"),
    (BlobPolicy(allow=("*.blobs.example.com",), resolve=resolving_to("10.0.0.7")),
     "https://a.blobs.example.com/c/x", "resolves to 10.0.0.7"),
    (BlobPolicy(allow=("*.blobs.example.com",), resolve=resolving_to("127.0.0.1")),
     "http://a.blobs.example.com:8080/c/x", "resolves to 127.0.0.1"),
    (BlobPolicy(allow=("[::1]",)), "http://[::ffff:127.0.0.1]/x", "is not allowed"),
])
def test_what_is_refused_names_the_rule(policy: BlobPolicy, uri: str, rule: str) -> None:
    with pytest.raises(InvalidArgument, match=None) as info:
        policy.check(uri)
    assert info.value.code == "BlobNotAllowed" and rule in info.value.message, info.value.message


def test_a_symbolic_link_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "ok.ndjson").write_bytes(BULK)
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "up").symlink_to(tmp_path)
    policy = BlobPolicy.of([root])
    assert policy.read(str(root / "ok.ndjson")) == BULK
    for path in (root / "passwd", root / "up" / "blobs" / ".." / "secret"):
        with pytest.raises(InvalidArgument, match="outside the --blob-root"):
            policy.read(str(path))
    with pytest.raises(InvalidArgument, match="outside the --blob-root"):
        policy.write(str(root / "passwd"), b"x")
    policy.write(str(root / "logs" / "new" / "out.ndjson"), b"log")  # folders made inside the root
    assert (root / "logs" / "new" / "out.ndjson").read_bytes() == b"log"
    small = BlobPolicy.of([root], max_bytes=10)
    with pytest.raises(InvalidArgument, match="larger than the limit of 10 bytes"):
        small.read(str(root / "ok.ndjson"))


class Redirecting(BaseHTTPRequestHandler):
    """A blob store that is allowed, and redirects to one that is not."""

    target = ""

    def do_GET(self) -> None:
        if self.path == "/bulk":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(BULK)
            return
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def blob_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_redirects_are_checked_like_the_first_url(blob_server: str) -> None:
    policy = BlobPolicy.of(allow=["127.0.0.1"])
    assert policy.read(f"{blob_server}/bulk") == BULK
    Redirecting.target = "http://localhost/secret"  # a name that is not listed
    with pytest.raises(InvalidArgument, match="host 'localhost' is not allowed"):
        policy.read(f"{blob_server}/jump")
    Redirecting.target = "file:///etc/passwd"
    with pytest.raises(InvalidArgument, match=r"only http\(s\) is followed"):
        policy.read(f"{blob_server}/jump")
    Redirecting.target = f"{blob_server}/loop"
    with pytest.raises(InvalidArgument, match="more than 5 redirects"):
        policy.read(f"{blob_server}/loop")


def test_refusals_are_400s_or_failed_jobs_and_audited(graph: TwinGraph, tmp_path: Path, blob_server: str) -> None:
    secret = Tokens(graph.store).create("importer", "admin")[1]  # jobs are for admins
    policy = BlobPolicy.of([tmp_path], ["127.0.0.1"])
    with running_api(graph, auth=True, blobs=policy) as url, \
            httpx.Client(base_url=url, headers={"authorization": f"Bearer {secret}"}) as c:
        for body, rule in [
            ({"inputBlobUri": "/etc/passwd", "outputBlobUri": str(tmp_path / "o")}, "outside the --blob-root"),
            ({"inputBlobUri": f"{blob_server}/bulk", "outputBlobUri": "http://169.254.169.254/x"},
             "host '169.254.169.254' is not allowed"),
        ]:
            r = c.put("/jobs/imports/evil", json=body)
            assert r.status_code == 400 and r.json()["error"]["code"] == "BlobNotAllowed", r.text
            assert rule in r.json()["error"]["message"]
        assert c.get("/jobs/imports").json()["value"] == []  # nothing kept of a refused request
        # Allowed when asked, refused when it runs: the redirect goes to an address not listed.
        Redirecting.target = "http://localhost:1/x"
        r = c.put("/jobs/imports/later", json={"inputBlobUri": f"{blob_server}/jump",
                                               "outputBlobUri": str(tmp_path / "later.ndjson")})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 20
        while (job := c.get("/jobs/imports/later").json())["status"] not in ("failed", "succeeded"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert job["status"] == "failed" and job["error"]["code"] == "BlobNotAllowed"
    rows, _ = read_audit(graph)
    outcomes = [(r["actor"], r["outcome"] if "outcome" in r else r.get("code")) for r in rows]
    assert outcomes.count(("importer", "BlobNotAllowed")) == 2, rows
    assert ("import job later", "BlobNotAllowed") in outcomes, rows
    assert c.is_closed
