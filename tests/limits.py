"""Load untrusted files in a subprocess with memory and time limits.

A crash (a signal), a hang or a memory blow-up in the loader then fails one test (or is recorded
by the fuzzer) instead of killing the test run. :class:`LimitedWorker` keeps one child process
(``limited_child.py``) alive across loads, so TensorFlow is imported once, and restarts it after
a crash or a timeout:

    worker = LimitedWorker(["read_agent_file"])
    outcome = worker.run("read_agent_file", "suspicious.zip")
    assert outcome.status == "raised" and outcome.exception == "CorruptAgentFileError"

The child caps its address space (``RLIMIT_AS``) at its size after start-up plus a headroom,
and measures each load's peak resident memory above what it used before the load (``VmHWM``
reset through ``/proc/self/clear_refs``; ``resource.getrusage`` where that is unavailable).

Time is measured as what the file costs, not what the machine is doing: the per-load limit
applies to the child's CPU time (``getrusage``), which a loaded machine does not inflate, and
``RLIMIT_CPU`` kills a load that burns much more. Wall time only detects a hang (a load that
waits forever uses no CPU), with a timeout generous enough for a machine at load average 15.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHILD = Path(__file__).resolve().parent / "limited_child.py"
REPO_ROOT = CHILD.parents[1]
#: The load-time limit the issue sets for any file: seconds of the worker's CPU time.
LOAD_SECONDS = 2.0
#: CPU time after which the kernel kills a load (``RLIMIT_CPU``, then ``SIGXCPU``): the bound on work.
CPU_KILL_SECONDS = 30.0
#: The memory a load may take above the worker's baseline (the issue's 100 MB).
LOAD_GROWTH_BYTES = 100 * 10**6
#: Address space the child may map above its size after start-up: the hard cap that turns a
#: blow-up into a ``MemoryError`` (reported) instead of an exhausted machine.
HEADROOM_BYTES = 768 * 2**20
#: Wall time a load may take before the worker is declared hung and killed.
HANG_SECONDS = 90.0
#: How long a worker may take to start (TensorFlow's import is slow on a busy machine).
START_SECONDS = 180.0


@dataclass
class Outcome:
    """What one load did: ``status`` is ``loaded``, ``raised``, ``crashed`` or ``hung``."""

    loader: str
    path: str
    status: str
    exception: str | None = None
    exception_classes: list[str] = field(default_factory=list)
    module: str | None = None
    message: str = ""
    traceback: str = ""
    memory_error: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    rss_growth_bytes: int = 0
    value: dict[str, Any] | None = None
    detail: str = ""

    def problems(self, load_seconds: float = LOAD_SECONDS, growth_bytes: int = LOAD_GROWTH_BYTES) -> list[str]:
        """What is wrong whatever the expected result: crash, hang, time, memory, a raw error.

        :param load_seconds: the CPU time the load may take
        :param growth_bytes: the memory the load may add to the worker's
        :return: one sentence per problem
        """
        found = []
        if self.status in ("crashed", "hung"):
            found.append(f"{self.status}: {self.detail}")
        if self.cpu_seconds > load_seconds:
            found.append(f"took {self.cpu_seconds:.2f} s of CPU time (limit {load_seconds:.1f} s; "
                         f"{self.seconds:.2f} s of wall time)")
        if self.rss_growth_bytes > growth_bytes:
            found.append(f"grew by {self.rss_growth_bytes / 1e6:.0f} MB (limit {growth_bytes / 1e6:.0f} MB)")
        if self.memory_error:
            found.append("hit the address-space cap (a real MemoryError): no budget stopped it")
        if self.status == "raised" and self.module != "stable_baselines_io.exceptions":
            found.append(f"raw exception {self.module}.{self.exception}: {self.message[:300]}\n{self.traceback}")
        if self.value and self.value.get("cli_status") not in (None, 0, 2):
            found.append(f"CLI exit status {self.value['cli_status']}: {self.value.get('stderr', '')[:500]}")
        if self.value and self.value.get("cli_status") == 2:
            lines = self.value.get("stderr", "").splitlines()
            if len(lines) != 1 or not lines[0].startswith("sb-io "):
                found.append(f"CLI error is not one 'sb-io <cmd>: error: ...' line: {lines[:5]}")
        return found


class LimitedWorker:
    """A child Python process that runs loads one at a time, under memory and time limits.

    :param loaders: loader names of ``limited_child.LOADERS`` this worker will run (imported
        during start-up, before the limits apply)
    :param warmup: ``(loader, path)`` loads run before the limits (first-call costs)
    :param headroom_bytes: address space allowed above the size after start-up
    :param hang_seconds: a load taking longer (wall time) is killed and reported as ``hung``
    :param cpu_limit_seconds: a load using more CPU time is killed (``SIGXCPU``) and reported as ``crashed``
    """

    def __init__(self, loaders: Sequence[str], warmup: Sequence[tuple[str, str]] = (),
                 headroom_bytes: int = HEADROOM_BYTES, hang_seconds: float = HANG_SECONDS,
                 cpu_limit_seconds: float = CPU_KILL_SECONDS):
        self.loaders = list(loaders)
        self.warmup = [list(item) for item in warmup]
        self.headroom_bytes = headroom_bytes
        self.hang_seconds = hang_seconds
        self.cpu_limit_seconds = cpu_limit_seconds
        self.restarts = 0
        self._process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        config = json.dumps({"warmup": self.warmup, "headroom_bytes": self.headroom_bytes,
                             "cpu_limit_seconds": self.cpu_limit_seconds})
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                          os.environ.get("PYTHONPATH")])),
               "MALLOC_ARENA_MAX": "2", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        process = subprocess.Popen([sys.executable, str(CHILD), config], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self._read_line(process, START_SECONDS)
        if line is None or line.strip() != "READY":
            process.kill()
            process.wait()
            raise RuntimeError(f"the limited worker did not start (said {line!r})")
        return process

    @staticmethod
    def _read_line(process: subprocess.Popen[str], timeout: float) -> str | None:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    return process.stdout.readline()
            return None

    def run(self, loader: str, path: str | os.PathLike[str]) -> Outcome:
        """Load ``path`` with ``loader`` in the child.

        :param loader: a name from ``limited_child.LOADERS``
        :param path: the file
        :return: what happened
        """
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        process = self._process
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps({"loader": loader, "path": str(path)}) + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            pass
        started = time.monotonic()
        line = self._read_line(process, self.hang_seconds)
        if line:
            return Outcome(**{"status" if key == "outcome" else key: value for key, value in json.loads(line).items()})
        if line is None:
            process.kill()
            status, detail = "hung", f"no answer within {self.hang_seconds} s"
        else:
            status = "crashed"
        returncode = process.wait()
        if status == "crashed":
            signal_text = f" (signal {-returncode})" if returncode < 0 else ""
            if returncode == -signal.SIGXCPU:
                signal_text += f": it used more than {self.cpu_limit_seconds} s of CPU time"
            detail = f"the worker died with status {returncode}{signal_text}"
        self._process = None
        self.restarts += 1
        return Outcome(loader, str(path), status, seconds=time.monotonic() - started, detail=detail)

    def close(self) -> None:
        """Stop the child."""
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
