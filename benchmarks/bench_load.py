"""Load times of real files: the four Stable Baselines 2 fixtures and a 100 M-parameter agent file.

Prints the median of ``--repeats`` runs of :func:`~stable_baselines_io.format.files.read_agent_file`
per file (safe mode, parameters and data), so the cost of the safe-loading checks can be compared
before and after a change (``--repo`` picks the checkout to measure).

    python benchmarks/bench_load.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections import OrderedDict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ("dqn__CartPole-v1__deep-q-learning.zip", "ppo2__CartPole-v1.pkl", "ppo2__CartPole-v1__TrailerReverse.zip",
            "ppo2__Pendulum-v0.pkl")
BIG_PARAMETERS = 100_000_000
BIG_ARRAYS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="checkout whose library is measured")
    parser.add_argument("--fixtures", type=Path, default=REPO_ROOT.parent / "shared" / "fixtures" / "sb2")
    parser.add_argument("--big-file", type=Path, default=None, help="reuse this 100 M-parameter file")
    parser.add_argument("--repeats", type=int, default=7)
    arguments = parser.parse_args()
    sys.path.insert(0, str(arguments.repo))
    import numpy as np

    from stable_baselines_io.format.files import read_agent_file, save_to_file

    warnings.simplefilter("ignore", DeprecationWarning)
    with tempfile.TemporaryDirectory() as folder:
        big_file = arguments.big_file
        if big_file is None or not big_file.exists():
            big_file = big_file or Path(folder) / "big.zip"
            size = BIG_PARAMETERS // BIG_ARRAYS
            params = OrderedDict((f"model/w{index}:0", np.full(size, index, dtype=np.float32))
                                 for index in range(BIG_ARRAYS))
            save_to_file(big_file, data={"gamma": 0.99}, params=params)
            del params
        files = [arguments.fixtures / name for name in FIXTURES] + [big_file]
        results = {}
        for path in files:
            read_agent_file(path)  # warm the page cache and the imports
            times = []
            for _ in range(arguments.repeats):
                start = time.perf_counter()
                read_agent_file(path)
                times.append(time.perf_counter() - start)
            results[path.name] = statistics.median(times) * 1000
            print(f"{path.name:45s} median {results[path.name]:9.2f} ms over {arguments.repeats} runs")
        print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
