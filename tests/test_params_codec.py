"""The ``parameters`` member: ordered arrays <-> ``.npz`` bytes (``params_to_bytes`` / ``bytes_to_params``)."""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stable_baselines_io.exceptions import CorruptAgentFileError, SerializationError
from stable_baselines_io.format.params_codec import bytes_to_params, params_to_bytes
from stable_baselines_io.format.zip_members import DEFLATE_MAX_BYTES

ARRAYS = {
    "float16": np.array([0.5, -65504.0, 6e-8], dtype=np.float16),
    "float32": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    "float64": np.array([1 / 3, np.nan, np.inf, -np.inf, -0.0]),
    "int8": np.array([-128, 127], dtype=np.int8),
    "int16": np.array([-(2**15), 2**15 - 1], dtype=np.int16),
    "int32": np.arange(-5, 5, dtype=np.int32),
    "int64": np.array([-(2**63), 2**63 - 1], dtype=np.int64),
    "uint8": np.arange(256, dtype=np.uint8),
    "uint16": np.array([0, 2**16 - 1], dtype=np.uint16),
    "uint32": np.array([0, 2**32 - 1], dtype=np.uint32),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "0-d": np.array(0.25, dtype=np.float32),
    "0-d int": np.array(-3),
    "empty": np.zeros((0,), dtype=np.float32),
    "empty 2-d": np.zeros((3, 0), dtype=np.int64),
    "non-contiguous": np.arange(60.0).reshape(6, 10)[::2, 1::3],
    "Fortran-ordered": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
    "big-endian float": np.arange(6, dtype=">f4").reshape(2, 3) / 3,
    "big-endian int": np.array([1, -2, 2**40], dtype=">i8"),
    "complex": np.array([1 + 2j, -1j], dtype=np.complex64),
}


def assert_arrays_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert type(actual) is np.ndarray
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("name", ARRAYS)
def test_each_dtype_and_layout_round_trips(name):
    expected = ARRAYS[name]
    loaded = bytes_to_params(params_to_bytes({name: expected}), [name])
    assert list(loaded) == [name]
    assert_arrays_equal(loaded[name], expected)


def test_all_together_round_trip_in_parameter_list_order():
    params = OrderedDict((f"model/{name}:0", value) for name, value in ARRAYS.items())
    loaded = bytes_to_params(params_to_bytes(params), list(params))
    assert type(loaded) is OrderedDict
    assert list(loaded) == list(params)
    for name, value in params.items():
        assert_arrays_equal(loaded[name], value)


def test_order_comes_from_parameter_list():
    params = OrderedDict([("model/pi/w:0", np.ones(2)), ("model/pi/b:0", np.zeros(1)), ("model/vf/w:0", np.ones(3))])
    serialized = params_to_bytes(params)
    order = ["model/vf/w:0", "model/pi/w:0", "model/pi/b:0"]
    assert list(bytes_to_params(serialized, order)) == order
    assert list(bytes_to_params(serialized, None)) == list(params)
    assert list(bytes_to_params(serialized, ["model/pi/b:0"])) == ["model/pi/b:0"]


def test_loaded_arrays_are_writable_and_independent():
    serialized = params_to_bytes({"w": np.arange(4.0)})
    first = bytes_to_params(serialized, ["w"])["w"]
    first[0] = 99.0
    assert bytes_to_params(serialized, ["w"])["w"][0] == 0.0


def test_output_is_a_npz_that_numpy_reads():
    """Stable Baselines 2 reads the member with ``np.load`` (its ``bytes_to_params``)."""
    params = OrderedDict((name, ARRAYS[name]) for name in ("float32", "int64", "bool", "0-d", "empty",
                                                           "Fortran-ordered", "big-endian float", "non-contiguous"))
    with np.load(io.BytesIO(params_to_bytes(params)), allow_pickle=False) as npz:
        assert npz.files == list(params)
        for name, value in params.items():
            assert_arrays_equal(npz[name], value)


def test_small_arrays_are_deflated_npy_members_and_large_ones_stored():
    small = np.ones((16, 16), dtype=np.float32)
    large = np.ones(DEFLATE_MAX_BYTES // 4, dtype=np.float32)  # its .npy bytes reach the threshold
    just_below = np.ones((DEFLATE_MAX_BYTES - 256) // 8, dtype=np.float64)
    params = OrderedDict([("model/pi/w:0", small), ("model/big:0", large), ("model/edge:0", just_below)])
    with zipfile.ZipFile(io.BytesIO(params_to_bytes(params))) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert list(infos) == ["model/pi/w:0.npy", "model/big:0.npy", "model/edge:0.npy"]
        assert infos["model/pi/w:0.npy"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["model/edge:0.npy"].compress_type == zipfile.ZIP_DEFLATED
        assert infos["model/big:0.npy"].compress_type == zipfile.ZIP_STORED
        assert not any(info.flag_bits & 0x8 for info in infos.values())  # sizes in the headers, no descriptors
        for name, value in params.items():
            expected = io.BytesIO()
            np.lib.format.write_array(expected, value, allow_pickle=False)
            assert archive.read(name + ".npy") == expected.getvalue()


def test_incompressible_small_arrays_stay_stored():
    noise = np.frombuffer(np.random.default_rng(0).bytes(1024), dtype=np.uint8)
    with zipfile.ZipFile(io.BytesIO(params_to_bytes({"noise": noise}))) as archive:
        assert archive.getinfo("noise.npy").compress_type == zipfile.ZIP_STORED
    np.testing.assert_array_equal(bytes_to_params(params_to_bytes({"noise": noise}))["noise"], noise)


def test_reads_numpy_written_npz_including_compressed():
    params = {"a": np.arange(10.0), "b": np.zeros((100, 100), dtype=np.float32)}
    for writer in (np.savez, np.savez_compressed):
        buffer = io.BytesIO()
        writer(buffer, **params)
        loaded = bytes_to_params(buffer.getvalue(), ["b", "a"])
        assert list(loaded) == ["b", "a"]
        for name, value in params.items():
            assert_arrays_equal(loaded[name], value)


def test_object_arrays_are_refused_naming_the_parameter():
    params = OrderedDict([("fine", np.ones(2)), ("model/objects:0", np.array([{"a": 1}, None], dtype=object))])
    with pytest.raises(SerializationError, match="'model/objects:0'.*pickle"):
        params_to_bytes(params)


def test_values_are_converted_to_arrays():
    loaded = bytes_to_params(params_to_bytes({"list": [1.0, 2.0], "scalar": np.float32(3)}), ["list", "scalar"])
    assert_arrays_equal(loaded["list"], np.array([1.0, 2.0]))
    assert_arrays_equal(loaded["scalar"], np.array(3, dtype=np.float32))


def test_missing_names_are_reported_together():
    serialized = params_to_bytes({"a": np.ones(1)})
    with pytest.raises(CorruptAgentFileError, match=r"\['b', 'c'\]") as error:
        bytes_to_params(serialized, ["a", "b", "c"])
    assert error.value.member == "parameters/b.npy"


def test_object_npy_inside_is_refused_on_load():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("w.npy", "w") as member:
        np.lib.format.write_array(member, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptAgentFileError, match="pickled Python objects"):
        bytes_to_params(buffer.getvalue(), ["w"])


def test_not_a_npz_is_corrupt():
    with pytest.raises(CorruptAgentFileError, match="not a valid .npz"):
        bytes_to_params(b"definitely not a zip", ["w"])


@settings(max_examples=60, deadline=None)
@given(st.lists(
    st.sampled_from([np.float16, np.float32, np.float64, np.dtype(">f4"), np.int8, np.uint16, np.int64, np.bool_])
    .flatmap(lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))),
    max_size=5,
))
def test_property_any_arrays_round_trip(arrays):
    params = OrderedDict((f"layer_{index}/w:0", array) for index, array in enumerate(arrays))
    loaded = bytes_to_params(params_to_bytes(params), list(params)[::-1])
    assert list(loaded) == list(params)[::-1]
    for name, value in params.items():
        assert loaded[name].dtype == value.dtype
        assert loaded[name].shape == value.shape
        np.testing.assert_array_equal(loaded[name], value)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
                  shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=3)),
       st.booleans())
def test_the_header_fast_path_reads_what_numpy_reads(array, fortran):
    from stable_baselines_io.format.params_codec import _read_npy_header

    if fortran:
        array = np.asfortranarray(array)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    buffer.seek(0)
    version = np.lib.format.read_magic(buffer)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    expected = read_header(buffer)
    buffer.seek(0)
    assert _read_npy_header(buffer) == expected


@pytest.mark.parametrize("header", [
    b"{'descr': '<f4', 'shape': (2,), 'fortran_order': False, }",  # other key order: NumPy's parser
    b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }",
    b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
    b"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
])
def test_headers_numpy_did_not_write_go_through_its_parser_and_checks(header):
    from stable_baselines_io.format.params_codec import _NUMPY_HEADER, _read_npy_header

    padded = header + b" " * (-(len(header) + 11) % 64) + b"\n"
    assert _NUMPY_HEADER.fullmatch(padded) is None
    buffer = io.BytesIO(b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded)
    if b"'shape': (2,), 'fortran_order'" in header:
        assert _read_npy_header(buffer) == ((2,), False, np.dtype("<f4"))
    else:
        with pytest.raises(ValueError):
            _read_npy_header(buffer)
