"""``save_to_file`` / ``load_from_file``: paths, file objects, both formats, the archive's members."""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import struct
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import stable_baselines_io.format.archive as archive_module
import stable_baselines_io.format.params_codec as params_codec
from stable_baselines_io.exceptions import CorruptAgentFileError, SerializationError, UnsupportedFormatVersionError
from stable_baselines_io.format import load_from_file, read_agent_file, save_to_file
from stable_baselines_io.format.files import BASE_FORMAT_VERSION, FORMAT_VERSION
from stable_baselines_io.format.json_codec import SERIALIZED_KEY
from stable_baselines_io.schedules import ConstantSchedule, LinearSchedule

LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature, version, flags, method, time, date, crc, sizes, name/extra len


def make_data() -> dict:
    return {
        "gamma": 0.99,
        "n_steps": 128,
        "learning_rate": LinearSchedule(3e-4, 0.0),
        "cliprange": ConstantSchedule(0.2),
        "observation_space": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
        "action_space": gym.spaces.Discrete(2),
        "policy_kwargs": {"net_arch": [64, 64]},
        "seed": None,
    }


def make_params() -> OrderedDict:
    # deliberately not alphabetical: order must come from parameter_list
    return OrderedDict([
        ("model/pi_fc0/w:0", np.arange(12, dtype=np.float32).reshape(4, 3)),
        ("model/pi_fc0/b:0", np.zeros(3, dtype=np.float32)),
        ("model/vf/w:0", np.ones((3, 1), dtype=np.float32)),
        ("deepq/eps:0", np.array(0.5, dtype=np.float32)),
        ("model/a_last/b:0", np.array([1, 2], dtype=np.int64)),
    ])


def assert_params_equal(loaded, expected) -> None:
    assert type(loaded) is OrderedDict
    assert list(loaded) == list(expected)
    for name, value in expected.items():
        assert loaded[name].dtype == value.dtype
        assert loaded[name].shape == value.shape
        np.testing.assert_array_equal(loaded[name], value)


def local_header_extra(raw: bytes, offset: int) -> bytes:
    header = LOCAL_HEADER.unpack_from(raw, offset)
    assert header[0] == b"PK\x03\x04"
    name_length, extra_length = header[-2:]
    start = offset + LOCAL_HEADER.size + name_length
    return raw[start:start + extra_length]


def has_zip64_extra(extra: bytes) -> bool:
    position = 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, position)
        if tag == 0x0001:
            return True
        position += 4 + size
    return False


@pytest.mark.parametrize("as_path", [str, Path], ids=["str", "pathlib.Path"])
def test_round_trip_through_a_path(tmp_path, as_path, same):
    target = as_path(tmp_path / "agent.zip")
    save_to_file(target, data=make_data(), params=make_params())
    data, params = load_from_file(target)
    same(data, make_data())
    assert_params_equal(params, make_params())


def test_round_trip_through_bytesio_left_open(same):
    buffer = io.BytesIO()
    save_to_file(buffer, data=make_data(), params=make_params())
    assert not buffer.closed
    buffer.seek(0)
    data, params = load_from_file(buffer)
    assert not buffer.closed
    buffer.seek(0)
    assert buffer.read(4) == b"PK\x03\x04"
    same(data, make_data())
    assert_params_equal(params, make_params())


def test_reads_a_non_seekable_stream():
    buffer = io.BytesIO()
    save_to_file(buffer, data={"gamma": 0.5}, params=make_params())

    class Pipe(io.RawIOBase):
        def __init__(self, payload: bytes):
            self._source = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, target) -> int:
            return self._source.readinto(target)

    data, params = load_from_file(io.BufferedReader(Pipe(buffer.getvalue())))
    assert data == {"gamma": 0.5}
    assert_params_equal(params, make_params())


def test_writes_to_a_file_object_from_its_position(tmp_path):
    with open(tmp_path / "with-prefix", "w+b") as file:
        file.write(b"PREFIX")
        save_to_file(file, data={"a": 1})
        assert not file.closed
        file.seek(6)
        assert load_from_file(file) == ({"a": 1}, None)


@pytest.mark.parametrize("given, written", [
    ("agent", "agent.zip"),
    ("agent.zip", "agent.zip"),
    ("agent.pkl", "agent.pkl"),
    ("my.agent", "my.agent"),
    ("run-1/agent", "run-1/agent.zip"),
])
def test_zip_suffix_is_appended_only_without_extension(tmp_path, given, written):
    (tmp_path / "run-1").mkdir()
    save_to_file(tmp_path / given, data={"given": given})
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file()) == [written]
    assert load_from_file(tmp_path / written)[0] == {"given": given}
    assert load_from_file(str(tmp_path / given))[0] == {"given": given}


def test_loading_without_extension_finds_the_zip(tmp_path):
    save_to_file(str(tmp_path / "agent.zip"), data={"a": 1})
    assert load_from_file(str(tmp_path / "agent"))[0] == {"a": 1}
    assert load_from_file(tmp_path / "agent")[0] == {"a": 1}


def test_an_existing_file_without_extension_wins_over_the_zip(tmp_path):
    save_to_file(tmp_path / "agent.zip", data={"which": "zip"})
    with open(tmp_path / "agent", "wb") as file:
        save_to_file(file, data={"which": "plain"})
    assert load_from_file(tmp_path / "agent")[0] == {"which": "plain"}


@pytest.mark.parametrize("data, params", [(None, None), ({"a": 1}, None), (None, "params"), ({}, OrderedDict())],
                         ids=["nothing", "data only", "params only", "empty"])
def test_data_or_params_none(tmp_path, data, params):
    params = make_params() if params == "params" else params
    save_to_file(tmp_path / "agent", data=data, params=params)
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        names = archive.namelist()
    assert ("data" in names) == (data is not None)
    assert ("parameters" in names) == ("parameter_list" in names) == (params is not None)
    loaded_data, loaded_params = load_from_file(tmp_path / "agent")
    assert loaded_data == data
    if params is None:
        assert loaded_params is None
    else:
        assert_params_equal(loaded_params, params)


def test_load_data_false_skips_the_data(tmp_path):
    save_to_file(tmp_path / "agent", data={"a": 1}, params=make_params())
    data, params = load_from_file(tmp_path / "agent", load_data=False)
    assert data is None
    assert_params_equal(params, make_params())


def test_archive_members_as_stable_baselines_wrote_them(tmp_path):
    params = make_params()
    params["model/vf_fc0/w:0"] = np.linspace(0, 1, 1024, dtype=np.float32).reshape(32, 32)  # deflated
    save_to_file(tmp_path / "agent", data=make_data(), params=params)
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert archive.namelist() == ["data", "parameter_list", "parameters", "metadata"]
        # zipfile (what Stable Baselines 2 opens the file with) inflates the deflated JSON members;
        # "parameters" is stored, as Stable Baselines 2 wrote it
        # (a tiny member that deflate does not make smaller is stored)
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        assert methods["data"] == zipfile.ZIP_DEFLATED and methods["parameters"] == zipfile.ZIP_STORED
        assert set(methods.values()) == {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
        assert archive.testzip() is None
        assert json.loads(archive.read("parameter_list")) == list(params)
        data = json.loads(archive.read("data"))
        assert data["gamma"] == 0.99
        assert data["action_space"]["n"] == 2
        # what Stable Baselines 2's reader does with the member, whose small .npy members are deflated
        with zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as npz_archive:
            assert zipfile.ZIP_DEFLATED in {info.compress_type for info in npz_archive.infolist()}
        with np.load(io.BytesIO(archive.read("parameters"))) as npz:
            assert sorted(npz.files) == sorted(params)
            for name, value in params.items():
                np.testing.assert_array_equal(npz[name], value)


def test_metadata_member(tmp_path):
    save_to_file(tmp_path / "agent", data={"a": 1}, metadata={"algorithm": "PPO"})
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        metadata = json.loads(archive.read("metadata"))
    assert metadata["format_version"] == BASE_FORMAT_VERSION  # no member that needs a newer reader
    assert metadata["algorithm"] == "PPO"
    assert metadata["numpy"] == np.__version__
    assert metadata["gymnasium"] == gym.__version__
    for key in ("stable_baselines_io", "python"):
        assert isinstance(metadata[key], str) and metadata[key]
    written = datetime.datetime.fromisoformat(metadata["date"])
    assert abs(datetime.datetime.now(datetime.timezone.utc) - written) < datetime.timedelta(minutes=5)
    agent_file = read_agent_file(tmp_path / "agent.zip")
    assert agent_file.metadata == metadata
    assert agent_file.file_format == "zip"


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_newer_format_version_is_refused(tmp_path):
    path = write_zip(tmp_path / "future.zip", {
        "data": json.dumps({"gamma": 0.9}),
        "metadata": json.dumps({"format_version": FORMAT_VERSION + 1, "stable_baselines_io": "9.0"}),
    })
    with pytest.raises(UnsupportedFormatVersionError,
                       match=rf"format version {FORMAT_VERSION + 1}.*9\.0.*upgrade") as error:
        load_from_file(path)
    assert error.value.path == str(path)
    assert error.value.member == "metadata"
    assert isinstance(error.value, ValueError)


def test_file_without_metadata_reads_as_stable_baselines_2(tmp_path):
    params = make_params()
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    path = write_zip(tmp_path / "sb2.zip", {"data": json.dumps({"gamma": 0.9}),
                                            "parameters": buffer.getvalue(),
                                            "parameter_list": json.dumps(list(params))})
    data, loaded = load_from_file(path)
    assert data == {"gamma": 0.9}
    assert_params_equal(loaded, params)
    assert read_agent_file(path).metadata == {}


def test_compressed_archive_and_compressed_npz_load(tmp_path):
    """Other tools may deflate the members or write the parameters with ``np.savez_compressed``."""
    params = OrderedDict([("big/w:0", np.zeros((200, 200), dtype=np.float32)), ("b:0", np.arange(3.0))])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **params)
    path = tmp_path / "deflated.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data", json.dumps({"gamma": 0.9}))
        archive.writestr("parameter_list", json.dumps(list(params)))
        archive.writestr("parameters", buffer.getvalue())
    assert buffer.getbuffer().nbytes < params["big/w:0"].nbytes / 10
    data, loaded = load_from_file(path)
    assert data == {"gamma": 0.9}
    assert_params_equal(loaded, params)


def test_legacy_cloudpickle_round_trip(tmp_path, same):
    data = {"gamma": 0.99, "n_steps": 16, "name": "ppo", "layers": [64, 64], "shape": (4,)}
    save_to_file(tmp_path / "agent.pkl", data=data, params=make_params(), cloudpickle=True)
    assert not zipfile.is_zipfile(tmp_path / "agent.pkl")
    with pytest.warns(DeprecationWarning, match="legacy cloudpickle.*re-save"):
        loaded_data, params = load_from_file(tmp_path / "agent.pkl")  # safe mode: plain values and arrays
    same(loaded_data, data)
    assert_params_equal(params, make_params())
    with pytest.warns(DeprecationWarning):
        assert read_agent_file(tmp_path / "agent.pkl").file_format == "cloudpickle"


def test_legacy_with_spaces_and_schedules_loads_in_safe_mode(tmp_path, same):
    save_to_file(tmp_path / "agent.pkl", data=make_data(), params=make_params(), cloudpickle=True)
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(tmp_path / "agent.pkl")
    same(data, make_data())
    assert_params_equal(params, make_params())


def test_legacy_through_bytesio_and_with_params_as_a_list():
    buffer = io.BytesIO()
    params = list(make_params().values())
    save_to_file(buffer, data={"a": 1}, params=params, cloudpickle=True)
    buffer.seek(0)
    with pytest.warns(DeprecationWarning):
        data, loaded = load_from_file(buffer)
    assert not buffer.closed
    assert data == {"a": 1}
    assert type(loaded) is list and len(loaded) == len(params)
    for value, expected in zip(loaded, params):
        np.testing.assert_array_equal(value, expected)


def test_legacy_load_data_false_does_not_judge_the_data(tmp_path):
    """Parameters load from a legacy file whose data holds a pickled function (safe mode refuses it)."""
    save_to_file(tmp_path / "agent.pkl", data={"learning_rate": lambda progress: 1e-3 * progress},
                 params=make_params(), cloudpickle=True)
    with pytest.warns(DeprecationWarning):
        data, params = load_from_file(tmp_path / "agent.pkl", load_data=False)
    assert data is None
    assert_params_equal(params, make_params())


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_new_file_permissions_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        save_to_file(tmp_path / "agent", data={"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "agent.zip").stat().st_mode & 0o777 == 0o666 & ~umask


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    save_to_file(tmp_path / "agent", data={"version": 1})
    os.chmod(tmp_path / "agent.zip", 0o640)
    save_to_file(tmp_path / "agent", data={"version": 2})
    assert (tmp_path / "agent.zip").stat().st_mode & 0o777 == 0o640
    assert load_from_file(tmp_path / "agent")[0] == {"version": 2}


def test_saving_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_to_file(tmp_path / "missing" / "agent", data={"a": 1})


def test_zip64_headers_when_over_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(params_codec, "ZIP64_THRESHOLD", 16)
    monkeypatch.setattr(archive_module, "ZIP64_THRESHOLD", 16)
    # the streamed path of large arrays: stored members written through zipfile
    monkeypatch.setattr(archive_module, "IN_MEMORY_ARRAYS_BYTES", 0)
    monkeypatch.setattr(params_codec, "DEFLATE_MAX_BYTES", 0)
    params = make_params()
    save_to_file(tmp_path / "agent", data={"a": 1}, params=params)
    raw = (tmp_path / "agent.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert infos["parameters"].extract_version >= zipfile.ZIP64_VERSION
        assert has_zip64_extra(local_header_extra(raw, infos["parameters"].header_offset))
        assert not has_zip64_extra(local_header_extra(raw, infos["data"].header_offset))
        inner_raw = archive.read("parameters")
    with zipfile.ZipFile(io.BytesIO(inner_raw)) as inner:
        for info in inner.infolist():
            assert has_zip64_extra(local_header_extra(inner_raw, info.header_offset)), info.filename
    data, loaded = load_from_file(tmp_path / "agent")
    assert data == {"a": 1}
    assert_params_equal(loaded, params)
    with np.load(io.BytesIO(inner_raw)) as npz:  # still readable by numpy / Stable Baselines 2
        np.testing.assert_array_equal(npz["model/pi_fc0/w:0"], params["model/pi_fc0/w:0"])


def test_no_zip64_headers_for_small_files(tmp_path):
    save_to_file(tmp_path / "agent", data={"a": 1}, params=make_params())
    raw = (tmp_path / "agent.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for info in archive.infolist():
            assert not has_zip64_extra(local_header_extra(raw, info.header_offset)), info.filename


@pytest.mark.slow
def test_round_trip_over_4_gib(tmp_path):
    big = np.zeros(4 * 2**30 + 2**20, dtype=np.uint8)
    big[:: 2**20] = np.arange(big[:: 2**20].size) % 251  # a mark every MiB, so misplaced chunks show
    big[-1] = 255
    params = OrderedDict([("before:0", np.arange(5.0)), ("big:0", big), ("after:0", np.ones(3, dtype=np.int16))])
    save_to_file(tmp_path / "huge", data={"size": int(big.size)}, params=params)
    with zipfile.ZipFile(tmp_path / "huge.zip") as archive:
        assert archive.getinfo("parameters").file_size > 2**32
    data, loaded = load_from_file(tmp_path / "huge")
    assert data == {"size": big.size}
    assert list(loaded) == list(params)
    np.testing.assert_array_equal(loaded["before:0"], params["before:0"])
    np.testing.assert_array_equal(loaded["after:0"], params["after:0"])
    assert loaded["big:0"].shape == big.shape
    chunk = 2**28  # compare in chunks: a whole-array comparison would need another 4 GiB
    for start in range(0, big.size, chunk):
        assert np.array_equal(loaded["big:0"][start:start + chunk], big[start:start + chunk]), start


def test_warnings_are_not_raised_for_zip_files(tmp_path):
    save_to_file(tmp_path / "agent", data={"a": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_from_file(tmp_path / "agent")



# --- training state (format version 2) ------------------------------------------------------------


def make_training_state() -> dict:
    generator = np.random.default_rng(3)
    generator.random(4)
    return {"num_timesteps": 4096, "episode_rewards": [1.0, math.nan], "rng": generator,
            "env_random_state": np.random.RandomState(5), "last_obs": np.ones((2, 4), dtype=np.float32)}


def make_state_arrays() -> dict:
    return {"training_arrays": OrderedDict([("adam/m/model/pi/w:0", np.full((4, 3), 0.5, dtype=np.float32)),
                                            ("adam/iterations:0", np.array(17, dtype=np.int64))]),
            "replay_buffer": OrderedDict([("observations", np.arange(10.0).reshape(5, 2)),
                                          ("dones", np.array([0, 0, 1, 0, 1], dtype=bool))])}


def test_training_state_round_trip(tmp_path, same):
    save_to_file(tmp_path / "agent", data=make_data(), params=make_params(), training_state=make_training_state(),
                 state_arrays=make_state_arrays())
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert archive.namelist() == ["data", "parameter_list", "parameters", "metadata", "training_state",
                                      "training_arrays", "replay_buffer"]
        assert SERIALIZED_KEY not in archive.read("training_state").decode()
    agent_file = read_agent_file(tmp_path / "agent.zip", load_state=True)
    assert agent_file.format_version == BASE_FORMAT_VERSION  # no member that needs version 3
    same(agent_file.data, make_data())
    assert_params_equal(agent_file.params, make_params())
    loaded_state = agent_file.training_state
    expected_state = make_training_state()
    same(loaded_state["rng"].bit_generator.state, expected_state.pop("rng").bit_generator.state)
    assert loaded_state.pop("env_random_state").rand() == expected_state.pop("env_random_state").rand()
    del loaded_state["rng"]
    same(loaded_state, expected_state)
    assert agent_file.state_arrays.keys() == make_state_arrays().keys()
    for member, arrays in make_state_arrays().items():
        assert_params_equal(agent_file.state_arrays[member], arrays)
    # not read unless asked; load_from_file is unchanged
    assert read_agent_file(tmp_path / "agent.zip").training_state is None
    assert read_agent_file(tmp_path / "agent.zip").state_arrays == {}
    data, params = load_from_file(tmp_path / "agent.zip")
    same(data, make_data())


def test_version_1_file_has_no_training_state(tmp_path):
    save_to_file(tmp_path / "v2.zip", data={"a": 1}, training_state={"num_timesteps": 5},
                 state_arrays={"training_arrays": OrderedDict([("m", np.ones(2))])})
    with zipfile.ZipFile(tmp_path / "v2.zip") as source:
        members = {name: source.read(name) for name in source.namelist()}
    metadata = json.loads(members["metadata"])
    members["metadata"] = json.dumps({**metadata, "format_version": 1}).encode()
    path = write_zip(tmp_path / "v1.zip", members)
    agent_file = read_agent_file(path, load_state=True)
    assert agent_file.format_version == 1
    assert agent_file.data == {"a": 1}
    assert agent_file.training_state is None
    assert agent_file.state_arrays == {}


def test_training_state_is_never_pickled(tmp_path):
    with pytest.raises(SerializationError, match="'helper'.*pickle is not allowed"):
        save_to_file(tmp_path / "agent", data={"a": 1}, training_state={"helper": Unpicklable()})
    assert list(tmp_path.iterdir()) == []


def test_allow_pickle_false_refuses_values_without_codec(tmp_path):
    with pytest.raises(SerializationError, match="'helper'.*pickle is not allowed"):
        save_to_file(tmp_path / "agent", data={"helper": Unpicklable()}, allow_pickle=False)
    save_to_file(tmp_path / "agent", data={"space": gym.spaces.Discrete(3), "shape": (2,)}, allow_pickle=False)
    assert load_from_file(tmp_path / "agent")[0] == {"space": gym.spaces.Discrete(3), "shape": (2,)}


def test_legacy_format_warns_that_training_state_is_dropped(tmp_path):
    with pytest.warns(UserWarning, match="training state is not saved"):
        save_to_file(tmp_path / "agent.pkl", data={"a": 1}, training_state={"num_timesteps": 5}, cloudpickle=True)
    with pytest.warns(DeprecationWarning):
        agent_file = read_agent_file(tmp_path / "agent.pkl", load_state=True)
    assert agent_file.data == {"a": 1}
    assert agent_file.training_state is None


class Unpicklable:
    """A value with no JSON codec (pickling it would be the only way to store it)."""


def test_reads_a_file_object_left_at_its_end_after_save(same):
    buffer = io.BytesIO()
    save_to_file(buffer, data=make_data(), params=make_params())
    assert buffer.tell() == len(buffer.getvalue())
    data, params = load_from_file(buffer)
    same(data, make_data())
    assert_params_equal(params, make_params())


def test_reads_a_file_object_from_its_position_when_not_at_the_end(same):
    buffer = io.BytesIO()
    buffer.write(b"prefix")
    save_to_file(buffer, data=make_data(), params=make_params())
    buffer.seek(len(b"prefix"))
    data, params = load_from_file(buffer)
    same(data, make_data())
    assert_params_equal(params, make_params())


def test_an_empty_file_object_says_it_is_empty():
    with pytest.raises(CorruptAgentFileError, match=r"the file is empty \(0 bytes\)"):
        load_from_file(io.BytesIO())
