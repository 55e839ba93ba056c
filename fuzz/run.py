"""``make fuzz``: fuzz the read path for a time budget and report what was found.

    python -m fuzz.run --seconds 600 [--engine hypothesis|atheris|both]

- ``hypothesis``: inputs drawn by :func:`fuzz.strategies.fuzz_inputs` (random choices) are
  loaded by ``read_agent_file``, ``sb-io inspect`` or ``sb-io convert`` in a long-lived worker
  process (``tests/limits.py``) capped in address space, with a per-input timeout; the worker
  is restarted after a crash. A crash, a hang, a raw (non-library) exception, a real
  ``MemoryError``, more than 2 s or 100 MB for one input is a finding.
- ``atheris``: the same strategies driven by libFuzzer's coverage feedback (``atheris``, when
  installed), loading in-process; libFuzzer itself catches crashes, timeouts and memory blow-ups.

Findings are written to ``fuzz/findings/`` (the input, and a ``.txt`` saying what happened). The
exit status is 1 when anything was found.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FINDINGS_DIR = REPO_ROOT / "fuzz" / "findings"
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

LOADERS = ("read_agent_file", "inspect", "convert", "load_statistics")
BUFFER_BYTES = 16 * 1024
#: A load may produce its whole budget (e.g. 660 MB for a 600 KB file whose members really
#: decompress that much): beyond the regression limits (2 s, 100 MB), it may take this much more
#: memory per byte of budget, and time at this many bytes per second. More is a budget overrun.
BUDGET_MEMORY_FACTOR = 1.25
BUDGET_BYTES_PER_SECOND = 40 * 10**6
#: Inputs are at most this big, so their default budget (1100 x size) stays under the worker's cap.
MAX_INPUT_BYTES = 2 * 2**20
WORKER_HEADROOM_BYTES = 4 * 2**30


def record_finding(data: bytes, kind: str, description: str) -> Path:
    """Write a finding's input and description to :data:`FINDINGS_DIR`; :return: the input's path"""
    FINDINGS_DIR.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    extension = "zip" if data[:2] == b"PK" else "pkl"
    path = FINDINGS_DIR / f"{kind}-{digest}.{extension}"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(description + "\n")
    return path


def fuzz_with_hypothesis(seconds: float, seeds: list[bytes]) -> tuple[int, int]:
    """:return: ``(inputs tried, findings)``"""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from limits import LOAD_GROWTH_BYTES, LOAD_SECONDS, LimitedWorker

    from fuzz.strategies import fuzz_inputs
    from stable_baselines_io.format.budget import LoadBudget

    counts: collections.Counter[str] = collections.Counter()
    findings = 0
    with tempfile.TemporaryDirectory(prefix="sbio-fuzz-") as folder:
        warm = Path(folder) / "warm.zip"
        warm.write_bytes(seeds[-1])
        # the cap must exceed any input's own budget (checked below), or it, not the budget, stops the load
        worker = LimitedWorker(LOADERS, warmup=[("read_agent_file", str(warm)), ("convert", str(warm)),
                                                ("inspect", str(warm))], headroom_bytes=WORKER_HEADROOM_BYTES)
        target = Path(folder) / "input.zip"

        @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
        @given(fuzz_inputs(seeds), st.sampled_from(LOADERS))
        def one_input(data: bytes, loader: str) -> None:
            nonlocal findings
            if len(data) > MAX_INPUT_BYTES:
                return
            target.write_bytes(data)
            outcome = worker.run(loader, target)
            counts[loader] += 1
            counts[outcome.status] += 1
            # a load may legitimately use its whole budget: memory and time are checked against it
            budget = LoadBudget.for_file(len(data)).limit
            problems = outcome.problems(load_seconds=LOAD_SECONDS + budget / BUDGET_BYTES_PER_SECOND,
                                        growth_bytes=LOAD_GROWTH_BYTES + int(BUDGET_MEMORY_FACTOR * budget))
            if outcome.status == "raised" and target.name not in outcome.message:
                problems.append(f"the error does not name the file: {outcome.exception}: {outcome.message[:300]}")
            if problems:
                findings += 1
                saved = record_finding(data, outcome.status, f"{loader}: " + "\n".join(problems))
                print(f"FINDING ({loader}): {problems[0][:300]} -> {saved}", flush=True)

        deadline = time.monotonic() + seconds
        next_report = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                one_input.hypothesis.fuzz_one_input(os.urandom(BUFFER_BYTES))
                if time.monotonic() > next_report:
                    next_report += 60
                    print(f"  ... {sum(counts[loader] for loader in LOADERS)} inputs, {dict(counts)}", flush=True)
        finally:
            worker.close()
    tried = sum(counts[loader] for loader in LOADERS)
    print(f"hypothesis engine: {tried} inputs tried in {seconds:.0f} s ({dict(counts)}); worker restarts "
          f"{worker.restarts}; findings {findings}")
    return tried, findings


def fuzz_with_atheris(seconds: float) -> tuple[int, int]:
    """:return: ``(inputs tried, findings)``; ``(0, 0)`` when atheris is not installed"""
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris engine: atheris is not installed (pip install atheris): skipped")
        return 0, 0
    FINDINGS_DIR.mkdir(parents=True, exist_ok=True)
    # -timeout=0: libFuzzer's SIGALRM-based timeout kills the Python process outright; hangs are
    # caught by the subprocess timeout here and per input by the Hypothesis engine's worker
    command = [sys.executable, "-m", "fuzz.atheris_target", f"-max_total_time={int(seconds)}", "-timeout=0",
               "-rss_limit_mb=4096", "-max_len=16384", "-len_control=0", f"-artifact_prefix={FINDINGS_DIR}/atheris-",
               "-print_final_stats=1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")]),
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                   timeout=seconds + 300)
        stderr, returncode = completed.stderr, completed.returncode
    except subprocess.TimeoutExpired as timeout:
        stderr = (timeout.stderr or b"").decode(errors="replace") if isinstance(timeout.stderr, bytes) \
            else timeout.stderr or ""
        returncode = -1
        stderr += "\nHANG: the atheris process did not finish in time"
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", stderr)
    progress = re.findall(r"^#(\d+)", stderr, flags=re.MULTILINE)  # when no final stats were printed
    tried = int(executed.group(1)) if executed else int(progress[-1]) if progress else 0
    found = returncode != 0
    if found:
        log = FINDINGS_DIR / "atheris-stderr.log"
        log.write_text(stderr)
        print(stderr[-4000:] + f"\n(the whole output: {log})")
    print(f"atheris engine: {tried} inputs tried in {seconds:.0f} s; exit status {returncode}; "
          f"findings {int(found)}")
    return tried, int(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600, help="total time budget")
    parser.add_argument("--engine", choices=("hypothesis", "atheris", "both"), default="both")
    arguments = parser.parse_args()
    from fuzz.seeds import all_seeds

    started = time.monotonic()
    seeds = all_seeds()
    print(f"{len(seeds)} seed files; fuzzing for {arguments.seconds:.0f} s with {arguments.engine}", flush=True)
    remaining = max(1.0, arguments.seconds - (time.monotonic() - started))
    results = []
    if arguments.engine in ("atheris", "both"):
        results.append(fuzz_with_atheris(remaining / 2 if arguments.engine == "both" else remaining))
    if arguments.engine in ("hypothesis", "both"):
        remaining = max(1.0, arguments.seconds - (time.monotonic() - started))
        results.append(fuzz_with_hypothesis(remaining, seeds))
    tried, findings = sum(result[0] for result in results), sum(result[1] for result in results)
    print(f"TOTAL: {tried} inputs tried, {findings} findings" + (f" (see {FINDINGS_DIR})" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
