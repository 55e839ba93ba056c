"""Every command and example the README shows runs: the Python examples, every ``sb-io`` command
(placeholders such as ``FILE`` filled in, long trainings shortened), and the ``make`` targets CI runs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stable_baselines_io.cli import main as cli_main

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = (PROJECT_ROOT / "README.md").read_text()
ZOO_ACER = "zoo/acer/MountainCar-v0"
#: What the README's placeholders stand for here ({fixtures}: the SB2 fixtures, {index}: the command's position).
PLACEHOLDERS = {
    "FILE": "agents/ppo-cartpole.zip",
    "AGENT": "agents/ppo-cartpole.zip",
    "OUT": "exported/{index}",
    "OLD": "{fixtures}/" + ZOO_ACER + ".pkl",
    "NEW": "converted/{index}.zip",
    "DIR": "{fixtures}/" + ZOO_ACER,
    "saved_model|tflite|onnx": "saved_model",
    "...": "saved_model",
}


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def readme_commands() -> list[str]:
    """The ``sb-io`` commands of the README: its shell blocks' lines, then the inline ones with arguments."""
    block_lines = [line.split("#")[0].strip() for block in code_blocks("bash") for line in block.splitlines()]
    inline = [" ".join(command.split()) for command in re.findall(r"`(sb-io [^`]+)`", README)]
    commands = [line for line in block_lines if line.startswith("sb-io ")]
    commands += [command for command in inline if len(command.split()) > 2 and command not in commands]
    return commands


def test_readme_commands_are_the_ones_make_demo_runs() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    demo_commands = [line.strip().replace("$(VENV)/bin/", "") for line in makefile.split("demo: install")[1].split(
        "\n\n")[0].splitlines()[1:]]
    assert demo_commands and all(command.startswith("sb-io ") for command in demo_commands)
    for command in demo_commands:
        assert command in readme_commands()
    assert "make demo" in README and "make test" in README
    ci_script = (PROJECT_ROOT / ".ci" / "run").read_text()
    for target in ("test", "demo", "lint", "type"):
        assert f"make {target}" in ci_script and f"make {target}" in README


def test_readme_python_examples_run(tmp_path: Path) -> None:
    quickstart, *others = code_blocks("python")
    examples = "\n".join(textwrap.dedent(block) for block in [quickstart, *others])
    fast_examples = re.sub(r"total_timesteps=\d[\d_]*", "total_timesteps=256", examples)
    assert fast_examples != examples and others  # the quick start, then the other examples (export: on its model)
    result = subprocess.run([sys.executable, "-c", fast_examples], capture_output=True, text=True, cwd=tmp_path,
                            timeout=600, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "agent.zip").is_file()
    assert (tmp_path / "export" / "cartpole" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "export" / "cartpole.tflite").is_file() and (tmp_path / "export" / "cartpole.onnx").is_file()


def test_every_readme_command_runs(sb2_fixture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    commands = readme_commands()
    assert {command.split()[1] for command in commands} >= {"train", "eval", "plot", "inspect", "convert", "export"}
    monkeypatch.chdir(tmp_path)
    for folder in ("exported", "converted"):
        (tmp_path / folder).mkdir()
    for index, command in enumerate(commands):
        arguments = shlex.split(re.sub(r"--timesteps \d+", "--timesteps 256", command))[1:]
        arguments = [PLACEHOLDERS.get(argument, argument).format(fixtures=sb2_fixture_dir, index=index)
                     for argument in arguments]
        assert cli_main(arguments) == 0, (command, capsys.readouterr().err)
    assert (tmp_path / "agents" / "a2c-cartpole.zip").is_file() and (tmp_path / "agents" / "ppo-cartpole.png").is_file()
    assert len(list((tmp_path / "converted").iterdir())) == 2 and len(list((tmp_path / "exported").iterdir())) == 2
