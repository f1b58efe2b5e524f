"""Sample a running process with py-spy and rank where its Python CPU time goes."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE = 200
OUTSIDE = "(no postventa function: the server, the event loop)"
# postventa's frames that start the process: every sample passes through them.
_ENTRY_FILES = (
    "postventa/__main__.py",
    "postventa/cli",
    "postventa/bootstrap.py",
)


@dataclass
class Profile:
    """Where the samples of one process went."""

    case: str
    samples: int = 0
    seconds: float = 0.0
    # By the innermost postventa function on the stack: the function, with what
    # it calls in libraries, but not the postventa functions it calls.
    ours: Counter[str] = field(default_factory=Counter)
    # By the running (innermost) frame, in any code.
    running: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    packages: Counter[str] = field(default_factory=Counter)

    @property
    def gil_share(self) -> float:
        """The share of the sampled time in which some thread held the GIL."""
        return self.samples / (self.seconds * RATE) if self.seconds else 0.0

    def top(self, counts: Counter[str], count: int = 12) -> list[tuple[str, float]]:
        return [(name, n / self.samples) for name, n in counts.most_common(count)]

    def shares(self, counts: Counter[str], count: int = 6) -> str:
        """The largest entries of `counts` as "name 40%, other 20%"."""
        return ", ".join(
            f"{name} {share:.0%}" for name, share in self.top(counts, count)
        )


@contextmanager
def sampling(pid: int, case: str, out: Path) -> Iterator[Profile]:
    """Sample the thread holding `pid`'s GIL during the block, which is where its
    Python code spends CPU; the profile is filled in when the block ends."""
    command = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(RATE)]
    command += ["--gil", "--format", "raw", "--nolineno", "--output", str(out)]
    spy = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    profile = Profile(case)
    started = time.monotonic()
    try:
        yield profile
    finally:
        profile.seconds = time.monotonic() - started
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
    read(out, profile)


def read(raw: Path, profile: Profile) -> None:
    """Add py-spy's raw output (one `frame;frame;... count` line a stack)."""
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        profile.samples += samples
        profile.ours[_innermost_ours(frames)] += samples
        profile.running[frames[-1]] += samples
        profile.threads[_thread(frames)] += samples
        profile.packages[_package(frames[-1])] += samples


def _innermost_ours(frames: list[str]) -> str:
    for frame in reversed(frames):
        is_ours = "(postventa/" in frame
        if is_ours and not any(entry in frame for entry in _ENTRY_FILES):
            return frame
    return OUTSIDE


def _thread(frames: list[str]) -> str:
    """The thread a stack is from: the main thread, or the function a thread runs."""
    for outer, inner in itertools.pairwise(frames):
        if outer.startswith("Thread.run "):
            if inner.startswith("_worker (concurrent"):
                return "thread pool"
            return inner.split(" (")[0]
    return "main thread (event loop)"


def _package(frame: str) -> str:
    """The package of a frame's file: `sqlalchemy` for `f (sqlalchemy/sql/x.py)`."""
    where = frame.rsplit(" (", 1)[-1].rstrip(")")
    return where.split("/")[0].removesuffix(".py")
