"""Load times of real files: the four Stable Baselines 2 fixtures and a 100 M-parameter agent file.

Times :func:`~stable_baselines_io.format.files.read_agent_file` (safe mode, data and parameters)
on each file. On a shared machine, separate runs of two versions differ by more than the change
being measured, so ``--compare OTHER_CHECKOUT`` runs this checkout and the other one side by side:
one long-lived process each, asked in turn for one load of the same file, many rounds; the
medians and their ratio are printed.

    python benchmarks/bench_load.py --rounds 15
    python benchmarks/bench_load.py --compare /tmp/previous-checkout --rounds 21
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
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

# The child: imports the library of the checkout given as argv[1], then times one load per stdin line.
CHILD = """
import sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
from stable_baselines_io.format.files import read_agent_file
for line in sys.stdin:
    path = line.strip()
    start = time.perf_counter()
    read_agent_file(path)
    print(time.perf_counter() - start, flush=True)
"""


def write_big_file(path: Path) -> None:
    import numpy as np

    sys.path.insert(0, str(REPO_ROOT))
    from stable_baselines_io.format.files import save_to_file

    size = BIG_PARAMETERS // BIG_ARRAYS
    params = OrderedDict((f"model/w{index}:0", np.full(size, index, dtype=np.float32)) for index in range(BIG_ARRAYS))
    save_to_file(path, data={"gamma": 0.99}, params=params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, default=None, help="another checkout, measured side by side")
    parser.add_argument("--fixtures", type=Path, default=REPO_ROOT.parent / "shared" / "fixtures" / "sb2")
    parser.add_argument("--big-file", type=Path, default=None, help="reuse (or write) the 100 M-parameter file here")
    parser.add_argument("--rounds", type=int, default=15)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    checkouts = {"this": REPO_ROOT, **({"other": arguments.compare} if arguments.compare else {})}
    with tempfile.TemporaryDirectory() as folder:
        big_file = arguments.big_file or Path(folder) / "big.zip"
        if not big_file.exists():
            write_big_file(big_file)
        files = [arguments.fixtures / name for name in FIXTURES] + [big_file]
        children = {name: subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    for name, root in checkouts.items()}

        def load(name: str, path: Path) -> float:
            child = children[name]
            child.stdin.write(f"{path}\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]
            return float(child.stdout.readline())  # type: ignore[union-attr]

        results: dict[str, dict[str, float]] = {}
        try:
            for path in files:
                times: dict[str, list[float]] = {name: [] for name in children}
                for name in children:
                    load(name, path)  # warm: imports, page cache
                for round_index in range(arguments.rounds):
                    order = list(children) if round_index % 2 == 0 else list(children)[::-1]
                    for name in order:
                        times[name].append(load(name, path))
                results[path.name] = {name: statistics.median(values) * 1000 for name, values in times.items()}
                line = "  ".join(f"{name} {value:8.2f} ms" for name, value in results[path.name].items())
                if "other" in children:
                    line += f"  ratio this/other {results[path.name]['this'] / results[path.name]['other']:.3f}"
                print(f"{path.name:42s} {line}", flush=True)
        finally:
            for child in children.values():
                child.stdin.close()  # type: ignore[union-attr]
                child.wait()
        time.sleep(0)
        print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
