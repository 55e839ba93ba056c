"""Archive members declared by the model class: written and read by the format layer, no edits there."""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import tensorflow as tf

from stable_baselines_io import PPO, BaseRLModel
from stable_baselines_io.common.save_load import ArchiveMember
from stable_baselines_io.exceptions import CorruptAgentFileError, LoadBudgetExceededError, UnsafeObjectError
from stable_baselines_io.format.archive import (
    ARRAYS_MEMBER,
    JSON_MEMBER,
    STATE_MEMBERS,
    check_member_name,
    read_archive,
    write_archive,
)
from stable_baselines_io.format.files import read_agent_file, save_to_file


class Recorder(BaseRLModel):
    """A model that declares two members of its own: a JSON log and an array of returns."""

    _archive_members: ClassVar[dict[str, ArchiveMember]] = {
        **BaseRLModel._archive_members,
        "episode_log": ArchiveMember(JSON_MEMBER, "_get_log", "_set_log"),
        "returns_history": ArchiveMember(ARRAYS_MEMBER, "_get_history", "_set_history"),
    }

    def __init__(self, policy: Any, env: Any, _init_setup_model: bool = True, **kwargs: Any):
        super().__init__(policy, env, **kwargs)
        self.log: dict[str, Any] = {"notes": ["started"], "best": 1.5}
        self.history = np.arange(5, dtype=np.float32)
        if _init_setup_model:
            self.setup_model()

    def setup_model(self) -> None:
        self.weights = tf.Variable(tf.zeros((4, 2)), name="linear/w")

    def get_parameter_list(self) -> list[tf.Variable]:
        return [self.weights]

    def _predict_actions(self, observations: np.ndarray, deterministic: bool) -> np.ndarray:
        return np.zeros(len(observations), dtype=np.int64)

    def learn(self, total_timesteps: int, callback: Any = None, log_interval: int = 100,
              reset_num_timesteps: bool = True, progress_bar: bool = False) -> Recorder:
        return self

    def _get_log(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return self.log

    def _set_log(self, log: dict[str, Any]) -> None:
        self.log = log

    def _get_history(self, options: Mapping[str, Any]) -> OrderedDict[str, np.ndarray]:
        return OrderedDict(history=self.history)

    def _set_history(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.history = arrays["history"]


def test_a_declared_member_is_written_and_restored(tmp_path: Path) -> None:
    model = Recorder(object, "CartPole-v1")
    model.log = {"notes": ["started", "improved"], "best": 21.0}
    model.history = np.array([1.0, 2.0], dtype=np.float32)
    model.save(tmp_path / "agent")
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert archive.namelist() == ["data", "parameter_list", "parameters", "metadata", "training_state",
                                      "episode_log", "training_arrays", "returns_history"]
        assert json.loads(archive.read("episode_log")) == model.log
    loaded = Recorder.load(tmp_path / "agent")
    assert loaded.log == model.log
    np.testing.assert_array_equal(loaded.history, model.history)
    # A class that does not declare the members ignores them.
    assert PPO._archive_members.keys().isdisjoint({"episode_log", "returns_history"})  # noqa: SLF001
    assert read_agent_file(tmp_path / "agent.zip", load_state=True).json_members.keys() == {"training_state"}


def test_declared_member_names_and_kinds_are_checked_when_the_class_is_defined() -> None:
    with pytest.raises(ValueError, match=r"must match \[a-z\]\[a-z0-9_\]\*.*'Bad Name'"):
        type("BadName", (Recorder,), {"_archive_members": {"Bad Name": ArchiveMember(JSON_MEMBER, "a", "b")}})
    with pytest.raises(ValueError, match="'parameters' is a core member"):
        type("Core", (Recorder,), {"_archive_members": {"parameters": ArchiveMember(ARRAYS_MEMBER, "a", "b")}})
    with pytest.raises(ValueError, match="kind must be 'json' or 'arrays', received 'pickle'"):
        ArchiveMember("pickle", "a", "b")


@pytest.mark.parametrize("name, message", [
    ("", "must match"), ("../escape", "must match"), ("a" * 65, "at most 64"), ("Data", "must match"),
    ("metadata", "core member"),
])
def test_member_names_are_validated_on_write(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        save_to_file(io.BytesIO(), data={"a": 1}, json_members={name: {"x": 1}})
    with pytest.raises(ValueError, match=message):
        check_member_name(name)


def test_a_member_given_as_json_and_as_arrays_is_refused() -> None:
    with pytest.raises(ValueError, match=r"members \['both'\] are given both as JSON and as arrays"):
        write_archive(io.BytesIO(), None, None, None, json_members={"both": "{}"},
                      array_members={"both": OrderedDict(a=np.zeros(1))})


def test_read_archive_reads_only_the_members_asked_for_and_checks_their_kind() -> None:
    stream = io.BytesIO()
    write_archive(stream, '{"a": 1}', None, {}, json_members={"notes": '{"x": 1}'},
                  array_members={"extra": OrderedDict(a=np.ones(3))})
    contents = read_archive(stream, "memory")
    assert contents.json_members == {} and contents.array_members == {}
    contents = read_archive(stream, "memory", extra_members={"notes": JSON_MEMBER, "extra": ARRAYS_MEMBER,
                                                             "absent": JSON_MEMBER})
    assert contents.json_members == {"notes": '{"x": 1}'}
    np.testing.assert_array_equal(contents.array_members["extra"]["a"], np.ones(3))
    with pytest.raises(ValueError, match="expected a kind in"):
        read_archive(stream, "memory", extra_members={"notes": "yaml"})
    assert set(STATE_MEMBERS) == {"training_state", "training_arrays", "replay_buffer"}


def test_a_damaged_declared_member_is_reported_by_name(tmp_path: Path) -> None:
    path = tmp_path / "agent.zip"
    save_to_file(path, data={"a": 1}, json_members={"notes": {"x": 1}})
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(tmp_path / "bad.zip", "w") as copy:
        for info in original.infolist():
            copy.writestr(info, b"{not json" if info.filename == "notes" else original.read(info))
    with pytest.raises(CorruptAgentFileError, match="notes"):
        read_agent_file(tmp_path / "bad.zip", extra_members={"notes": JSON_MEMBER})


def test_declared_json_members_never_unpickle_and_draw_on_the_load_budget(tmp_path: Path) -> None:
    path = tmp_path / "agent.zip"
    envelope = {":type:": "<class 'float'>", ":serialized:": base64.b64encode(pickle.dumps(0.5)).decode("ascii")}
    buffer = io.BytesIO()
    write_archive(buffer, '{"a": 1}', None, {"format_version": 2},
                  json_members={"notes": json.dumps({"x": envelope}), "many": json.dumps({"x": list(range(100_000))})})
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UnsafeObjectError, match=r"'x' holds a pickle.*never unpickled.*member 'notes'"):
        read_agent_file(path, safe_mode=False, extra_members={"notes": JSON_MEMBER})
    assert read_agent_file(path, extra_members={"many": JSON_MEMBER}).json_members["many"]["x"][-1] == 99_999
    with pytest.raises(LoadBudgetExceededError, match="member 'many'"):
        read_agent_file(path, extra_members={"many": JSON_MEMBER}, max_bytes=3_000_000)


def test_a_bad_declaration_is_the_callers_error_not_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.zip"
    save_to_file(path, data={"a": 1})
    with pytest.raises(ValueError, match="expected a kind in") as raised:
        read_agent_file(path, extra_members={"notes": "yaml"})
    assert not isinstance(raised.value, CorruptAgentFileError)
