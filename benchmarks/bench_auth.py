"""`twinforge bench auth`: forged tokens do not stall other clients.

A server started with ``--auth --oidc-issuer ... --oidc-jwks URL`` (its own process) whose
identity provider answers slowly (2 s per key-set fetch). `/health` is timed at 20 requests/s
for 10 s, first alone (the baseline of the same run), then while 50 requests/s carry JWTs with
unknown key ids (each a different one, as an attacker would send). The goal: `/health` p99
< 50 ms under that load; before the fix each forged token fetched the key set on the loop.
"""

from __future__ import annotations

import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from twinforge.ports import free_port

ISSUER = "https://login.bench.test/v2.0"
AUDIENCE = "api://twinforge-bench"
TWINFORGE = str(Path(sys.executable).with_name("twinforge"))


def _provider(delay: float) -> tuple[Any, str, Any]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    body = json.dumps({"keys": [public]}).encode()
    state = {"hits": 0, "delay": 0.0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] += 1
            time.sleep(state["delay"])
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["delay"] = delay  # the first fetch (at start) is quick; every later one is slow
    return key, f"http://127.0.0.1:{server.server_address[1]}/keys", (server, state)


def _forged(key: Any, n: int) -> str:
    import jwt

    now = int(time.time())
    token: str = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 600, "roles": ["reader"]},
                            key, algorithm="RS256", headers={"kid": f"forged-{n}"})
    return token


def _health_latencies(url: str, seconds: float, rate: float) -> list[float]:
    out: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            assert client.get("/health").status_code == 200
            out.append(time.perf_counter() - started)
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return out


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def main(quick: bool, progress: Any) -> dict[str, Any]:
    seconds = 4.0 if quick else 10.0
    key, jwks, (provider, state) = _provider(2.0)
    state["delay"] = 0.0
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        server = subprocess.Popen([TWINFORGE, "serve", "--db", db, "--port", str(port),
                                   "--auth", "--oidc-issuer", ISSUER, "--oidc-audience", AUDIENCE, "--oidc-jwks", jwks],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start: " + (server.stderr.read().decode()
                                                                        if server.stderr else ""))
                time.sleep(0.1)
            state["delay"] = 2.0
            progress("/health alone")
            alone = _health_latencies(url, seconds, 20)
            progress("/health with 50 forged tokens/s")
            stop = threading.Event()
            sent = [0, 0]  # requests, refused with 401

            def attack() -> None:
                with httpx.Client(base_url=url, timeout=30) as client:
                    n = 0
                    while not stop.is_set():
                        started = time.perf_counter()
                        r = client.get("/digitaltwins/x", headers={"Authorization": f"Bearer {_forged(key, n)}"})
                        sent[0] += 1
                        sent[1] += r.status_code == 401
                        n += 1
                        time.sleep(max(0.0, 1 / 25 - (time.perf_counter() - started)))

            attackers = [threading.Thread(target=attack) for _ in range(2)]  # 2 x 25/s
            for thread in attackers:
                thread.start()
            started = time.monotonic()
            loaded = _health_latencies(url, seconds, 20)
            stop.set()
            for thread in attackers:
                thread.join(30)
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(10)
            provider.shutdown()
    return {"alone_p99_ms": _p99(alone) * 1000, "alone_p50_ms": statistics.median(alone) * 1000,
            "loaded_p99_ms": _p99(loaded) * 1000, "loaded_p50_ms": statistics.median(loaded) * 1000,
            "forged_rate": sent[0] / elapsed, "forged_refused": sent[1], "forged_sent": sent[0],
            "provider_fetches": state["hits"] - 1}


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    return [
        ("/health alone", f"p99 {r['alone_p99_ms']:.1f} ms", f"p50 {r['alone_p50_ms']:.1f} ms"),
        (f"/health with {r['forged_rate']:.0f} forged tokens/s", f"p99 {r['loaded_p99_ms']:.1f} ms",
         f"p50 {r['loaded_p50_ms']:.1f} ms; goal p99 < 50 ms; {r['forged_refused']}/{r['forged_sent']} refused "
         f"with 401; {r['provider_fetches']} key-set fetch(es) from the slow provider"),
    ]
