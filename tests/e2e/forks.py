"""postventa's commands as processes forked from one that imported postventa.

A fresh interpreter spends seconds importing postventa on a loaded machine, and
the crash campaigns start servers dozens of times. So each of their processes
is forked from a multiprocessing fork server that did the imports once; the
child is still a process of its own, with its own environment, files and
sockets, running the real command line (``serve``, ``worker``, ``sandbox`` and
the administrative commands).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from tests.e2e import child

_context: ForkServerContext | None = None


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(child.PRELOAD))
        _context = context
    return _context


class ForkedProcess:
    """A forked command, driven like a ``subprocess.Popen``."""

    def __init__(self, process: BaseProcess, args: list[str]) -> None:
        self._process = process
        self._args = args

    @classmethod
    def start(
        cls,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        err_path: Path | None = None,
        stdin_path: Path | None = None,
    ) -> ForkedProcess:
        """Fork ``postventa ARGS``; its output goes to ``log_path`` (and
        ``err_path`` for stderr, if given)."""
        process = _fork_server().Process(
            target=child.run_command,
            args=(
                args,
                env,
                str(log_path),
                str(err_path or log_path),
                stdin_path and str(stdin_path),
            ),
            daemon=False,
        )
        process.start()
        return cls(process, args)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self._args, timeout or 0.0)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def run_forked(
    args: list[str], env: dict[str, str], files: Path, stdin: str | None
) -> tuple[int, str, str]:
    """Run a command to its end, with its files at ``files`` plus a suffix:
    its exit code, what it printed on stdout and on stderr."""
    out, err, source = (files.with_suffix(s) for s in (".out", ".err", ".in"))
    if stdin is not None:
        source.write_text(stdin)
    process = ForkedProcess.start(
        args, env, out, err, source if stdin is not None else None
    )
    code = process.wait(timeout=120)
    return code, out.read_text(errors="replace"), err.read_text(errors="replace")
