"""Announcements coalesce, and each call is followed by a NOTIFY begun after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from postventa.store.announcer import Announcer


class _Recording(Announcer):
    """The real thread and coalescing, with each NOTIFY recorded instead of sent;
    the first one waits until released, standing for a slow round trip."""

    def __init__(self, min_gap: float = 0.0) -> None:
        super().__init__(
            "postgresql+psycopg://postgres@127.0.0.1:5432/none", min_gap=min_gap
        )
        self.started: list[int] = []
        self.first_begun = threading.Event()
        self.release = threading.Event()
        self.clock = 0
        self.clock_lock = threading.Lock()

    def tick(self) -> int:
        with self.clock_lock:
            self.clock += 1
            return self.clock

    def _notify(self) -> None:
        self.started.append(self.tick())
        if len(self.started) == 1:
            self.first_begun.set()
            assert self.release.wait(5)
        self.sent += 1


def _wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)


def test_calls_during_a_notify_return_at_once_and_share_one_more_after_it() -> None:
    announcer = _Recording()
    announcer.announce()
    assert announcer.first_begun.wait(5)

    asked = []
    for _ in range(5):
        asked.append(announcer.tick())
        announcer.announce()
    assert len(announcer.started) == 1  # none waited for the slow NOTIFY

    announcer.release.set()
    _wait_for(lambda: announcer.sent == 2)
    time.sleep(0.05)
    announcer.close()

    assert announcer.sent == 2
    assert announcer.started[1] > max(asked)


def test_a_call_after_each_notify_gets_its_own() -> None:
    announcer = _Recording()
    announcer.release.set()

    for expected in (1, 2, 3):
        announcer.announce()
        _wait_for(lambda n=expected: announcer.sent == n)
    announcer.close()

    assert announcer.sent == 3


def test_notifies_are_spaced_by_the_minimum_gap() -> None:
    announcer = _Recording(min_gap=0.2)
    announcer.release.set()
    announcer.announce()
    _wait_for(lambda: announcer.sent == 1)

    announcer.announce()
    time.sleep(0.1)
    early = announcer.sent
    _wait_for(lambda: announcer.sent == 2)
    announcer.close()

    assert early == 1
    assert announcer.sent == 2


def test_nothing_is_sent_after_close() -> None:
    announcer = _Recording()
    announcer.release.set()
    announcer.close()

    announcer.announce()
    time.sleep(0.05)

    assert announcer.sent == 0
    assert announcer.asked == 0
