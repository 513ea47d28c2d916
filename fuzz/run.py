"""Run an atheris target: ``python fuzz/run.py TARGET [--raw] [libFuzzer flags]`` (``all`` for
every target, one after another). New interesting inputs are added to ``fuzz/corpus/<target>/``.
The JSON targets mutate through `jsonmutator` (structure-aware) unless ``--raw`` leaves every
mutation to libFuzzer's bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
JSON_TARGETS = {"dtdl", "jsonpatch", "mapping", "scenario"}


def main() -> int:
    import atheris
    from targets import TARGETS, check

    name, flags = sys.argv[1], sys.argv[2:]
    raw = "--raw" in flags
    flags = [f for f in flags if f != "--raw"]
    if name == "all":
        for each in TARGETS:
            code = subprocess.call([sys.executable, __file__, each, *flags, *(["--raw"] if raw else [])])
            if code:
                return code
        return 0
    target = TARGETS[name]
    corpus = HERE / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)

    def one(data: bytes) -> None:
        check(target, data)

    atheris.instrument_all()
    options = {}
    if name in JSON_TARGETS and not raw:
        from jsonmutator import custom_mutator

        options["custom_mutator"] = custom_mutator
    atheris.Setup([sys.argv[0], str(corpus), "-timeout=10", "-rss_limit_mb=4096", *flags], one, **options)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
