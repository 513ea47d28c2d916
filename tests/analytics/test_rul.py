"""RUL on NASA's C-MAPSS FD001 (../shared/data), validated on whole held-out engines."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.requirements import missing
from tests.test_cli import tf
from twinforge.analytics.rul import RulModel, evaluate, nasa_score, read_cmapss, rmse, train
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cmapss" / "train_FD001.txt"


@pytest.fixture(scope="module")
def fd001() -> np.ndarray:
    if not DATA.exists():
        missing(f"C-MAPSS FD001 is not at {DATA}")
    return read_cmapss(DATA)


def split(data: np.ndarray, test_units: set[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                                                       list[float]]:
    """Training rows of the other engines; test rows cut like the official test set, and the truth."""
    train_rows = data[~np.isin(data[:, 0], list(test_units))]
    test_rows, truth = [], []
    for u in sorted(test_units):
        rows = data[data[:, 0] == u]
        left = int(rng.integers(5, min(146, len(rows) - 30)))
        test_rows.append(rows[: len(rows) - left])
        truth.append(float(left))
    return train_rows, np.vstack(test_rows), truth


def test_held_out_engines_are_predicted_well(fd001: np.ndarray, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    held = set(rng.choice(np.unique(fd001[:, 0]).astype(int), size=20, replace=False).tolist())
    train_rows, test_rows, truth = split(fd001, held, rng)
    model = train(train_rows, seed=1, members=1)
    result = evaluate(model, test_rows, truth)
    assert result["engines"] == 20
    capped = rmse(np.array(result["predictions"]), np.minimum(truth, 125))
    assert capped < 16.0 and result["rmse"] < 20.0, result  # a plain GBM on rolling means gets about 18
    assert model.info["kind"] == "mlp" and 0.85 <= model.info["intervalCoverage"] <= 0.95
    # Saved and loaded, the same predictions.
    model.save(tmp_path / "m.rul")
    again = evaluate(RulModel.load(tmp_path / "m.rul"), test_rows, truth)
    assert again["predictions"] == result["predictions"]
    # Live estimate with its interval on one engine's history so far.
    rows = test_rows[test_rows[:, 0] == sorted(held)[0]]
    rul, low, high = model.predict_history(rows[:, 5:26])
    assert low <= rul <= high


def test_the_same_seed_gives_the_same_model(fd001: np.ndarray) -> None:
    small = fd001[fd001[:, 0] <= 20]
    a, b = train(small, seed=5, members=1, refit=False), train(small, seed=5, members=1, refit=False)
    assert a.info["rmse"] == b.info["rmse"] and a.info["heldOut"] == b.info["heldOut"]


def test_the_nasa_score_punishes_late_predictions_more() -> None:
    assert nasa_score(np.array([110.0]), np.array([100.0])) > nasa_score(np.array([90.0]), np.array([100.0])) > 0


def test_bad_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n")
    with pytest.raises(InvalidArgument, match="expected 26 columns"):
        read_cmapss(bad)
    with pytest.raises(InvalidArgument, match="not a twinforge RUL model"):
        RulModel.load(bad)


class _Boom:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Path.touch, ("/tmp/twinforge-pickle-ran",))


def test_a_pickle_is_never_loaded_and_a_tampered_file_is_refused(fd001: np.ndarray, tmp_path: Path) -> None:
    """The old format was a pickle: a file that would run code when unpickled is refused unread."""
    import pickle

    ran = Path("/tmp/twinforge-pickle-ran")
    ran.unlink(missing_ok=True)
    old = tmp_path / "old.rul"
    old.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(InvalidArgument, match=r"from an older twinforge \(a Python pickle, which is never loaded"):
        RulModel.load(old)
    assert not ran.exists()
    model = train(fd001[fd001[:, 0] <= 12], seed=1, members=1, kind="gbm", refit=False)  # (the format is tested)
    doc = json.loads(model.to_bytes())
    assert doc["manifest"]["format"] == "twinforge-rul" and doc["manifest"]["trainingData"].startswith("sha256:")
    assert doc["members"][0].startswith("tree\n")  # LightGBM's own text format
    for change, message in [
        (lambda d: d["members"].__setitem__(0, d["members"][0].replace("num_leaves=", "num_leaves=9")),
         "member 0 does not match its SHA-256"),
        (lambda d: d["manifest"].__setitem__("version", 1), "format version 1"),
        (lambda d: d["manifest"]["scaler"].__setitem__("std", [0.0] * 14), "positive deviations"),
        (lambda d: d["manifest"].__setitem__("channels", [1, 2]), "channels"),
        (lambda d: d["manifest"]["members"][0].__setitem__("kind", "pickle"), "of kind 'pickle'"),
    ]:
        copy = json.loads(json.dumps(doc))
        change(copy)
        with pytest.raises(InvalidArgument, match=message):
            RulModel.from_bytes(json.dumps(copy).encode())
    # A network member is numbers only, checked by shape and finiteness.
    net = train(fd001[fd001[:, 0] <= 12], seed=1, members=1, refit=False)
    doc = json.loads(net.to_bytes())
    assert doc["manifest"]["members"][0]["kind"] == "mlp" and doc["manifest"]["version"] == 3
    layers = json.loads(doc["members"][0])["layers"]
    assert [len(layer["bias"]) for layer in layers] == [64, 32, 1]
    for edit, message in [(lambda m: m["layers"][0]["bias"].pop(), "layer 0 bias must be 64 finite numbers"),
                          (lambda m: m["layers"][1]["weights"][0].__setitem__(0, "x"), "not a table of numbers"),
                          (lambda m: m["layers"].pop(), "the last layer must have one output"),
                          (lambda m: m.__setitem__("inputScale", [0.0] * len(m["inputScale"])), "positive")]:
        member = json.loads(doc["members"][0])
        edit(member)
        text = json.dumps(member)
        copy = json.loads(json.dumps(doc))
        copy["members"][0] = text
        copy["manifest"]["members"][0]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        with pytest.raises(InvalidArgument, match=message):
            RulModel.from_bytes(json.dumps(copy).encode())


def test_rul_commands(fd001: np.ndarray, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    held = set(rng.choice(np.unique(fd001[:, 0]).astype(int), size=10, replace=False).tolist())
    train_rows, test_rows, truth = split(fd001, held, rng)
    train_rows = train_rows[train_rows[:, 0] <= 40]  # (the command, not the model's quality, is tested here)
    np.savetxt(tmp_path / "train.txt", train_rows, fmt="%g")
    np.savetxt(tmp_path / "test.txt", test_rows, fmt="%g")
    (tmp_path / "truth.txt").write_text("\n".join(str(int(t)) for t in truth) + "\n")
    out = tf("rul", "train", "--data", str(tmp_path / "train.txt"), "--out", str(tmp_path / "m.rul"), "--seed", "3",
             "--members", "1")
    assert out.returncode == 0 and "validation on" in out.stdout, out.stderr
    out = tf("rul", "evaluate", "--model", str(tmp_path / "m.rul"), "--test", str(tmp_path / "test.txt"),
             "--truth", str(tmp_path / "truth.txt"), "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert set(body) >= {"rmse", "score"} and body["rmse"] < 30
    out = tf("rul", "evaluate", "--model", str(tmp_path / "m.rul"), "--test", str(tmp_path / "test.txt"),
             "--truth", str(tmp_path / "train.txt"))
    assert out.returncode == 1 and "truth" in out.stderr


def test_a_model_attached_to_turbofan_twins_estimates_their_rul_live(fd001: np.ndarray, tmp_path: Path,
                                                                     graph: TwinGraph) -> None:
    import httpx

    from tests.servers import running_api
    from twinforge.history import History
    from twinforge.sim import library

    model = train(fd001[fd001[:, 0] <= 40], seed=2, members=1)
    model.save(tmp_path / "fd001.rul")
    graph.add_models(library.models())
    graph.create_twin("engine-1", {"$metadata": {"$model": library.NS + "Turbofan;1"}})
    engine = fd001[fd001[:, 0] == 77]  # an engine the model has not seen
    from twinforge.api.limits import Limits

    size = (tmp_path / "fd001.rul").stat().st_size
    with running_api(graph, limits=Limits(model_bytes=size + 1_000)) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        turbofan = library.NS + "Turbofan;1"
        r = c.put("/analytics/rul/fd001", json={"model": turbofan, "path": str(tmp_path / "fd001.rul")})
        assert r.status_code == 400 and "not read from server paths" in r.json()["error"]["message"]
        r = c.put("/analytics/rul/fd001", json={"model": turbofan, "trainedModel": "fd001"})
        assert r.status_code == 400 and "PUT /analytics/rul/models/fd001" in r.json()["error"]["message"]
        r = c.put("/analytics/rul/models/fd001", content=b"\x80\x04garbage")
        assert r.status_code == 400 and "pickle" in r.json()["error"]["message"]
        file = (tmp_path / "fd001.rul").read_bytes()
        limit = c.put("/analytics/rul/models/fd001", content=file + b" " * 2_000)  # past the limit set below
        assert limit.status_code == 400 and limit.json()["error"]["code"] == "PayloadTooLarge", limit.text
        r = c.put("/analytics/rul/models/fd001", content=file)
        assert r.status_code == 200, r.text
        assert r.json()["members"] == 1 and r.json()["trainingData"].startswith("sha256:")
        assert [m["id"] for m in c.get("/analytics/rul/models").json()["value"]] == ["fd001"]
        r = c.put("/analytics/rul/fd001", json={"model": turbofan, "trainedModel": "fd001"})
        assert r.status_code == 200, r.text
        assert c.delete("/analytics/rul/models/fd001").status_code == 409  # in use
        rule = {"model": library.NS + "Turbofan;1", "condition": "rul < 40", "severity": "critical"}
        assert c.put("/alerts/rules/end-of-life", json=rule).status_code == 200
        for row in engine:
            body = {f"sensor{i}": float(row[4 + i]) for i in range(1, 22)}
            assert c.post("/digitaltwins/engine-1/telemetry", json=body, headers={"Message-Id": "x"}).status_code == 204
        # The evaluator follows the event log in its own thread: one estimate per cycle, in order.
        history = History(graph.store)
        deadline = time.monotonic() + 30
        while len(history.read_range("engine-1", "rul", limit=10_000)) < len(engine):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        series = [history.read_range("engine-1", n, limit=10_000) for n in ("rul", "rul:low", "rul:high")]
        estimates = [{"rul": r["value"], "low": lo["value"], "high": hi["value"]} for r, lo, hi in zip(*series, strict=True)]
        assert c.get("/digitaltwins/engine-1/rul").json() == estimates[-1]
        truth = len(engine) - np.arange(1, len(engine) + 1)
        late = np.array([e["rul"] for e in estimates[-60:]])
        assert rmse(late, np.minimum(truth[-60:], 125)) < 25
        assert all(e["low"] <= e["rul"] <= e["high"] for e in estimates)
        deadline = time.monotonic() + 10
        while not c.get("/alerts", params={"twin": "engine-1"}).json()["value"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        bad = c.put("/analytics/rul/x", json={"model": turbofan, "trainedModel": "none"})
        assert bad.status_code == 400
