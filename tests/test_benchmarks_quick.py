"""``benchmarks/run_all.py --smoke --skip-peers`` and ``--quick --skip-peers`` run end to end and write the
expected results (both ``slow``: every measurement is a process that imports TensorFlow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("variant", "sizes"), [
    pytest.param("--smoke", [100_000], marks=pytest.mark.slow),  # ~9 processes importing TensorFlow: minutes
    pytest.param("--quick", [1_000_000, 10_000_000], marks=pytest.mark.slow),
])
def test_quick_benchmark_writes_results_and_plot(tmp_path, variant, sizes):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run_all.py"), variant, "--skip-peers",
         "--output", str(tmp_path)],
        capture_output=True, text=True, env=environment, cwd=REPO_ROOT, timeout=580,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))

    assert {"command", "quick", "peers", "machine", "format", "small_agents", "parameters", "training",
            "targets", "wall_time_s"} <= results.keys()
    assert results["quick"] is True
    assert results["peers"]["skipped"] is True and "skip-peers" in results["peers"]["note"]
    assert {"nproc", "cpu_model", "memory_gib", "python", "versions"} <= results["machine"].keys()

    assert results["smoke"] is (variant == "--smoke")
    assert results["format"]["sizes"] == sizes
    for size in map(str, sizes):
        contenders = results["format"]["by_size"][size]["contenders"]
        assert set(contenders) == {"ours", "ours_file_object", "numpy"}
        for values in contenders.values():
            assert values["save_s"] > 0 and values["load_s"] > 0
            assert {"save_peak_extra_bytes", "load_peak_extra_bytes", "save_peak_extra_fraction",
                    "load_peak_extra_fraction"} <= values.keys()

    for algorithm in ("ppo", "dqn"):
        ours = results["small_agents"]["by_algorithm"][algorithm]["ours"]
        assert {"save_s", "load_s", "load_and_first_predict_s", "cold_load_and_first_predict_s",
                "save_without_fsync_s", "fsync_cost_s"} <= ours.keys()
        assert "sb3" not in results["small_agents"]["by_algorithm"][algorithm]

    parameters = results["parameters"]
    assert parameters["n_variables"] == 200
    assert {"get_parameters", "load_parameters", "tf_function_assign_tensors", "tf_function_read",
            "ratios"} <= parameters.keys()
    assert results["training"]["skipped"] is True
    assert [target["target"] for target in results["targets"]][:2] == ["save time / safetensors",
                                                                       "load time / safetensors"]
    # without safetensors the time ratios are not measured; the memory targets are
    assert results["targets"][0]["met"] is None
    assert all(target["met"] is not None for target in results["targets"] if "memory" in target["target"])
    assert (tmp_path / "plot.png").stat().st_size > 0 or results["plot"]["skipped"]
