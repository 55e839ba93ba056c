"""Every benchmark of the library beside its peers, in one run: writes results.json and plot.png.

- format: save / load time and peak extra memory of 1 M, 10 M and 100 M float32 parameters in
  20 arrays: this library (path API: atomic and fsynced; and into an open file object) vs
  ``safetensors.numpy.save_file`` / ``load_file`` and ``np.savez`` / ``np.load``;
- small agents: save, load and load + first predict of CartPole PPO and DQN, this library vs
  Stable-Baselines3 (same thread count for TensorFlow and torch);
- parameters: ``get_parameters`` / ``load_parameters`` of 200 64x64 variables vs one traced
  ``tf.function`` doing all the reads / assignments;
- training (``--training``): PPO and DQN on CartPole-v1 with the rl-zoo hyperparameters, env
  steps per second and reward, both libraries.

Every measurement runs in its own process (``benchmarks/measure.py``). Peers are installed first
(``benchmarks/install_peers.py``: torch 2.13.0, then safetensors, stable-baselines3 and matplotlib
without touching torch); ``--skip-peers`` measures this library alone.

Run::

    python benchmarks/run_all.py                 # ~10 minutes on 2 cores
    python benchmarks/run_all.py --quick --skip-peers   # sizes up to 10 M, ~1-2 minutes
    python benchmarks/run_all.py --smoke --skip-peers   # 100 k, one repeat: checks every step runs
    python benchmarks/run_all.py --training      # adds the learning runs (~15 minutes more)
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS.parent
MEASURE = BENCHMARKS / "measure.py"
DEFAULT_OUTPUT = BENCHMARKS / "results"

FULL_SIZES = [1_000_000, 10_000_000, 100_000_000]
QUICK_SIZES = [1_000_000, 10_000_000]
SMOKE_SIZES = [100_000]
TARGET_SIZE = 100_000_000
#: The targets of issue 6.
TIME_RATIO_TARGET = 1.25  # our save / load time over safetensors'
SAVE_MEMORY_TARGET = 0.10  # peak extra memory while saving, as a fraction of the parameter bytes
LOAD_MEMORY_TARGET = 1.10  # peak extra memory while loading, as a multiple of the parameter bytes
TRAINING_TIMESTEPS = {"ppo": 100_000, "dqn": 50_000}
#: The CartPole agent targets of issue 13, ours over Stable-Baselines3.
AGENT_TARGETS = {"load_and_first_predict_s": 1.5, "save_same_durability": 1.0, "file_bytes": 1.5}


# --- running measurements --------------------------------------------------------------------------


def measure(*arguments: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``measure.py ARGUMENTS`` in a new process and return its ``RESULT`` JSON.

    :param arguments: the task and its options
    :param timeout: seconds before the process is stopped
    :return: the result
    """
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
    if arguments[0] == "format-memory":
        # glibc's adaptive mmap threshold keeps freed blocks on the heap, where a later allocation
        # reuses them without growing the resident set: a fixed threshold makes peaks visible.
        environment["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    for attempt in range(2):  # one retry: a shared machine can fail a run for reasons of its own
        completed = subprocess.run([sys.executable, str(MEASURE), *arguments], capture_output=True, text=True,
                                   timeout=timeout, env=environment, cwd=REPO_ROOT)
        lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
        if completed.returncode == 0 and lines:
            return json.loads(lines[-1][len("RESULT "):])
        log(f"measure.py {' '.join(arguments)} failed ({completed.returncode}), attempt {attempt + 1}")
    raise RuntimeError(f"measure.py {' '.join(arguments)} failed ({completed.returncode}):\n"
                       f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine_info() -> dict[str, Any]:
    """The machine and the versions the numbers were measured with."""
    cpu_model = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                             "?")
    except OSError:
        pass
    memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    versions = {}
    for distribution in ("numpy", "tensorflow", "tensorflow-cpu", "gymnasium", "torch", "stable-baselines3",
                         "safetensors", "isal", "stable-baselines-io"):
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(memory_bytes / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "load_average_at_start": list(os.getloadavg()),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def crc32_implementation() -> str:
    """The CRC-32 the format layer uses here: ``zlib``, or ``isal`` where that package is installed."""
    code = "from stable_baselines_io.format._crc import crc32_function; print(crc32_function().__module__)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    return completed.stdout.strip() or "?"


def peers_available() -> tuple[bool, bool]:
    """Whether safetensors and Stable-Baselines3 (with torch) can be imported."""
    def importable(module: str) -> bool:
        return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0

    return importable("safetensors.numpy"), importable("stable_baselines3")


# --- the benchmarks --------------------------------------------------------------------------------


def run_format(sizes: list[int], with_safetensors: bool, repeats: int, tmp: str | None) -> dict[str, Any]:
    contenders = ["ours", "ours_file_object", *(["safetensors", "safetensors_fsync"] if with_safetensors else []),
                  "numpy"]
    results: dict[str, Any] = {"sizes": sizes, "contenders": contenders, "n_arrays": 20, "dtype": "float32",
                               "crc32": crc32_implementation(), "by_size": {}}
    tmp_options = ["--tmp", tmp] if tmp else []
    for size in sizes:
        log(f"format: {size:,} parameters, time")
        timing = measure("format-time", "--size", str(size), "--repeats", str(repeats), "--contenders",
                         *contenders, *tmp_options)
        entry = {"parameter_bytes": timing["parameter_bytes"], "contenders": timing["contenders"]}
        for contender in contenders:
            log(f"format: {size:,} parameters, memory of {contender}")
            memory = measure("format-memory", "--size", str(size), "--contender", contender, *tmp_options)
            entry["contenders"][contender].update(save_peak_extra_bytes=memory["save_peak_extra_bytes"],
                                                  load_peak_extra_bytes=memory["load_peak_extra_bytes"])
        for contender, values in entry["contenders"].items():
            values["save_peak_extra_fraction"] = values["save_peak_extra_bytes"] / entry["parameter_bytes"]
            values["load_peak_extra_fraction"] = values["load_peak_extra_bytes"] / entry["parameter_bytes"]
            if "safetensors" in entry["contenders"] and contender != "safetensors":
                reference = entry["contenders"]["safetensors"]
                values["save_time_vs_safetensors"] = values["save_s"] / reference["save_s"]
                values["load_time_vs_safetensors"] = values["load_s"] / reference["load_s"]
                durable = entry["contenders"]["safetensors_fsync"]
                values["save_time_vs_safetensors_fsync"] = values["save_s"] / durable["save_s"]
        results["by_size"][str(size)] = entry
    return results


def run_small_agents(with_sb3: bool, repeats: int, cold_runs: int, threads: int,
                     sweep_agents: int = 100) -> dict[str, Any]:
    frameworks = ["ours", *(["sb3"] if with_sb3 else [])]
    results: dict[str, Any] = {"env": "CartPole-v1", "threads": threads, "sweep_agents": sweep_agents,
                               "by_algorithm": {}}
    with tempfile.TemporaryDirectory() as folder:
        for algorithm in ("ppo", "dqn"):
            entry: dict[str, Any] = {}
            for framework in frameworks:
                path = str(Path(folder) / f"{framework}_{algorithm}.zip")
                log(f"small agents: {framework} {algorithm}")
                warm = measure("small-agent", "--framework", framework, "--algorithm", algorithm, "--path", path,
                               "--repeats", str(repeats), "--threads", str(threads),
                               "--sweep-agents", str(sweep_agents))
                colds = [measure("small-agent", "--framework", framework, "--algorithm", algorithm, "--path", path,
                                 "--cold", "--threads", str(threads)) for _ in range(cold_runs)]
                best_cold = min(colds, key=lambda cold: cold["load_and_first_predict_s"])
                entry[framework] = {
                    "parameters": warm["parameters"],
                    "file_bytes": warm["file_bytes"],
                    "import_s": min(cold["import_s"] for cold in colds),
                    "save_s": warm["save"]["min_s"],
                    "save_file_object_s": warm["save_file_object"]["min_s"],
                    "sweep_100_s": warm["sweep"]["min_s"],
                    "load_s": warm["load"]["min_s"],
                    "load_and_first_predict_s": warm["load_and_first_predict"]["min_s"],
                    "cold_load_s": best_cold["load_s"],
                    "cold_first_predict_s": best_cold["first_predict_s"],
                    "cold_load_and_first_predict_s": best_cold["load_and_first_predict_s"],
                    "predict_s": warm["predict"]["min_s"],
                }
                if "save_without_fsync" in warm:
                    ours = entry[framework]
                    ours["save_without_fsync_s"] = warm["save_without_fsync"]["min_s"]
                    ours["fsync_cost_s"] = ours["save_s"] - ours["save_without_fsync_s"]
            if "sb3" in entry:
                entry["ratios_ours_over_sb3"] = {
                    key: entry["ours"][key] / entry["sb3"][key]
                    for key in ("save_s", "save_file_object_s", "load_s", "load_and_first_predict_s",
                                "cold_load_and_first_predict_s", "predict_s", "sweep_100_s", "file_bytes")
                }
                # Stable-Baselines3 writes in place without fsync: our save into an open file is the same work.
                entry["ratios_ours_over_sb3"]["save_same_durability"] = (entry["ours"]["save_file_object_s"]
                                                                         / entry["sb3"]["save_s"])
            results["by_algorithm"][algorithm] = entry
    return results


#: ``get_parameters`` / ``load_parameters`` sizes: (variables, shape); the first is the reference run.
PARAMETER_SIZES = [(200, (64, 64)), (10, (100, 100)), (20, (500, 100)), (20, (5_000, 100)), (20, (50_000, 100))]


def run_parameters(repeats: int, threads: int, quick: bool = False, smoke: bool = False) -> dict[str, Any]:
    result = _run_parameters_at(200, (64, 64), repeats, threads)
    result["by_size"] = {}
    for n_variables, shape in [] if smoke else PARAMETER_SIZES[1:]:
        n_parameters = n_variables * math.prod(shape)
        if quick and n_parameters > 10_000_000:
            continue
        sized_repeats = max(3, min(repeats, int(2e8 // max(n_parameters, 1))))
        result["by_size"][str(n_parameters)] = _run_parameters_at(n_variables, shape, sized_repeats, threads)
    return result


def _run_parameters_at(n_variables: int, shape: tuple[int, ...], repeats: int, threads: int) -> dict[str, Any]:
    log(f"parameters: {n_variables} variables of {'x'.join(map(str, shape))}")
    result = measure("parameters", "--n-variables", str(n_variables), "--shape", *map(str, shape),
                     "--repeats", str(repeats), "--threads", str(threads))
    result["ratios"] = {
        "load_parameters_vs_tf_function_tensors": result["load_parameters"]["min_s"]
        / result["tf_function_assign_tensors"]["min_s"],
        "load_parameters_vs_tf_function_numpy": result["load_parameters"]["min_s"]
        / result["tf_function_assign_numpy"]["min_s"],
        "get_parameters_vs_tf_function_read": result["get_parameters"]["min_s"] / result["tf_function_read"]["min_s"],
        "load_parameters_speedup_vs_before": result["load_parameters_before"]["min_s"]
        / result["load_parameters"]["min_s"],
        "get_parameters_speedup_vs_before": result["get_parameters_before"]["min_s"]
        / result["get_parameters"]["min_s"],
    }
    return result


def run_training(with_sb3: bool, threads: int, output: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"threads": threads, "by_algorithm": {}}
    for algorithm, timesteps in TRAINING_TIMESTEPS.items():
        entry: dict[str, Any] = {}
        log(f"training: ours {algorithm}, {timesteps} steps")
        json_path = output / f"learning_{algorithm}.json"
        command = [sys.executable, str(BENCHMARKS / "bench_learning.py"), "--algo", algorithm, "--timesteps",
                   str(timesteps), "--seed", "0", "--threads", str(threads), "--json", str(json_path)]
        environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=REPO_ROOT)
        if json_path.is_file():
            entry["ours"] = json.loads(json_path.read_text(encoding="utf-8"))
            json_path.unlink()
        else:
            entry["ours"] = {"error": completed.stderr[-2000:]}
        if with_sb3:
            log(f"training: sb3 {algorithm}, {timesteps} steps")
            entry["sb3"] = measure("sb3-learning", "--algorithm", algorithm, "--timesteps", str(timesteps),
                                   "--threads", str(threads), timeout=3600)
            if "env_steps_per_s" in entry["ours"]:
                entry["steps_per_s_ours_over_sb3"] = entry["ours"]["env_steps_per_s"] / entry["sb3"]["env_steps_per_s"]
        results["by_algorithm"][algorithm] = entry
    return results


# --- targets and outputs ---------------------------------------------------------------------------


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 6 with the measured value and whether it is met (None: not measured)."""
    targets = []
    largest = str(max(results["format"]["sizes"]))
    at_size = results["format"]["by_size"][largest]["contenders"]
    ours = at_size["ours"]
    size_note = f"{int(largest):,} parameters" + ("" if int(largest) == TARGET_SIZE else " (quick run: not 100 M)")

    def add(name: str, value: float | None, limit: float, note: str) -> None:
        targets.append({"target": name, "limit": limit, "value": value,
                        "met": None if value is None else bool(value <= limit), "note": note})

    add("save time / safetensors with fsync", ours.get("save_time_vs_safetensors_fsync"), TIME_RATIO_TARGET,
        f"{size_note}; the same durability: our path API (atomic, fsync) vs safetensors then fsync")
    add("load time / safetensors", ours.get("load_time_vs_safetensors"), TIME_RATIO_TARGET, size_note)
    object_api = at_size["ours_file_object"]
    add("save time / safetensors, into an open file", object_api.get("save_time_vs_safetensors"),
        TIME_RATIO_TARGET, f"{size_note}; no fsync or rename, like safetensors")
    add("peak extra memory while saving / parameter bytes", ours["save_peak_extra_fraction"], SAVE_MEMORY_TARGET,
        size_note)
    add("peak extra memory while loading / parameter bytes", ours["load_peak_extra_fraction"], LOAD_MEMORY_TARGET,
        size_note)
    for algorithm, entry in results["small_agents"]["by_algorithm"].items():
        ratios = entry.get("ratios_ours_over_sb3", {})
        for key, limit in AGENT_TARGETS.items():
            add(f"{algorithm} {key} / Stable-Baselines3", ratios.get(key), limit,
                "CartPole-v1, warm" if key != "file_bytes" else "CartPole-v1, untrained agent")
    for algorithm, entry in results.get("training", {}).get("by_algorithm", {}).items():
        speed = entry.get("steps_per_s_ours_over_sb3")
        # Stable-Baselines3's env steps/s over ours: at most 1 when ours trains at least as fast.
        add(f"{algorithm} training: Stable-Baselines3 env steps/s / ours", None if not speed else 1 / speed, 1.0,
            f"CartPole-v1, {TRAINING_TIMESTEPS[algorithm]:,} steps, rl-zoo hyperparameters")
    return targets


def plot(results: dict[str, Any], path: Path) -> str | None:
    """Time and peak extra memory against model size, one line per contender.

    :return: None, or why no plot was drawn
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed"
    sizes = results["format"]["sizes"]
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    panels = [("save_s", "save time (s)"), ("load_s", "load time (s)"),
              ("save_peak_extra_bytes", "peak extra memory while saving (MB)"),
              ("load_peak_extra_bytes", "peak extra memory while loading (MB)")]
    labels = {"ours": "stable-baselines-io (path: atomic + fsync)", "ours_file_object": "stable-baselines-io "
              "(open file)", "safetensors": "safetensors", "safetensors_fsync": "safetensors + fsync",
              "numpy": "np.savez / np.load"}
    for axis, (key, title) in zip(axes.flat, panels):
        for contender in results["format"]["contenders"]:
            values = [results["format"]["by_size"][str(size)]["contenders"][contender][key] for size in sizes]
            if key.endswith("_bytes"):
                values = [value / 1e6 for value in values]
            axis.plot([size * 4 / 1e6 for size in sizes], values, marker="o", label=labels.get(contender, contender))
        if key.endswith("_bytes"):
            parameter_mb = [size * 4 / 1e6 for size in sizes]
            axis.plot(parameter_mb, parameter_mb, color="grey", linestyle=":", label="parameter bytes")
        axis.set_title(title)
        axis.set_xscale("log")
        axis.set_yscale("symlog" if key.endswith("_bytes") else "log")
        axis.grid(True, which="both", alpha=0.3)
        axis.set_xlabel("model size (MB of float32 parameters, 20 arrays)")
    axes[0][0].legend(fontsize=8)
    figure.suptitle(f"Saving and loading parameters ({results['machine']['nproc']} cores, "
                    f"{results['machine']['cpu_model']})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    _plot_parameters(results["parameters"], path.with_name("parameters.png"), plt)
    return None


def _plot_parameters(parameters: dict[str, Any], path: Path, plt: Any) -> None:
    """``get_parameters`` / ``load_parameters`` time against size, beside one traced TensorFlow function."""
    by_size = {**{str(parameters["n_variables"] * math.prod(parameters["shape"])): parameters},
               **parameters.get("by_size", {})}
    sizes = sorted(by_size, key=int)
    figure, axis = plt.subplots(figsize=(7, 5))
    for key, label in (("get_parameters", "get_parameters"), ("tf_function_read", "traced read (TensorFlow)"),
                       ("load_parameters", "load_parameters (NumPy arrays)"),
                       ("tf_function_assign_numpy", "traced assign of NumPy arrays (TensorFlow)")):
        axis.plot([int(size) for size in sizes], [by_size[size][key]["min_s"] * 1e3 for size in sizes], marker="o",
                  label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("float32 parameters")
    axis.set_ylabel("ms (min of repeats)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_summary(results: dict[str, Any]) -> None:
    print("\n== format (min of repeats) ==")
    for size, entry in results["format"]["by_size"].items():
        for contender, values in entry["contenders"].items():
            ratio = ""
            if "save_time_vs_safetensors" in values:
                ratio = (f"  vs safetensors: save {values['save_time_vs_safetensors']:.2f}x "
                         f"load {values['load_time_vs_safetensors']:.2f}x")
            print(f"{int(size):>11,} {contender:17s} save {values['save_s']:7.3f}s load {values['load_s']:7.3f}s "
                  f"peak extra save {values['save_peak_extra_fraction']:6.1%} load "
                  f"{values['load_peak_extra_fraction']:6.1%}{ratio}")
    print("\n== small agents (CartPole) ==")
    for algorithm, entry in results["small_agents"]["by_algorithm"].items():
        for framework in ("ours", "sb3"):
            if framework in entry:
                values = entry[framework]
                print(f"{algorithm} {framework:4s} save {values['save_s'] * 1e3:7.1f} ms  load "
                      f"{values['load_s'] * 1e3:7.1f} ms  load+first predict "
                      f"{values['load_and_first_predict_s'] * 1e3:7.1f} ms  cold "
                      f"{values['cold_load_and_first_predict_s'] * 1e3:7.1f} ms  predict "
                      f"{values['predict_s'] * 1e6:6.0f} us  save into an open file "
                      f"{values['save_file_object_s'] * 1e3:6.1f} ms  100 loads + predicts "
                      f"{values['sweep_100_s']:6.2f} s  file {values['file_bytes'] / 1e3:6.1f} kB")
                if "fsync_cost_s" in values:
                    print(f"{algorithm} {framework:4s} save to a path without fsync "
                          f"{values['save_without_fsync_s'] * 1e3:6.1f} ms "
                          f"(fsync costs {values['fsync_cost_s'] * 1e3:.1f} ms)")
    parameters = results["parameters"]
    print("\n== parameters (200 x 64x64) ==")
    for key in ("get_parameters", "get_parameters_before", "tf_function_read", "load_parameters",
                "load_parameters_before", "tf_function_assign_tensors", "tf_function_assign_numpy",
                "tf_function_assign_flat"):
        print(f"{key:28s} {parameters[key]['min_s'] * 1e3:7.2f} ms")
    for size, entry in parameters.get("by_size", {}).items():
        print(f"{int(size):>11,} parameters: get_parameters {entry['get_parameters']['min_s'] * 1e3:8.2f} ms "
              f"(traced read {entry['tf_function_read']['min_s'] * 1e3:8.2f} ms), load_parameters "
              f"{entry['load_parameters']['min_s'] * 1e3:8.2f} ms (traced assign "
              f"{entry['tf_function_assign_numpy']['min_s'] * 1e3:8.2f} ms)")
    print("\n== targets ==")
    for target in results["targets"]:
        value = "-" if target["value"] is None else f"{target['value']:.3f}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        print(f"{target['target']:52s} {value:>7s} (limit {target['limit']}) {verdict}  [{target['note']}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 10 M and fewer repeats (for tests)")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest run that exercises every step (implies --quick; for the default tests)")
    parser.add_argument("--skip-peers", action="store_true",
                        help="measure this library alone: do not install or run safetensors / Stable-Baselines3")
    parser.add_argument("--training", action="store_true", help="also train PPO and DQN on CartPole (long)")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow and torch threads for the agents")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for results.json and plot.png")
    parser.add_argument("--tmp", default=None, help="folder for the benchmark files (default: the system's)")
    args = parser.parse_args(argv)
    args.quick = args.quick or args.smoke

    started = time.perf_counter()
    args.output.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"command": " ".join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])]),
                               "quick": args.quick, "smoke": args.smoke}
    peers: dict[str, Any] = {"skipped": args.skip_peers}
    if args.skip_peers:
        peers["note"] = "--skip-peers: safetensors and Stable-Baselines3 were neither installed nor measured"
    else:
        log("installing the peers (torch 2.13.0 first)")
        sys.path.insert(0, str(BENCHMARKS))
        from install_peers import install_peers

        try:
            peers["versions"] = install_peers()
        except subprocess.CalledProcessError as error:
            peers["install_error"] = str(error)
    with_safetensors, with_sb3 = (False, False) if args.skip_peers else peers_available()
    peers.update(safetensors=with_safetensors, stable_baselines3=with_sb3)
    if not args.skip_peers and not (with_safetensors and with_sb3):
        peers["note"] = "some peers could not be installed or imported: they are missing from the results"
    results["peers"] = peers
    results["machine"] = machine_info()

    sizes = SMOKE_SIZES if args.smoke else QUICK_SIZES if args.quick else FULL_SIZES
    results["format"] = run_format(sizes, with_safetensors, repeats=1 if args.smoke else 2 if args.quick else 7,
                                   tmp=args.tmp)
    results["small_agents"] = run_small_agents(with_sb3, repeats=1 if args.smoke else 3 if args.quick else 10,
                                               cold_runs=1 if args.quick else 3, threads=args.threads,
                                               sweep_agents=2 if args.smoke else 100)
    results["parameters"] = run_parameters(repeats=2 if args.smoke else 10 if args.quick else 50,
                                           threads=args.threads, quick=args.quick, smoke=args.smoke)
    if args.training:
        results["training"] = run_training(with_sb3, args.threads, args.output)
    else:
        results["training"] = {"skipped": True, "note": "run with --training to measure learning speed and reward"}
    results["targets"] = evaluate_targets(results)
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    results["wall_time_s"] = time.perf_counter() - started

    plot_problem = plot(results, args.output / "plot.png")
    if plot_problem:
        results["plot"] = {"skipped": True, "note": plot_problem}
    (args.output / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_summary(results)
    log(f"wrote {args.output / 'results.json'} in {results['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
