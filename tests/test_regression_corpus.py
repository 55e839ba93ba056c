"""Every file of the regression corpus, loaded in a subprocess with memory and time limits.

``tests/regression/corpus/<attack-class>__<name>.<ext>`` holds one hostile or unusual file per
attack class, written by ``tests/regression/make_corpus.py`` (archive, compression and ``.npy``
attacks) and ``tests/safe_mode_attacks.py`` (pickle and JSON value attacks). Its
``<attack-class>__<name>.<ext>.expect`` names on its first line the exception class every entry
point must raise for it, or says ``loads``; each further line ``<entry point>: <outcome>`` gives
the outcome of one entry point where it differs (``sb-io inspect`` describes a value that cannot
be rebuilt instead of failing; ``sb-io convert`` cannot write some loadable values without pickle).
Each file goes through ``read_agent_file``, ``sb-io inspect``, ``sb-io convert`` and ``PPO.load`` /
``A2C.load`` / ``DQN.load`` (for a file that loads: only the algorithm it holds), each time in a
worker process capped in address space (see ``limits.py``): a crash, a hang, more than
``LOAD_SECONDS`` of CPU time or ``LOAD_GROWTH_BYTES`` of memory growth fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from limits import LimitedWorker, Outcome

CORPUS_DIR = Path(__file__).resolve().parent / "regression" / "corpus"
CORPUS = sorted(path for path in CORPUS_DIR.iterdir() if path.suffix != ".expect") if CORPUS_DIR.is_dir() else []
FORMAT_LOADERS = ("read_agent_file", "inspect", "convert")
MODEL_LOADERS = ("PPO.load", "A2C.load", "DQN.load")
LOADS = "loads"
LEGITIMATE_AGENTS = {"PPO.load": "legitimate__ppo-cartpole.zip", "A2C.load": "legitimate__a2c-cartpole.zip",
                     "DQN.load": "legitimate__dqn-cartpole.zip"}


def expected_outcome(path: Path, loader: str | None = None) -> str:
    """The outcome ``loader`` must have on the corpus file ``path`` (its ``.expect`` file's)."""
    sidecar = path.with_name(path.name + ".expect")
    assert sidecar.is_file(), f"{path.name} has no {sidecar.name} naming its expected outcome"
    default, *lines = sidecar.read_text().strip().splitlines()
    overrides = dict(line.split(": ", 1) for line in lines)
    assert set(overrides) <= set(FORMAT_LOADERS + MODEL_LOADERS), f"{sidecar.name}: unknown entry points"
    return overrides.get(loader, default).strip() if loader is not None else default.strip()


@pytest.fixture(scope="module")
def format_worker() -> Iterator[LimitedWorker]:
    # reading a real agent's data imports its policy's module (TensorFlow): done before the limits apply
    warmup = [("read_agent_file", str(CORPUS_DIR / "legitimate__ppo-cartpole.zip")),
              ("convert", str(CORPUS_DIR / "legitimate__dqn-cartpole.zip"))]
    worker = LimitedWorker(FORMAT_LOADERS, warmup=warmup)
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def model_worker() -> Iterator[LimitedWorker]:
    # TensorFlow's first model build maps its thread pools: done before the limits apply
    worker = LimitedWorker(MODEL_LOADERS, warmup=[(loader, str(CORPUS_DIR / name))
                                                  for loader, name in LEGITIMATE_AGENTS.items()])
    yield worker
    worker.close()


def check(outcome: Outcome, expected: str) -> None:
    problems = outcome.problems()
    assert not problems, f"{outcome.loader} on {Path(outcome.path).name}: " + "; ".join(problems)
    cli_status = (outcome.value or {}).get("cli_status")
    if expected == LOADS:
        assert outcome.status == "loaded" and cli_status in (None, 0), \
            f"{outcome.loader} should load {Path(outcome.path).name}: {outcome.exception}: {outcome.message}" \
            f"{(outcome.value or {}).get('stderr', '')}"
    elif cli_status is not None:
        stderr = outcome.value["stderr"]  # type: ignore[index]
        assert cli_status == 2 and stderr.startswith(f"sb-io {outcome.loader}: error: "), stderr
        assert Path(outcome.path).name in stderr, f"the error does not name the file: {stderr}"
    else:
        assert outcome.status == "raised", f"{outcome.loader} loaded {Path(outcome.path).name}, expected {expected}"
        assert expected in outcome.exception_classes, \
            f"{outcome.loader}: expected {expected}, received {outcome.exception}: {outcome.message}"
        assert Path(outcome.path).name in outcome.message, f"the error does not name the file: {outcome.message}"


def test_the_corpus_has_a_file_per_attack_class() -> None:
    classes = {path.name.split("__")[0] for path in CORPUS}
    assert {"nested-compression-bomb", "compressed-npy-header-bomb", "negative-member-offsets", "deep-json",
            "repeated-names", "absurd-member-count", "member-name-tricks", "zlib-error", "lzma-error",
            "eof-error", "unicode-error", "json-error", "type-error", "legitimate",
            "dtype-state", "array-state", "array-interface", "rng-state", "allocation", "hash-collisions", "nesting",
            "refused-deep", "json-array", "json-space", "json-rng", "json-keys", "json-nesting",
            "odd-but-legitimate"} <= classes
    for path in CORPUS:
        assert "__" in path.name, f"{path.name}: expected <attack-class>__<name>.<ext>"
        expected_outcome(path)


@pytest.mark.parametrize("loader", FORMAT_LOADERS)
@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_format_entry_points(format_worker: LimitedWorker, path: Path, loader: str) -> None:
    check(format_worker.run(loader, path), expected_outcome(path, loader))


def _model_cases() -> list[tuple[Path, str]]:
    """Every corpus file with every model loader, but legitimate files only with their own algorithm's."""
    return [(path, loader) for path in CORPUS for loader in MODEL_LOADERS
            if expected_outcome(path, loader) != LOADS or path.name == LEGITIMATE_AGENTS[loader]]


@pytest.mark.parametrize(("path", "loader"), _model_cases(), ids=lambda case: getattr(case, "name", case))
def test_model_load(model_worker: LimitedWorker, path: Path, loader: str) -> None:
    check(model_worker.run(loader, path), expected_outcome(path, loader))


def test_the_harness_reports_crashes_hangs_memory_and_restarts() -> None:
    worker = LimitedWorker([], hang_seconds=3, headroom_bytes=400 * 2**20)
    try:
        crashed = worker.run("selftest:crash", "0")
        assert crashed.status == "crashed" and "signal 11" in crashed.detail and crashed.problems()
        hung = worker.run("selftest:hang", "60")
        assert hung.status == "hung" and hung.problems()
        assert worker.restarts == 2
        grown = worker.run("selftest:allocate", str(150 * 10**6))
        assert grown.status == "loaded" and 140e6 < grown.rss_growth_bytes < 200e6
        assert any("grew by" in problem for problem in grown.problems())
        capped = worker.run("selftest:allocate", str(2 * 2**30))
        assert capped.status == "raised" and capped.memory_error and capped.problems()
        small = worker.run("selftest:allocate", str(10**6))
        assert small.status == "loaded" and not small.problems()
    finally:
        worker.close()


def test_the_harness_limits_cpu_time_not_wall_time() -> None:
    worker = LimitedWorker([], hang_seconds=60, cpu_limit_seconds=4, headroom_bytes=400 * 2**20)
    try:
        waiting = worker.run("selftest:hang", "2.5")  # slow on the clock, but no work: a busy machine looks so
        assert waiting.status == "loaded" and waiting.seconds >= 2.5 and waiting.cpu_seconds < 0.5
        assert not waiting.problems()
        busy = worker.run("selftest:spin", "2.5")
        assert busy.status == "loaded" and busy.cpu_seconds >= 2.5
        assert any(problem.startswith("took 2.") and "of CPU time (limit 2.0 s" in problem
                   for problem in busy.problems()), busy.problems()
        runaway = worker.run("selftest:spin", "60")
        assert runaway.status == "crashed" and runaway.seconds < 59, runaway
        assert "more than 4 s of CPU time" in runaway.detail and runaway.problems()
        assert worker.run("selftest:spin", "3").status == "loaded"  # a fresh worker, a fresh budget
    finally:
        worker.close()
