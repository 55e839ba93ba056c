"""Save and load throughput of one agent file on a local path, ``memory://`` and S3 (moto's server
on the loopback address, reached through s3fs over HTTP), for docs/scaling.md.

    PYTHONPATH=. python benchmarks/bench_object_storage.py --megabytes 256

Moto keeps objects in its own process, so the S3 numbers measure the client stack (s3fs,
aiobotocore, HTTP on loopback, multipart uploads, ranged reads) and moto, not a network.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from s3_server import BUCKET, running_s3_server  # noqa: E402

from stable_baselines_io.format.files import load_from_file, save_to_file  # noqa: E402


def measure(target: str, params: OrderedDict, storage_options: dict | None, repeats: int) -> tuple[float, float]:
    """Best save and load times (s) of ``params`` at ``target``."""
    saves, loads = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        save_to_file(target, data={}, params=params, storage_options=storage_options)
        saves.append(time.perf_counter() - start)
        start = time.perf_counter()
        load_from_file(target, storage_options=storage_options, max_bytes=2**40)
        loads.append(time.perf_counter() - start)
    return min(saves), min(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    params = OrderedDict([("w:0", np.random.default_rng(0).standard_normal(arguments.megabytes * 2**20 // 8))])
    megabytes = params["w:0"].nbytes / 2**20
    with tempfile.TemporaryDirectory() as folder, running_s3_server() as server:
        targets = {
            "local path": (str(Path(folder) / "agent.zip"), None),
            "memory://": (f"memory://{uuid.uuid4().hex}/agent.zip", None),
            "s3:// (moto, loopback)": (f"s3://{BUCKET}/{uuid.uuid4().hex}/agent.zip", server.storage_options()),
        }
        print(f"| Target | Save (MiB/s) | Load (MiB/s) |  ({megabytes:.0f} MiB agent, best of {arguments.repeats})")
        print("|--------|-------------:|-------------:|")
        for name, (target, options) in targets.items():
            save_seconds, load_seconds = measure(target, params, options, arguments.repeats)
            print(f"| {name} | {megabytes / save_seconds:.0f} | {megabytes / load_seconds:.0f} |")


if __name__ == "__main__":
    main()
