#!/usr/bin/env python3
"""Run an atheris target: ``python fuzz/run.py TARGET [--raw] [libFuzzer flags]`` (``all`` for
every target, one after another). New interesting inputs are added to ``fuzz/corpus/<target>/``;
``python fuzz/run.py TARGET --merge`` shrinks that corpus again.
The JSON targets mutate through `jsonmutator` (structure-aware) unless ``--raw`` leaves every
mutation to libFuzzer's bytes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
JSON_TARGETS = {"dtdl", "jsonpatch", "mapping", "scenario"}


def main() -> int:
    import atheris
    from targets import TARGETS, check

    if os.environ.get("TWINFORGE_FUZZ_TARGET") and sys.argv[1:2] != [os.environ["TWINFORGE_FUZZ_TARGET"]]:
        # libFuzzer runs this file again for -merge, with its own arguments: the target comes
        # from the environment then.
        name, flags, corpus_args = os.environ["TWINFORGE_FUZZ_TARGET"], sys.argv[1:], []
    else:
        name, flags = sys.argv[1], sys.argv[2:]
        corpus_args = [str(HERE / "corpus" / name)]
    raw = "--raw" in flags or os.environ.get("TWINFORGE_FUZZ_RAW") == "1"
    flags = [f for f in flags if f != "--raw"]
    if name == "all":
        for each in TARGETS:
            code = subprocess.call([sys.executable, __file__, each, *flags, *(["--raw"] if raw else [])])
            if code:
                return code
        return 0
    if "--merge" in flags:
        return merge(name)
    target = TARGETS[name]
    (HERE / "corpus" / name).mkdir(parents=True, exist_ok=True)
    os.environ["TWINFORGE_FUZZ_TARGET"] = name
    os.environ["TWINFORGE_FUZZ_RAW"] = "1" if raw else "0"

    def one(data: bytes) -> None:
        check(target, data)

    atheris.instrument_all()
    options = {}
    if name in JSON_TARGETS and not raw:
        from jsonmutator import custom_mutator

        options["custom_mutator"] = custom_mutator
    atheris.Setup([sys.argv[0], *corpus_args, "-timeout=10", "-rss_limit_mb=4096", *flags], one, **options)
    atheris.Fuzz()
    return 0


def merge(name: str) -> int:
    """Shrink a target's corpus to one input per piece of coverage (libFuzzer's -merge); the
    ``crash-*`` inputs, kept as regression cases, stay whatever they cover."""
    import shutil
    import tempfile

    corpus = HERE / "corpus" / name
    with tempfile.TemporaryDirectory(prefix=f"twinforge-fuzz-{name}-") as tmp:
        old = Path(tmp) / "old"
        shutil.move(str(corpus), old)
        corpus.mkdir()
        code = subprocess.call([sys.executable, __file__, name, "-merge=1", str(old)])
        if code:
            shutil.rmtree(corpus)
            shutil.move(str(old), corpus)
            print(f"merge failed (exit code {code}); the corpus is as it was", file=sys.stderr)
            return code
        for crash in old.glob("crash-*"):
            shutil.copy2(crash, corpus / crash.name)
        print(f"{name}: {sum(1 for _ in old.iterdir()):,} inputs -> {sum(1 for _ in corpus.iterdir()):,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
