"""Compact agent files (issue 13): CartPole agents within 1.5x Stable-Baselines3's file size,
small members deflated, large arrays stored, and the files still what Stable Baselines 2 reads."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from stable_baselines_io.dqn import DQN
from stable_baselines_io.format.zip_members import DEFLATE_MAX_BYTES
from stable_baselines_io.ppo import PPO

#: 1.5x the bytes of Stable-Baselines3 2.x's untrained CartPole agents (DQN 53,666, PPO 54,570 B);
#: PPO: no larger than before members were deflated (45,238 B).
MAX_FILE_BYTES = {"DQN": 80_499, "PPO": 45_238}
ARRAY_MEMBERS = ("parameters", "training_arrays")


@pytest.fixture(scope="module", params=[DQN, PPO], ids=["DQN", "PPO"])
def agent(request) -> tuple[type, object, bytes]:
    model = request.param("MlpPolicy", "CartPole-v1", seed=0)
    buffer = io.BytesIO()
    model.save(buffer)
    return request.param, model, buffer.getvalue()


def test_untrained_cartpole_file_size(agent):
    model_class, _, raw = agent
    assert len(raw) <= MAX_FILE_BYTES[model_class.__name__]


def test_members_are_deflated_or_stored_by_the_rule(agent):
    """.npz members stored; everything else (JSON, small .npy) deflated unless deflate does not shrink it."""
    _, _, raw = agent
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.testzip() is None
        deflated = 0
        for info in archive.infolist():
            assert not info.flag_bits & 0x8, info.filename  # sizes in the local headers
            if info.filename in ARRAY_MEMBERS:
                assert info.compress_type == zipfile.ZIP_STORED, info.filename
                with zipfile.ZipFile(io.BytesIO(archive.read(info))) as npz:
                    for inner in npz.infolist():
                        assert inner.file_size < DEFLATE_MAX_BYTES
                        if inner.compress_type == zipfile.ZIP_DEFLATED:
                            assert inner.compress_size < inner.file_size
                            deflated += 1
                        else:
                            assert inner.compress_type == zipfile.ZIP_STORED
            else:
                assert info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED), info.filename
                deflated += info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.getinfo("data").compress_type == zipfile.ZIP_DEFLATED
        assert deflated >= 5


def test_large_arrays_stay_stored(tmp_path):
    model = PPO("MlpPolicy", "CartPole-v1", seed=0, policy_kwargs={"net_arch": [256, 256]})
    model.save(tmp_path / "wide")
    with zipfile.ZipFile(tmp_path / "wide.zip") as archive, \
            zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as npz:
        methods = {info.filename: (info.compress_type, info.file_size) for info in npz.infolist()}
    large = {name: method for name, (method, size) in methods.items() if size >= DEFLATE_MAX_BYTES}
    assert large and set(large.values()) == {zipfile.ZIP_STORED}
    loaded = PPO.load(tmp_path / "wide")
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(loaded.get_parameters()[name], value)


def test_round_trip_is_bit_identical(agent):
    model_class, model, raw = agent
    loaded = model_class.load(io.BytesIO(raw))
    expected, actual = model.get_parameters(), loaded.get_parameters()
    assert list(actual) == list(expected)
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype and actual[name].tobytes() == value.tobytes(), name
    buffer = io.BytesIO()
    loaded.save(buffer)
    assert npy_members(raw) == npy_members(buffer.getvalue())


def npy_members(raw: bytes) -> dict[str, bytes]:
    """The uncompressed ``.npy`` members of the ``parameters`` member, by name."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive, zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as npz:
        return {info.filename: npz.read(info) for info in npz.infolist()}


def test_what_stable_baselines_2_reads_with_zipfile_and_np_load(agent):
    _, model, raw = agent
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        parameter_list = json.loads(archive.read("parameter_list"))
        data = json.loads(archive.read("data"))
        with np.load(io.BytesIO(archive.read("parameters")), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    assert "gamma" in data
    expected = model.get_parameters()
    assert parameter_list == list(expected) and sorted(arrays) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(arrays[name], value)
