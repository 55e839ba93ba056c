"""One load budget per load, shared by every member and nesting level, settable on every entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.cli import main as cli_main
from stable_baselines_io.conversion import convert_file
from stable_baselines_io.exceptions import CorruptAgentFileError, LoadBudgetExceededError, StableBaselinesIOError
from stable_baselines_io.format import bytes_to_params, load_from_file, params_to_bytes, read_agent_file, save_to_file
from stable_baselines_io.format.budget import MIN_BUDGET_BYTES, LoadBudget
from stable_baselines_io.inspection import inspect_file

REPO_ROOT = Path(__file__).resolve().parents[1]
PARAMS = OrderedDict([("model/a:0", np.zeros(50_000, dtype=np.float32)), ("model/b:0", np.ones(50_000))])
ARRAY_BYTES = 50_000 * 4 + 50_000 * 8


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    path = tmp_path / "agent.zip"
    save_to_file(path, data={"gamma": 0.99}, params=PARAMS)
    return path


def deflated_copy(source: Path, target: Path, nested: bool) -> Path:
    """The same agent with deflated members (and, if ``nested``, deflated arrays inside ``parameters``)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            content = original.read(info)
            if nested and info.filename == "parameters":
                buffer = io.BytesIO()
                with zipfile.ZipFile(io.BytesIO(content)) as inner, \
                        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as inner_copy:
                    for inner_info in inner.infolist():
                        inner_copy.writestr(inner_info.filename, inner.read(inner_info))
                content = buffer.getvalue()
            copy.writestr(info.filename, content)
    return target


def test_default_budget_is_a_multiple_of_the_real_size_with_a_floor() -> None:
    assert LoadBudget.for_file(10).limit == MIN_BUDGET_BYTES
    assert LoadBudget.for_file(10**6).limit == 1100 * 10**6
    assert LoadBudget.for_file(10**6, max_bytes=5).limit == 5
    with pytest.raises(LoadBudgetExceededError, match=r"budget of 100 bytes: the array x needs 101 more bytes after 0"):
        LoadBudget(100, "f.zip").charge(101, "the array x")


@pytest.mark.parametrize("nested", [False, True], ids=["deflated members", "deflated arrays in deflated npz"])
def test_the_budget_counts_every_member_and_level_once(agent: Path, tmp_path: Path, nested: bool) -> None:
    path = deflated_copy(agent, tmp_path / "deflated.zip", nested)
    assert path.stat().st_size < 20_000  # zeros and ones compress: the default budget's floor applies
    data, params = load_from_file(path)
    assert list(params) == list(PARAMS)  # type: ignore[arg-type]
    # parameters member (decompressed) + arrays (allocated): both levels charged, added
    decompressed_parameters = zipfile.ZipFile(path).getinfo("parameters").file_size
    needed = decompressed_parameters + ARRAY_BYTES
    load_from_file(path, max_bytes=needed + 100_000)
    with pytest.raises(LoadBudgetExceededError, match=r"max_bytes=") as raised:
        load_from_file(path, max_bytes=needed - 100_000)
    assert raised.value.path == str(path) and isinstance(raised.value, MemoryError)


def test_stored_arrays_are_charged_as_they_are_allocated(agent: Path) -> None:
    expected = r"the array parameters/model/b:0.npy of shape \(50000,\)"
    with pytest.raises(LoadBudgetExceededError, match=expected) as raised:
        read_agent_file(agent, max_bytes=ARRAY_BYTES - 1000)
    assert raised.value.member == "parameters/model/b:0.npy"
    read_agent_file(agent, max_bytes=ARRAY_BYTES + 100_000)


def test_every_format_entry_point_takes_max_bytes(agent: Path, tmp_path: Path) -> None:
    serialized = params_to_bytes(PARAMS)
    assert list(bytes_to_params(serialized)) == list(PARAMS)  # param_list is optional
    with pytest.raises(LoadBudgetExceededError):
        bytes_to_params(serialized, max_bytes=1000)
    with pytest.raises(LoadBudgetExceededError):
        inspect_file(agent, max_bytes=1000)
    assert "model/b:0" in inspect_file(agent)
    with pytest.raises(LoadBudgetExceededError):
        convert_file(agent, tmp_path / "converted.zip", max_bytes=1000)
    assert not (tmp_path / "converted.zip").exists()


def test_cli_max_bytes(agent: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["inspect", str(agent), "--max-bytes", "1K"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sb-io inspect: error: loading would exceed the load budget of 1,024 bytes")
    assert len(error.strip().splitlines()) == 1 and str(agent) in error
    assert cli_main(["inspect", str(agent), "--max-bytes", "1G"]) == 0
    with pytest.raises(SystemExit):
        cli_main(["inspect", str(agent), "--max-bytes", "lots"])
    assert "expected a number of bytes such as 500M" in capsys.readouterr().err


def test_cli_reports_unreadable_files_in_one_line_with_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x05\x06" + b"\xff" * 18)
    for command in (["inspect", str(bad)], ["convert", str(bad), str(tmp_path / "out.zip")]):
        result = subprocess.run([sys.executable, "-m", "stable_baselines_io", *command], capture_output=True,
                                text=True, cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin"})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"sb-io {command[0]}: error: ") and len(result.stderr.splitlines()) == 1


def test_model_entry_points_take_max_bytes(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from stable_baselines_io.dqn import DQN

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, buffer_size=64, learning_starts=8,
                policy_kwargs={"layers": [8]}).learn(16)
    model.save(tmp_path / "agent.zip")
    model.save_replay_buffer(tmp_path / "buffer.zip")
    with pytest.raises(LoadBudgetExceededError):
        DQN.load(tmp_path / "agent.zip", max_bytes=100)
    assert DQN.load(tmp_path / "agent.zip", max_bytes=10**7).num_timesteps == 16
    with pytest.raises(LoadBudgetExceededError):
        model.load_parameters(tmp_path / "agent.zip", max_bytes=100)
    model.load_parameters(tmp_path / "agent.zip", max_bytes=10**7)
    with pytest.raises(LoadBudgetExceededError):
        model.load_replay_buffer(tmp_path / "buffer.zip", max_bytes=100)
    model.load_replay_buffer(tmp_path / "buffer.zip", max_bytes=10**7)

    # values of the wrong type in a replay buffer file are reported, never raised raw
    for changes in ({"observation_shape": {"a": 1}}, {"size": "16", "pos": None}, {"buffer_size": [64]},
                    {"observation_dtype": 3.5}, {"action_shape": "x"}):
        with zipfile.ZipFile(tmp_path / "buffer.zip") as original:
            data = {**json.loads(original.read("data")), **changes}
            crafted = tmp_path / "crafted.zip"
            with zipfile.ZipFile(crafted, "w") as copy:
                for info in original.infolist():
                    copy.writestr(info, json.dumps(data) if info.filename == "data" else original.read(info))
        with pytest.raises(StableBaselinesIOError, match="crafted.zip") as raised:
            model.load_replay_buffer(crafted)
        assert isinstance(raised.value, ValueError), changes


def test_a_message_is_never_flooded_by_the_damaged_bytes(agent: Path, tmp_path: Path) -> None:
    raw = agent.read_bytes()
    name_at = raw.find(b"data", raw.find(b"PK\x03\x04"))
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(raw[:name_at] + b"dat" + b"\xff" * 1 + raw[name_at + 4:])
    with pytest.raises(CorruptAgentFileError) as raised:
        read_agent_file(damaged)
    assert len(str(raised.value)) < 600


@pytest.mark.parametrize("legacy", [False, True], ids=["zip data member", "legacy pickle"])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_rebuilding_the_data_draws_on_the_same_budget_as_the_archive(tmp_path: Path, legacy: bool) -> None:
    # 100 000 small integers: about 2 MB of file (indented JSON), 6.4 MB of rebuilt objects
    data = {"gamma": 0.99, "many": list(range(100_000)), "rng": np.random.RandomState(0)}
    path = tmp_path / ("agent.pkl" if legacy else "agent.zip")
    save_to_file(path, data=data, params=PARAMS, cloudpickle=legacy)
    assert path.stat().st_size < 2_500_000
    loaded, _ = load_from_file(path)
    assert loaded["many"] == data["many"]  # type: ignore[index]
    # the archive's members and arrays fit in 5 MB; the objects the data rebuilds do not
    with pytest.raises(LoadBudgetExceededError, match="max_bytes=") as raised:
        load_from_file(path, max_bytes=5_000_000)
    assert raised.value.path == str(path)
    assert "the objects a pickle makes" in str(raised.value) if legacy else raised.value.member == "data"
