"""The atheris (libFuzzer) target: coverage-guided inputs from the same strategies, loaded in-process.

Run by :mod:`fuzz.run` (``python -m fuzz.atheris_target -max_total_time=...``). An input whose load
raises anything but the library's exceptions, or takes more than :data:`SLOW_SECONDS`, is written
to ``fuzz/findings/`` and reported to libFuzzer as a crash; crashes and memory blow-ups
(``-rss_limit_mb``) are libFuzzer's own findings.
"""

from __future__ import annotations

import gc
import io
import sys
import time
import traceback
import warnings

import atheris
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with atheris.instrument_imports(include=["stable_baselines_io", "zipfile", "json"]):
    from stable_baselines_io.conversion import convert_file
    from stable_baselines_io.exceptions import StableBaselinesIOError
    from stable_baselines_io.format.files import read_agent_file
    from stable_baselines_io.inspection import inspect_file

from fuzz.run import record_finding  # noqa: E402
from fuzz.seeds import all_seeds  # noqa: E402
from fuzz.strategies import fuzz_inputs  # noqa: E402

LOADERS = {
    "read_agent_file": lambda data: read_agent_file(io.BytesIO(data), load_state=True),
    "inspect": lambda data: inspect_file(io.BytesIO(data)),
    "convert": lambda data: convert_file(io.BytesIO(data), io.BytesIO()),
}
SEEDS = all_seeds()
#: Coverage instrumentation slows the loaders several times: the 2 s limit is checked, on real
#: speed, by the Hypothesis engine's worker; this catches what is slow even so.
SLOW_SECONDS = 10.0


@settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(fuzz_inputs(SEEDS), st.sampled_from(sorted(LOADERS)))
def one_input(data: bytes, loader: str) -> None:
    warnings.simplefilter("ignore")
    # Hypothesis times garbage collection with a gc callback; called at the bottom of the deepest
    # JSON recursion that json.loads allows, it overflows Python's recursion margin and aborts the
    # process (a harness artifact: loads outside Hypothesis have no such callback)
    gc.callbacks[:] = [callback for callback in gc.callbacks
                       if not getattr(callback, "__module__", "").startswith("hypothesis")]
    start = time.perf_counter()
    try:
        LOADERS[loader](data)
    except StableBaselinesIOError:
        pass
    except BaseException as error:
        where = "".join(traceback.format_tb(error.__traceback__))
        description = f"{loader}: {type(error).__module__}.{type(error).__name__}: {error}\n{where}"
        record_finding(data, "raw-exception", description)
        raise
    elapsed = time.perf_counter() - start
    if elapsed > SLOW_SECONDS:
        record_finding(data, "slow", f"{loader}: {elapsed:.2f} s")
        raise AssertionError(f"{loader} took {elapsed:.2f} s")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input.hypothesis.fuzz_one_input)
    atheris.Fuzz()
