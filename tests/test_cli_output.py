"""The ``sb-io`` command speaks for itself: no TensorFlow banner on stderr, plain-text help, and
``train`` writes the monitor files that ``plot`` draws."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.cli import build_parser
from stable_baselines_io.common.monitor import load_results
from stable_baselines_io.tf_startup import BANNER_PATTERNS, _write_without_banner

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Lines that only TensorFlow's start-up writes (absl's prefix, its C++ log format, the banner).
TENSORFLOW_CHATTER = re.compile("|".join((*BANNER_PATTERNS, r"^[IWE]\d{4} \d\d:\d\d:\d\d", r"absl", r"oneDNN",
                                          r"cpu_feature_guard", r"tensorflow/core")), re.MULTILINE)
RESTRUCTURED_TEXT = re.compile(r"``|:param|:return|:class:|:func:|:meth:|:mod:")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run([sys.executable, "-m", "stable_baselines_io", *arguments], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=300, env=env)


def test_train_eval_inspect_plot_print_only_their_own_output(tmp_path: Path) -> None:
    agent = tmp_path / "agents" / "ppo-cartpole"
    trained = run_cli("train", "--algo", "ppo", "--env", "CartPole-v1", "--timesteps", "512", "--seed", "0",
                      "--output", str(agent), "--no-progress-bar", "--no-tuned", "-p", "n_steps=64", "-p", "n_envs=2")
    evaluated = run_cli("eval", str(agent) + ".zip", "--episodes", "2")
    inspected = run_cli("inspect", str(agent) + ".zip")
    plotted = run_cli("plot", str(agent), "--output", str(tmp_path / "agents" / "ppo-cartpole.png"), "--smooth", "5")
    for result in (trained, evaluated, inspected, plotted):
        assert result.returncode == 0, result.stderr
        assert not TENSORFLOW_CHATTER.search(result.stderr), result.stderr
        assert result.stderr == ""
    assert trained.stdout.strip().endswith(f"episodes logged in {agent}/")
    assert "CartPole-v1: mean reward" in evaluated.stdout

    # The CSV files the curve is drawn from: one per environment, every finished episode of training.
    csv_files = sorted(path.name for path in agent.iterdir())
    assert csv_files == ["0.monitor.csv", "1.monitor.csv"]
    for csv_file in agent.iterdir():
        lines = csv_file.read_text().splitlines()
        assert lines[0].startswith('#{"t_start": ') and '"env_id": "CartPole-v1"' in lines[0]
        assert lines[1] == "r,l,t" and len(lines) > 2
    results = load_results(agent)
    assert np.all(results.r == results.l)  # CartPole: reward 1 per step
    assert 2 * 9 <= results.l.sum() <= 512 and np.all(np.diff(results.t) >= 0)
    picture = tmp_path / "agents" / "ppo-cartpole.png"
    assert picture.read_bytes()[:8] == PNG_SIGNATURE and picture.stat().st_size > 10_000
    assert plotted.stdout.strip() == f"plotted 1 run(s) to {picture}"


def test_train_without_monitor_and_plot_default_output(tmp_path: Path) -> None:
    trained = run_cli("train", "--algo", "dqn", "--timesteps", "64", "--output", str(tmp_path / "dqn.zip"),
                      "--no-progress-bar", "--no-tuned", "--no-monitor", "-p", "learning_starts=32")
    assert trained.returncode == 0, trained.stderr
    assert not (tmp_path / "dqn").exists() and "episodes logged" not in trained.stdout
    missing = run_cli("plot", str(tmp_path / "dqn"))
    assert missing.returncode == 2 and "sb-io plot: error: no monitor files" in missing.stderr


def test_banner_lines_are_dropped_and_other_lines_kept(capsys: pytest.CaptureFixture[str]) -> None:
    _write_without_banner(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795972631.875332    6214 port.cc:153] oneDNN custom operations are on. You may see...\n"
        "a real warning\n"
    )
    assert capsys.readouterr().err == "a real warning\n"


def test_help_texts_have_no_restructured_text_markup() -> None:
    parser = build_parser()
    texts = [parser.format_help()]
    subparsers = next(action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction")
    for name, subparser in subparsers.choices.items():  # type: ignore[attr-defined]
        texts.append(subparser.format_help())
        assert subparser.format_help().startswith(f"usage: sb-io {name}")
    for text in texts:
        assert not RESTRUCTURED_TEXT.search(text), text
    assert "plot" in subparsers.choices and "--smooth" in subparsers.choices["plot"].format_help()
