"""The child side of :mod:`limits`: a worker that loads files one at a time under limits.

Started as ``python limited_child.py CONFIG_JSON``. It imports what its loaders need, runs the
warm-up loads, caps its address space (``RLIMIT_AS``) at its size then plus a headroom, prints
``READY`` and then answers one JSON request per stdin line (``{"loader": ..., "path": ...}``)
with one JSON line: the outcome, the exception (class, classes it derives from, module, message,
whether a real ``MemoryError`` was hit on the way), the load's wall and CPU time and its peak memory
growth. Each load runs under a CPU-time cap (``RLIMIT_CPU`` set to the CPU time used so far plus the
configured ``cpu_limit_seconds``): a busy loop is killed by ``SIGXCPU`` however busy the machine is.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmSize``, ``VmRSS``, ``VmHWM``), in bytes."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_peak() -> bool:
    """Reset the peak resident size (``VmHWM``) to the current one; False where the kernel cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    """CPU time (user + system, every thread) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cap_cpu_seconds(seconds: float | None) -> None:
    """Let this process use ``seconds`` more CPU time before ``SIGXCPU`` kills it (None: no cap)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = hard if seconds is None else math.ceil(_cpu_seconds() + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cli(command: str) -> Callable[[str], Any]:
    def run(path: str) -> Any:
        from stable_baselines_io.cli import main

        stdout, stderr = io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            arguments = [command, path] + ([str(Path(folder) / "converted.zip")] if command == "convert" else [])
            status = main(arguments)
        return {"cli_status": status, "stderr": stderr.getvalue()}
    return run


def _read_agent_file(path: str) -> Any:
    from stable_baselines_io.format.files import read_agent_file

    read_agent_file(path, load_state=True)


def _model_load(algorithm: str) -> Callable[[str], Any]:
    def run(path: str) -> Any:
        from stable_baselines_io.a2c import A2C
        from stable_baselines_io.dqn import DQN
        from stable_baselines_io.ppo import PPO

        {"PPO": PPO, "A2C": A2C, "DQN": DQN}[algorithm].load(path)
    return run


def _load_statistics(path: str) -> Any:
    from stable_baselines_io.format.normalization import load_statistics

    load_statistics(path)


def _crash(_: str) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _hang(seconds: str) -> None:
    time.sleep(float(seconds))


def _spin(seconds: str) -> None:
    started = time.process_time()
    while time.process_time() - started < float(seconds):
        pass


def _allocate(n_bytes: str) -> None:
    block = bytearray(int(n_bytes))
    block[::4096] = b"x" * len(block[::4096])  # touch every page


#: What the worker can run on a path. The ``selftest:`` ones check the harness itself (their
#: "path" is a number of seconds or bytes: ``hang`` sleeps, ``spin`` burns CPU time).
LOADERS: dict[str, Callable[[str], Any]] = {
    "selftest:crash": _crash,
    "selftest:hang": _hang,
    "selftest:spin": _spin,
    "selftest:allocate": _allocate,
    "read_agent_file": _read_agent_file,
    "load_statistics": _load_statistics,
    "inspect": _cli("inspect"),
    "convert": _cli("convert"),
    "PPO.load": _model_load("PPO"),
    "A2C.load": _model_load("A2C"),
    "DQN.load": _model_load("DQN"),
}


def _memory_error_in_chain(error: BaseException | None) -> bool:
    """Whether a real ``MemoryError`` (the address-space cap, not a load budget) was raised on the way."""
    from stable_baselines_io.exceptions import LoadBudgetExceededError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, MemoryError) and not isinstance(error, LoadBudgetExceededError):
            return True
        error = error.__cause__ or error.__context__
    return False


def _shortened(text: str, keep: int = 1500) -> str:
    return text if len(text) <= 2 * keep else f"{text[:keep]} [...] {text[-keep:]}"


def run_one(loader: str, path: str, cpu_limit_seconds: float | None = None) -> dict[str, Any]:
    """Run one load and describe what happened.

    :param loader: a name from :data:`LOADERS`
    :param path: the file
    :param cpu_limit_seconds: CPU time the load may use before ``SIGXCPU`` kills the process (None: no cap)
    """
    warnings.simplefilter("ignore")
    baseline = _status_bytes("VmRSS") or 0
    exact_peak = _reset_peak()
    max_rss_before = _max_rss_bytes()
    _cap_cpu_seconds(cpu_limit_seconds)
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    result: dict[str, Any] = {"loader": loader, "path": path}
    try:
        value = LOADERS[loader](path)
        result.update(outcome="loaded", value=value if isinstance(value, dict) else None)
    except BaseException as error:  # noqa: BLE001 - everything is reported to the parent
        result.update(
            outcome="raised",
            exception=type(error).__name__,
            exception_classes=[cls.__name__ for cls in type(error).__mro__],
            module=type(error).__module__,
            message=_shortened(str(error)),
            traceback=traceback.format_exc()[-4000:],
            memory_error=_memory_error_in_chain(error),
        )
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = _cpu_seconds() - cpu_start
    _cap_cpu_seconds(None)
    peak = _status_bytes("VmHWM") if exact_peak else None
    if peak is None:  # no VmHWM reset: getrusage's peak, exact for a fresh worker's first load
        peak = _max_rss_bytes() if _max_rss_bytes() > max_rss_before else baseline
    result["rss_growth_bytes"] = max(0, peak - baseline)
    return result


def main() -> None:
    config = json.loads(sys.argv[1])
    for loader, path in config.get("warmup", []):
        run_one(loader, path)
    address_space = _status_bytes("VmSize")
    if address_space is not None and config.get("headroom_bytes"):
        limit = address_space + int(config["headroom_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print("READY", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        outcome = run_one(request["loader"], request["path"], config.get("cpu_limit_seconds"))
        print(json.dumps(outcome, default=repr), flush=True)


if __name__ == "__main__":
    main()
