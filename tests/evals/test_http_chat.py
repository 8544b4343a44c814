"""The HTTP benchmark's CPU figure reads a process's user + system time from /proc."""

from __future__ import annotations

import os
import time

from evals.benchmarks.http_chat import _cpu_s


def test_cpu_seconds_of_a_process_grow_with_its_work() -> None:
    before = _cpu_s(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert 0.15 <= _cpu_s(os.getpid()) - before < 5


def test_cpu_seconds_include_the_children_of_a_supervisor() -> None:
    """``--api-processes N`` measures uvicorn's supervisor, whose N children do the work."""
    import subprocess
    import sys

    busy = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", busy])
    try:
        time.sleep(1.5)  # the child's loop is done; it sleeps, still our child
        assert child.poll() is None
        assert _cpu_s(os.getpid()) - _cpu_s_own() >= 0.3
    finally:
        child.kill()
        child.wait()


def _cpu_s_own() -> float:
    times = os.times()
    return times.user + times.system
