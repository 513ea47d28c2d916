"""Every official DTDL v2, v3 and v4 conformance case must get the expected verdict."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.dtdl.conformance import CASES_DIR, CASES_DIR_V4, Case, accepts, load_cases
from tests.requirements import missing

for _folder in (CASES_DIR, CASES_DIR_V4):
    if not _folder.is_dir():
        missing(f"conformance cases not found at {_folder}", module_level=True)

CASES = load_cases() + load_cases(CASES_DIR_V4)
BY_RULE: dict[str, list[Case]] = defaultdict(list)
for _case in CASES:
    BY_RULE[_case.rule].append(_case)

# Rules the parser is known to get wrong, with the reason. Empty: every case agrees.
KNOWN_MISSES: dict[str, str] = {}


@pytest.mark.parametrize("rule", sorted(BY_RULE))
def test_rule(rule: str) -> None:
    if rule in KNOWN_MISSES:
        pytest.xfail(KNOWN_MISSES[rule])
    wrong = []
    for case in BY_RULE[rule]:
        got, errors = accepts(case)
        if got != case.valid:
            wrong.append(f"case {case.index}: expected valid={case.valid}, got errors={errors[:3]}")
    assert not wrong, "\n".join(wrong)


def test_pass_rate_per_version() -> None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in CASES:
        got, _ = accepts(case)
        totals[case.version][0] += got == case.valid
        totals[case.version][1] += 1
    assert set(totals) == {"V2", "V3", "V4"}
    for version, (ok, total) in totals.items():
        assert ok / total >= 0.99, f"{version}: {ok}/{total}"
