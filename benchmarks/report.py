"""Print the tables of docs/performance.md (Markdown) from a results.json written by run_all.py.

Run::

    python benchmarks/report.py [benchmarks/results/results.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "results.json"


def format_table(results: dict[str, Any]) -> list[str]:
    lines = ["| size | contender | save ms | load ms | save / safetensors | load / safetensors | peak extra, save "
             "| peak extra, load |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for size, entry in results["format"]["by_size"].items():
        for contender, values in entry["contenders"].items():
            save_ratio = values.get("save_time_vs_safetensors", 1.0 if contender == "safetensors" else None)
            load_ratio = values.get("load_time_vs_safetensors", 1.0 if contender == "safetensors" else None)
            lines.append(
                f"| {int(size) / 1e6:g} M | {contender} | {values['save_s'] * 1e3:.1f} | {values['load_s'] * 1e3:.1f} "
                f"| {'-' if save_ratio is None else f'{save_ratio:.2f}x'} "
                f"| {'-' if load_ratio is None else f'{load_ratio:.2f}x'} "
                f"| {values['save_peak_extra_bytes'] / 1e6:.2f} MB ({values['save_peak_extra_fraction']:.1%}) "
                f"| {values['load_peak_extra_bytes'] / 1e6:.1f} MB ({values['load_peak_extra_fraction']:.2f}x) |")
    return lines


def targets_table(results: dict[str, Any]) -> list[str]:
    lines = ["| target | limit | measured | |", "|---|---|---:|---|"]
    for target in results["targets"]:
        value = "-" if target["value"] is None else f"{target['value']:.3f}"
        verdict = {True: "met", False: "missed", None: "not measured"}[target["met"]]
        lines.append(f"| {target['target']} ({target['note']}) | {target['limit']} | {value} | {verdict} |")
    return lines


def agents_table(results: dict[str, Any]) -> list[str]:
    by_algorithm = results["small_agents"]["by_algorithm"]
    rows = [("save (path: atomic, fsync)", "save_s", 1e3, "ms"),
            ("save into an open file", "save_file_object_s", 1e3, "ms"), ("load (warm)", "load_s", 1e3, "ms"),
            ("load + first predict (warm)", "load_and_first_predict_s", 1e3, "ms"),
            ("load + first predict (cold)", "cold_load_and_first_predict_s", 1e3, "ms"),
            ("100 loads + first predicts", "sweep_100_s", 1e3, "ms"),
            ("predict (steady)", "predict_s", 1e6, "us"), ("file size", "file_bytes", 1e-3, "kB"),
            ("import", "import_s", 1, "s")]
    lines = ["| | ours PPO | SB3 PPO | ours/SB3 | ours DQN | SB3 DQN | ours/SB3 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, key, scale, unit in rows:
        cells = []
        for algorithm in ("ppo", "dqn"):
            entry = by_algorithm[algorithm]
            ours = entry["ours"][key] * scale
            sb3 = entry["sb3"][key] * scale if "sb3" in entry else None
            cells += [f"{ours:.1f} {unit}", "-" if sb3 is None else f"{sb3:.1f} {unit}",
                      "-" if sb3 is None else f"{ours / sb3:.2f}x"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def parameters_table(results: dict[str, Any]) -> list[str]:
    parameters = results["parameters"]
    lines = ["| operation | ms (min) | ms (median) |", "|---|---:|---:|"]
    for key in ("get_parameters", "get_parameters_before", "tf_function_read", "load_parameters",
                "load_parameters_before", "tf_function_assign_tensors", "tf_function_assign_numpy",
                "tf_function_assign_flat"):
        lines.append(f"| {key} | {parameters[key]['min_s'] * 1e3:.2f} | {parameters[key]['median_s'] * 1e3:.2f} |")
    lines.append(f"| tracing the 200-assignment function | {parameters['tf_function_assign_trace_s'] * 1e3:.0f} | |")
    lines += ["", *(f"- {key}: {value:.2f}" for key, value in parameters["ratios"].items())]
    return lines


def training_table(results: dict[str, Any]) -> list[str]:
    training = results["training"]
    if training.get("skipped"):
        return [training["note"]]
    lines = ["| | steps | env steps/s | mean reward (20 episodes) | wall time s |", "|---|---:|---:|---:|---:|"]
    for algorithm, entry in training["by_algorithm"].items():
        for framework in ("ours", "sb3"):
            if framework in entry and "env_steps_per_s" in entry[framework]:
                values = entry[framework]
                lines.append(f"| {algorithm} {framework} | {values['timesteps']} | {values['env_steps_per_s']:.0f} | "
                             f"{values['mean_reward']:.1f} +/- {values['std_reward']:.1f} | "
                             f"{values['wall_time_s']:.1f} |")
    return lines


def main(argv: list[str]) -> int:
    results = json.loads(Path(argv[0] if argv else DEFAULT_RESULTS).read_text(encoding="utf-8"))
    machine = results["machine"]
    print(f"machine: {machine['nproc']} cores, {machine['cpu_model']}, {machine['memory_gib']} GiB, Python "
          f"{machine['python']}, {machine['versions']}; load average {machine['load_average_at_start']} -> "
          f"{machine.get('load_average_at_end')}; crc32: {results['format'].get('crc32')}; "
          f"wall time {results['wall_time_s']:.0f} s\n")
    for title, table in (("Arrays", format_table), ("Targets", targets_table), ("Agents", agents_table),
                         ("Parameters", parameters_table), ("Training", training_table)):
        print(f"### {title}\n")
        print("\n".join(table(results)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
