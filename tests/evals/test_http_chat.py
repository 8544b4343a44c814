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
