"""`Outage`: one warning when something goes, one line when it is back, nothing in between."""

from __future__ import annotations

import logging

import pytest

from twinforge.outages import Outage


def test_one_line_when_it_goes_and_one_when_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("twinforge.test-outage")
    outage = Outage("reading events", log)
    caplog.set_level(logging.INFO, logger="twinforge.test-outage")
    outage.ok()  # nothing to say while all is well
    for k in range(28):
        outage.failed(ConnectionError(f"server closed the connection ({k})"))
    assert outage.down and outage.failures == 28
    outage.ok()
    outage.ok()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("reading events failed: server closed the connection (0); retrying")
    assert caplog.records[0].exc_info is not None  # the first failure's traceback, once
    assert "reading events recovered after" in messages[1] and "(28 failed attempts)" in messages[1]
    assert not outage.down and outage.total == 28
    outage.failed(TimeoutError())  # a second outage is told again
    assert "reading events failed: TimeoutError" in caplog.records[-1].getMessage()


def test_a_child_that_keeps_dying_young_is_restarted_ever_more_slowly() -> None:
    from twinforge.outages import RestartDelay

    delay = RestartDelay(first=1.0, most=30.0, healthy=60.0)
    waits = [delay.after(ran_for=0.5) for _ in range(7)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert delay.after(ran_for=3600.0) == 1.0  # one that ran a while starts the count again
    assert delay.after(ran_for=0.5) == 2.0
