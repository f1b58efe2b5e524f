"""Announcements coalesce, and each caller is followed by a NOTIFY begun after it."""

from __future__ import annotations

import threading

from postventa.store.announcer import Announcer


class _Recording(Announcer):
    """The real coalescing, with the NOTIFY recorded instead of sent; the first
    one waits until released, standing for a slow round trip."""

    def __init__(self) -> None:
        super().__init__("postgresql+psycopg://postgres@127.0.0.1:5432/none")
        self.started: list[float] = []
        self.first_begun = threading.Event()
        self.release = threading.Event()
        self.clock = 0.0
        self.clock_lock = threading.Lock()

    def tick(self) -> float:
        with self.clock_lock:
            self.clock += 1
            return self.clock

    def _notify(self) -> None:
        self.started.append(self.tick())
        if len(self.started) == 1:
            self.first_begun.set()
            assert self.release.wait(5)
        self.sent += 1


def test_calls_during_a_notify_wait_for_none_and_get_one_more_after_it() -> None:
    announcer = _Recording()
    first = threading.Thread(target=announcer.announce)
    first.start()
    assert announcer.first_begun.wait(5)

    asked = []
    for _ in range(5):
        asked.append(announcer.tick())
        announcer.announce()  # returns at once: a NOTIFY is on its way
    assert len(announcer.started) == 1

    announcer.release.set()
    first.join(5)

    assert not first.is_alive()
    assert len(announcer.started) == 2
    assert announcer.started[1] > max(asked)


def test_a_lone_call_sends_one_notify() -> None:
    announcer = _Recording()
    announcer.release.set()

    announcer.announce()
    announcer.announce()

    assert announcer.sent == 2


def test_nothing_is_sent_after_close() -> None:
    announcer = _Recording()
    announcer.release.set()
    announcer.close()

    announcer.announce()

    assert announcer.sent == 0
