"""The streaming fast paths of the format layer and the raw-op parameter access (issue 6).

Stored arrays are read straight into the array with ``readinto`` and their CRC-32 checked over
that memory (in pieces on threads for large arrays); contiguous arrays are written as views with
one CRC pass; ``get_parameters`` / ``load_parameters`` use raw TensorFlow ops. These tests pin
that the fast paths write the same bytes and catch the same corruption as the slow ones.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import stable_baselines_io.format._crc as _crc
import stable_baselines_io.format.archive as archive_module
import stable_baselines_io.format.params_codec as params_codec
from stable_baselines_io.exceptions import CorruptAgentFileError
from stable_baselines_io.format._crc import crc32_combine
from stable_baselines_io.format.files import load_from_file, save_to_file
from stable_baselines_io.format.params_codec import bytes_to_params, params_to_bytes, write_array

LAYOUTS = {
    "C float32": np.arange(12, dtype=np.float32).reshape(3, 4),
    "Fortran float64": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "big-endian": np.arange(6, dtype=">i4"),
    "bool": np.array([True, False, True]),
    "0-d": np.array(1.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "non-contiguous": np.arange(20.0).reshape(4, 5)[:, ::2],
    "structured": np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_write_array_writes_numpys_bytes(name):
    array = LAYOUTS[name]
    ours, numpys = io.BytesIO(), io.BytesIO()
    write_array(ours, array)
    np.lib.format.write_array(numpys, array, allow_pickle=False)
    assert ours.getvalue() == numpys.getvalue()


@pytest.mark.parametrize("lengths", [(0, 0), (1, 0), (0, 7), (3, 5), (1000, 1), (17, 70_000)])
def test_crc32_combine(lengths):
    rng = np.random.default_rng(sum(lengths))
    first, second = (rng.integers(0, 256, length, dtype=np.uint8).tobytes() for length in lengths)
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


@pytest.fixture(autouse=True)
def stored_arrays(monkeypatch):
    """Tiny arrays written as large ones are (stored, streamed): this file pins those paths."""
    monkeypatch.setattr(params_codec, "DEFLATE_MAX_BYTES", 0)
    monkeypatch.setattr(archive_module, "IN_MEMORY_ARRAYS_BYTES", 0)


@pytest.fixture(params=[1, 2], ids=["inline CRC", "CRC threads"])
def small_chunks(request, monkeypatch):
    """Chunks and thresholds small enough that tiny arrays take every path: pieces, threads, known CRC."""
    monkeypatch.setattr(_crc, "CRC_CHUNK_BYTES", 64)
    monkeypatch.setattr(params_codec, "CRC_CHUNK_BYTES", 64)
    monkeypatch.setattr(_crc, "KNOWN_CRC_MIN_BYTES", 16)
    monkeypatch.setattr(_crc, "CRC_THREADS", request.param)


def big_params() -> OrderedDict:
    rng = np.random.default_rng(0)
    return OrderedDict([("model/w:0", rng.standard_normal((40, 30)).astype(np.float32)),
                        ("model/b:0", rng.standard_normal(30)),
                        ("model/f:0", np.asfortranarray(rng.standard_normal((20, 20))))])


def test_round_trip_through_every_path(tmp_path, small_chunks):
    params = big_params()
    save_to_file(tmp_path / "agent", data={"a": 1}, params=params)
    _, loaded = load_from_file(tmp_path / "agent")
    for name, value in params.items():
        np.testing.assert_array_equal(loaded[name], value)
    # both levels of CRCs are right for zipfile itself (and so for Stable Baselines 2 and np.load)
    with zipfile.ZipFile(tmp_path / "agent.zip") as archive:
        assert archive.testzip() is None
        inner = archive.read("parameters")
    with zipfile.ZipFile(io.BytesIO(inner)) as npz:
        assert npz.testzip() is None
    with np.load(io.BytesIO(inner)) as npz:
        np.testing.assert_array_equal(npz["model/w:0"], params["model/w:0"])


@pytest.mark.parametrize("offset", [0, 100, 4799])
def test_a_flipped_bit_in_a_multi_piece_array_is_a_crc_error(tmp_path, small_chunks, offset):
    params = big_params()
    raw = bytearray(params_to_bytes(params))
    position = raw.find(params["model/w:0"].tobytes()) + offset
    raw[position] ^= 0x01
    with pytest.raises(CorruptAgentFileError, match=r"Bad CRC-32 for file 'model/w:0\.npy'") as error:
        bytes_to_params(bytes(raw), list(params))
    assert isinstance(error.value.__cause__, zipfile.BadZipFile)


def test_a_damaged_npy_header_is_a_crc_error():
    raw = bytearray(params_to_bytes({"w": np.arange(6, dtype=np.float32)}))
    raw[raw.find(b"'descr'") + 2] ^= 0xFF
    with pytest.raises(CorruptAgentFileError, match="Bad CRC-32"):
        bytes_to_params(bytes(raw), ["w"])


def test_get_and_load_parameters_with_raw_ops():
    tf = pytest.importorskip("tensorflow")
    from stable_baselines_io.common.save_load import SaveLoadMixin

    class Model(SaveLoadMixin):
        def __init__(self):
            self.variables = [tf.Variable(np.zeros((2, 3), np.float32), name="w"),
                              tf.Variable(np.int64(0), name="step"), tf.Variable([True, False], name="mask")]

        def get_parameter_list(self):
            return self.variables

    model = Model()
    values = OrderedDict([("w:0", np.arange(6, dtype=np.float32).reshape(2, 3)), ("step:0", np.array(7)),
                          ("mask:0", np.array([False, True]))])
    model.load_parameters(values)
    params = model.get_parameters()
    assert list(params) == list(values)
    for name, value in values.items():
        assert type(params[name]) is np.ndarray and params[name].dtype == value.dtype
        np.testing.assert_array_equal(params[name], value)
    assert params["step:0"].shape == ()
    params["w:0"][0, 0] = 99.0  # a copy: the variable keeps its value
    assert model.variables[0].numpy()[0, 0] == 0.0
