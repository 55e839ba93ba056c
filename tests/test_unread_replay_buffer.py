"""``load`` leaves a local file's replay buffer unread until training (or a save, or the user) needs it."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.dqn import DQN
from stable_baselines_io.exceptions import CorruptAgentFileError
from stable_baselines_io.format.archive import REPLAY_BUFFER_MEMBER
from stable_baselines_io.format.files import UnreadArrays, read_agent_file

SETTINGS = dict(learning_starts=32, buffer_size=1000, batch_size=16, target_network_update_freq=50,
                train_freq=4, seed=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[DQN, Path]:
    model = DQN("MlpPolicy", "CartPole-v1", **SETTINGS).learn(200)
    path = tmp_path_factory.mktemp("agents") / "agent.zip"
    model.save(path, include_replay_buffer=True)
    return model, path


def assert_same_buffer(loaded: DQN, original: DQN) -> None:
    expected = original.replay_buffer.to_arrays()
    arrays = loaded.replay_buffer.to_arrays()
    assert list(arrays) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(arrays[name], expected[name], err_msg=name)


def test_a_local_files_replay_buffer_is_read_when_first_needed(trained: tuple[DQN, Path]) -> None:
    original, path = trained
    loaded = DQN.load(path)
    assert isinstance(vars(loaded)["_unread_replay_buffer"], UnreadArrays)
    assert vars(loaded)["_replay_buffer"] is None
    assert loaded._replay_buffer_metadata == original.replay_buffer.metadata()  # answered without reading
    assert_same_buffer(loaded, original)
    assert "_unread_replay_buffer" not in vars(loaded)


def test_from_a_file_object_the_replay_buffer_is_read_at_load(trained: tuple[DQN, Path]) -> None:
    original, path = trained
    loaded = DQN.load(io.BytesIO(path.read_bytes()))
    assert "_unread_replay_buffer" not in vars(loaded)
    assert_same_buffer(loaded, original)


def test_training_reads_it_and_continues(trained: tuple[DQN, Path]) -> None:
    original, path = trained
    loaded = DQN.load(path, env="CartPole-v1")
    loaded.learn(50, reset_num_timesteps=False)
    assert "_unread_replay_buffer" not in vars(loaded)
    assert loaded.replay_buffer.size == min(original.replay_buffer.size + 50, SETTINGS["buffer_size"])


def test_a_save_without_the_buffer_does_not_read_it(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    loaded = DQN.load(path)
    loaded.save(tmp_path / "again.zip")
    assert "_unread_replay_buffer" in vars(loaded)
    loaded.save(tmp_path / "with_buffer.zip", include_replay_buffer=True)
    assert "_unread_replay_buffer" not in vars(loaded)
    again = read_agent_file(tmp_path / "with_buffer.zip", extra_members={REPLAY_BUFFER_MEMBER: "arrays"})
    original = read_agent_file(path, extra_members={REPLAY_BUFFER_MEMBER: "arrays"})
    for name, array in original.state_arrays[REPLAY_BUFFER_MEMBER].items():
        np.testing.assert_array_equal(again.state_arrays[REPLAY_BUFFER_MEMBER][name], array)


def test_a_file_changed_after_load_is_refused_naming_it(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    copy = tmp_path / "agent.zip"
    copy.write_bytes(path.read_bytes())
    loaded = DQN.load(copy, env="CartPole-v1")
    DQN("MlpPolicy", "CartPole-v1", **SETTINGS).save(copy)  # replaced (atomically) by another agent
    for _ in range(2):  # stays unread: every access says why
        with pytest.raises(CorruptAgentFileError, match="changed or removed after it was loaded") as raised:
            loaded.replay_buffer  # noqa: B018
        assert (raised.value.path, raised.value.member) == (str(copy), REPLAY_BUFFER_MEMBER)
    os.remove(copy)
    with pytest.raises(CorruptAgentFileError, match="changed or removed"):
        loaded.learn(10)
    loaded.replay_buffer = None  # the user's own choice drops the unread one
    assert "_unread_replay_buffer" not in vars(loaded) and loaded.replay_buffer is None


def test_a_damaged_buffer_is_reported_when_read(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    raw = bytearray(path.read_bytes())
    marker = raw.find(b"observations.npy")
    assert marker > 0
    raw[marker + 400] ^= 0xFF  # inside the stored observations
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    loaded = DQN.load(damaged)
    with pytest.raises(CorruptAgentFileError, match="CRC") as raised:
        loaded.replay_buffer  # noqa: B018
    assert raised.value.path == str(damaged)
