"""Every way an agent file can be bad raises a library exception naming the file and the member."""

from __future__ import annotations

import base64
import io
import json
import pickle
import random
import re
import struct
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.exceptions import (
    AgentFileError,
    AgentFileNotFoundError,
    CorruptAgentFileError,
    DeserializationError,
    StableBaselinesIOError,
    UnsafeObjectError,
)
from stable_baselines_io.format import load_from_file, read_agent_file, save_to_file, zip_members

PARAMS = OrderedDict([("model/pi/w:0", np.arange(64, dtype=np.float32).reshape(8, 8) + 0.5),
                      ("model/pi/b:0", np.ones(8, dtype=np.float32))])
DATA = {"gamma": 0.99, "n_steps": 128, "shape": (4,)}

# offsets of fields in a central directory entry / local file header
CENTRAL = {"flags": 8, "method": 10, "crc": 16, "compressed": 20, "uncompressed": 24}
LOCAL = {"flags": 6, "method": 8, "crc": 14, "compressed": 18, "uncompressed": 22}
FIELD_FORMATS = {"flags": "<H", "method": "<H", "crc": "<L", "compressed": "<L", "uncompressed": "<L"}


def valid_file_bytes(data=DATA, params=PARAMS) -> bytes:
    buffer = io.BytesIO()
    save_to_file(buffer, data=data, params=params)
    return buffer.getvalue()


def patch_member_field(raw: bytes, member: str, field: str, value: int) -> bytes:
    """Set ``field`` of every header (central and local) of ``member``, at any nesting level."""
    patched = bytearray(raw)
    fmt = FIELD_FORMATS[field]
    found = 0
    headers = ((b"PK\x01\x02", CENTRAL, 28, 46), (b"PK\x03\x04", LOCAL, 26, 30))
    for signature, offsets, name_length_at, name_at in headers:
        position = patched.find(signature)
        while position >= 0:
            (name_length,) = struct.unpack_from("<H", patched, position + name_length_at)
            if patched[position + name_at: position + name_at + name_length] == member.encode():
                struct.pack_into(fmt, patched, position + offsets[field], value)
                found += 1
            position = patched.find(signature, position + 4)
    assert found >= 2, f"{member} headers not found"
    return bytes(patched)


def write(tmp_path: Path, content: bytes, name: str = "agent.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def zip_bytes(members: dict[str, bytes | str], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def agent_zip(data=None, parameter_list=None, parameters=None, metadata=None, compression=zipfile.ZIP_STORED) -> bytes:
    members = {}
    if data is not None:
        members["data"] = data if isinstance(data, (str, bytes)) else json.dumps(data)
    if parameter_list is not None:
        members["parameter_list"] = parameter_list if isinstance(parameter_list, str) else json.dumps(parameter_list)
    if parameters is not None:
        members["parameters"] = parameters
    if metadata is not None:
        members["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return zip_bytes(members, compression)


def npz_bytes(members: dict[str, bytes]) -> bytes:
    return zip_bytes({f"{name}.npy": content for name, content in members.items()})


def npy_bytes(array: np.ndarray, header: dict | None = None, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
        buffer.write(array.tobytes())
    return buffer.getvalue()


def expect(error_type, path: Path, member: str | None, match: str = ""):
    """``pytest.raises`` for ``error_type`` whose message names ``path`` and ``member``."""
    pattern = match + ".*" + re.escape(f"file {str(path)!r}")
    if member is not None:
        pattern += ".*" + re.escape(f"member {member!r}")
    return pytest.raises(error_type, match=pattern)


def check_attributes(error: AgentFileError, path: Path, member: str | None) -> None:
    assert error.path == str(path)
    assert error.member == member


# --- not a file -----------------------------------------------------------------------------------


@pytest.mark.parametrize("as_path", [str, Path], ids=["str", "Path"])
def test_missing_file(tmp_path, as_path):
    path = tmp_path / "agent"
    with expect(AgentFileNotFoundError, path, None, r"could not be found \(nor .*agent\.zip\)") as error:
        load_from_file(as_path(path))
    assert isinstance(error.value, ValueError)
    assert isinstance(error.value, FileNotFoundError)
    check_attributes(error.value, path, None)
    with expect(AgentFileNotFoundError, tmp_path / "agent.zip", None, "could not be found"):
        load_from_file(tmp_path / "agent.zip")


def test_directory(tmp_path):
    (tmp_path / "agent.zip").mkdir()
    with expect(AgentFileError, tmp_path / "agent.zip", None, "exists but is not a file") as error:
        load_from_file(tmp_path / "agent.zip")
    assert isinstance(error.value, ValueError)


def test_empty_file(tmp_path):
    path = write(tmp_path, b"")
    with expect(CorruptAgentFileError, path, None, "empty") as error:
        load_from_file(path)
    check_attributes(error.value, path, None)
    with pytest.raises(CorruptAgentFileError, match="empty"):
        load_from_file(io.BytesIO())


# --- truncated or not an agent file -----------------------------------------------------------------


def interesting_cuts(raw: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        info = {item.filename: item for item in archive.infolist()}
    inner_end = raw.rfind(b"PK\x05\x06", 0, info["metadata"].header_offset) + 22
    return {
        "first byte": 1,
        "signature": 4,
        "local header": 20,
        "inside data": info["data"].header_offset + 40,
        "inside parameters": info["parameters"].header_offset + 200,
        "inner central directory": inner_end - 30,
        "right after the inner npz": inner_end,
        "inside metadata": info["metadata"].header_offset + 40,
        "central directory": raw.find(b"PK\x01\x02") + 10,
        "end record": len(raw) - 10,
        "last byte": len(raw) - 1,
    }


def test_truncated_file_at_named_points(tmp_path):
    raw = valid_file_bytes()
    for label, cut in interesting_cuts(raw).items():
        path = write(tmp_path, raw[:cut], f"cut-{cut}.zip")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # a few bytes are read as a legacy pickle
            with expect(CorruptAgentFileError, path, None) as error:
                load_from_file(path)
        assert error.value.path == str(path), label


def test_truncated_anywhere_never_loads():
    """Cut at every byte: a prefix must never pass for a (possibly empty) agent file."""
    raw = valid_file_bytes(data={"gamma": 0.9}, params=OrderedDict([("w", np.arange(20.0))]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for cut in range(len(raw)):
            with pytest.raises(CorruptAgentFileError):
                load_from_file(io.BytesIO(raw[:cut]))


@pytest.mark.parametrize("content", [
    random.Random(0).randbytes(4096),
    random.Random(1).randbytes(100),
    b"hello, this is a text file\n" * 10,
    json.dumps({"gamma": 0.99}).encode(),
    b"\x89PNG\r\n\x1a\n" + bytes(100),
    b"PK\x03\x04 looks like a zip but is not" + bytes(50),
    b"\x80\x04\x95",  # a pickle header and nothing else
], ids=["random 4 KiB", "random 100 B", "text", "JSON", "PNG", "zip signature", "truncated pickle"])
def test_neither_zip_nor_pickle(tmp_path, content):
    path = write(tmp_path, content, "agent.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with expect(CorruptAgentFileError, path, None):
            load_from_file(path)


def test_zip_without_any_agent_member(tmp_path):
    path = write(tmp_path, zip_bytes({"README.txt": "hello", "model.npy": npy_bytes(np.ones(2))}))
    with expect(CorruptAgentFileError, path, None, "none of the members"):
        load_from_file(path)


# --- members missing or malformed -------------------------------------------------------------------


def test_missing_data_means_no_data(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, **PARAMS)
    path = write(tmp_path, agent_zip(parameter_list=list(PARAMS), parameters=buffer.getvalue()))
    data, params = load_from_file(path)
    assert data is None
    assert list(params) == list(PARAMS)


def test_missing_parameters_while_parameter_list_names_arrays(tmp_path):
    path = write(tmp_path, agent_zip(data={"a": 1}, parameter_list=list(PARAMS)))
    with expect(CorruptAgentFileError, path, "parameters", "names 2 parameters but the archive has no") as error:
        load_from_file(path)
    check_attributes(error.value, path, "parameters")


def test_missing_parameters_with_an_empty_parameter_list_is_fine(tmp_path):
    path = write(tmp_path, agent_zip(data={"a": 1}, parameter_list=[]))
    assert load_from_file(path) == ({"a": 1}, None)


@pytest.mark.parametrize("text", ["{not json", '{"a": NaN', '{"a": 1} trailing', b'{"a": "\xff"}'],
                         ids=["syntax", "truncated", "trailing", "not UTF-8"])
def test_invalid_json_in_data(tmp_path, text):
    path = write(tmp_path, agent_zip(data=text))
    with expect(CorruptAgentFileError, path, "data", "(invalid JSON|not UTF-8)"):
        load_from_file(path)


@pytest.mark.parametrize("text", ["[1, 2]", '"text"', "3", "null"])
def test_data_json_not_an_object(tmp_path, text):
    path = write(tmp_path, agent_zip(data=text))
    with expect(CorruptAgentFileError, path, "data", "expected a JSON object"):
        load_from_file(path)


def test_load_data_false_ignores_a_broken_data_member(tmp_path):
    path = write(tmp_path, agent_zip(data="{broken", parameter_list=[]))
    assert load_from_file(path, load_data=False) == (None, None)


@pytest.mark.parametrize("text, match", [("[not json", "invalid JSON"), ('{"a": 1}', "expected a JSON array"),
                                         ("[1, 2]", "expected a JSON array")])
def test_invalid_parameter_list(tmp_path, text, match):
    path = write(tmp_path, agent_zip(data={"a": 1}, parameter_list=text, parameters=npz_bytes({})))
    with expect(CorruptAgentFileError, path, "parameter_list", match):
        load_from_file(path)


def test_parameter_list_naming_absent_arrays(tmp_path):
    parameters = npz_bytes({"model/pi/w:0": npy_bytes(np.ones(2))})
    path = write(tmp_path, agent_zip(parameter_list=["model/pi/w:0", "model/pi/b:0", "model/vf/w:0"],
                                     parameters=parameters))
    with expect(CorruptAgentFileError, path, "parameters/model/pi/b:0.npy",
                r"\['model/pi/b:0', 'model/vf/w:0'\]") as error:
        load_from_file(path)
    check_attributes(error.value, path, "parameters/model/pi/b:0.npy")


def test_parameters_not_a_npz(tmp_path):
    path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=b"not an npz archive at all"))
    with expect(CorruptAgentFileError, path, "parameters", "not a valid .npz"):
        load_from_file(path)


@pytest.mark.parametrize("metadata, match", [
    ({"format_version": "1"}, "format_version must be an integer"),
    ({"format_version": 1.0}, "format_version must be an integer"),
    ({"format_version": True}, "format_version must be an integer"),
    ({"format_version": None}, "format_version must be an integer"),
    ("[1]", "expected a JSON object"),
    ("{oops", "invalid JSON"),
])
def test_bad_metadata(tmp_path, metadata, match):
    path = write(tmp_path, agent_zip(data={"a": 1}, metadata=metadata))
    with expect(CorruptAgentFileError, path, "metadata", match):
        load_from_file(path)


def test_bad_base64_in_serialized(tmp_path):
    path = write(tmp_path, agent_zip(data={"gamma": 0.9, "policy": {":type:": "<class 'type'>",
                                                                    ":serialized:": "gASV%%%not-base64"}}))
    with expect(CorruptAgentFileError, path, "data", "'policy'.*not valid base64"):
        load_from_file(path)


def test_serialized_bytes_that_are_not_a_pickle(tmp_path):
    payload = base64.b64encode(b"this is not a pickle").decode()
    path = write(tmp_path, agent_zip(data={"policy": {":type:": "<class 'type'>", ":serialized:": payload}}))
    with expect(DeserializationError, path, "data", "'policy'.*custom_objects"):
        load_from_file(path)


# --- damaged bytes --------------------------------------------------------------------------------


@pytest.fixture
def stored_members(monkeypatch):
    """Files with every member stored (as Stable Baselines 2 and this library before 0.x wrote them):
    a deflate that never gets smaller."""
    monkeypatch.setattr(zip_members, "deflate_function", lambda: bytes)


@pytest.fixture
def deflated_members(monkeypatch):
    """zlib's deflate, which makes even this file's tiny members smaller (ISA-L's level 0 may not)."""
    monkeypatch.setattr(zip_members, "deflate_function",
                        lambda: zip_members.zlib_deflate)


def test_crc_error_in_a_stored_array(tmp_path, stored_members):
    raw = bytearray(valid_file_bytes())
    weights = PARAMS["model/pi/w:0"].tobytes()
    position = raw.find(weights)
    assert position > 0 and raw.find(weights, position + 1) < 0
    raw[position + 100] ^= 0x40
    path = write(tmp_path, bytes(raw))
    with expect(CorruptAgentFileError, path, "parameters/model/pi/w:0.npy", "CRC") as error:
        load_from_file(path)
    assert isinstance(error.value.__cause__, zipfile.BadZipFile)


def test_crc_error_in_stored_data(tmp_path, stored_members):
    raw = bytearray(valid_file_bytes())
    position = raw.find(b'"n_steps": 128')
    raw[position + 12] = ord("9")  # still valid JSON: only the CRC tells
    path = write(tmp_path, bytes(raw))
    with expect(CorruptAgentFileError, path, "data", "CRC"):
        load_from_file(path)


@pytest.mark.parametrize("member, reported_member", [("model/pi/w:0.npy", "parameters/model/pi/w:0.npy"),
                                                     ("data", "data")])
def test_crc_error_in_a_deflated_member(tmp_path, deflated_members, member, reported_member):
    raw = valid_file_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert archive.getinfo("data").compress_type == zipfile.ZIP_DEFLATED
    path = write(tmp_path, patch_member_field(raw, member, "crc", 0x12345678))
    with expect(CorruptAgentFileError, path, reported_member, "CRC") as error:
        load_from_file(path)
    assert isinstance(error.value.__cause__, zipfile.BadZipFile)


@pytest.mark.parametrize("member, reported_member", [("model/pi/w:0.npy", "parameters/model/pi/w:0.npy"),
                                                     ("data", "data")])
def test_damaged_deflate_stream(tmp_path, deflated_members, member, reported_member):
    """Bytes that are no deflate stream at all, in place of a member's compressed bytes."""
    raw = bytearray(valid_file_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        assert archive.getinfo("data").compress_type == zipfile.ZIP_DEFLATED
        outer = archive.getinfo(member) if member == "data" else archive.getinfo("parameters")
    start = raw.find(member.encode(), outer.header_offset) + len(member)
    raw[start:start + 4] = b"\xff" * 4  # block type 3: reserved, an error for every inflater
    path = write(tmp_path, bytes(raw))
    with expect(CorruptAgentFileError, path, reported_member, "bad deflate stream|while decompressing"):
        load_from_file(path)


def test_declared_size_of_a_deflated_member_is_absurd(tmp_path):
    """A zip bomb: a few compressed bytes that claim to inflate to gigabytes."""
    raw = agent_zip(data={"padding": "x" * 5000}, compression=zipfile.ZIP_DEFLATED)
    path = write(tmp_path, patch_member_field(raw, "data", "uncompressed", 2**32 - 2))
    with expect(CorruptAgentFileError, path, "data", "zip bomb"):
        load_from_file(path)


@pytest.mark.parametrize("patched_member, field, reported_member, reason", [
    ("parameters", "uncompressed", "parameters", "zip bomb"),  # a stored member claiming 2 GiB
    ("parameters", "compressed", "parameters", "truncated"),  # compressed bytes beyond the file's end
    ("model/pi/b:0.npy", "uncompressed", "parameters/model/pi/b:0.npy", "zip bomb"),  # inside the nested .npz
])
def test_declared_member_size_that_the_file_cannot_hold(tmp_path, patched_member, field, reported_member, reason):
    path = write(tmp_path, patch_member_field(valid_file_bytes(), patched_member, field, 2**31))
    with expect(CorruptAgentFileError, path, reported_member, reason):
        load_from_file(path)


def test_deflated_array_member_claiming_an_absurd_ratio(tmp_path):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, w=np.zeros(1000))
    parameters = patch_member_field(buffer.getvalue(), "w.npy", "uncompressed", 2**31)
    path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=parameters))
    with expect(CorruptAgentFileError, path, "parameters/w.npy", "zip bomb"):
        load_from_file(path)


def test_npy_header_declaring_a_huge_shape(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    for shape in [(10**6, 10**6), (2**32, 2**32), (-1, 2)]:
        parameters = npz_bytes({"w": npy_bytes(np.zeros(2), {**header, "shape": shape})})
        path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=parameters), f"shape{len(str(shape))}.zip")
        with expect(CorruptAgentFileError, path, "parameters/w.npy", "(header declares shape|cannot reshape)"):
            load_from_file(path)


def test_npy_truncated_inside_the_member(tmp_path):
    content = npy_bytes(np.arange(10.0))[:-8]
    path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=npz_bytes({"w": content})))
    with expect(CorruptAgentFileError, path, "parameters/w.npy", "header declares shape"):
        load_from_file(path)


def test_object_npy_inside_parameters(tmp_path):
    content = npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=npz_bytes({"w": content})))
    with expect(CorruptAgentFileError, path, "parameters/w.npy", "pickled Python objects"):
        load_from_file(path)


def test_not_a_npy_inside_parameters(tmp_path):
    path = write(tmp_path, agent_zip(parameter_list=["w"], parameters=npz_bytes({"w": b"plain bytes, no magic"})))
    with expect(CorruptAgentFileError, path, "parameters/w.npy", "cannot read the array"):
        load_from_file(path)


@pytest.mark.parametrize("member, reported", [("data", "data"), ("parameters", "parameters"),
                                              ("model/pi/w:0.npy", "parameters/model/pi/w:0.npy")])
@pytest.mark.parametrize("field, value, match", [("flags", 1, "encrypted"), ("method", 99, "compression method")],
                         ids=["encrypted", "unknown compression"])
def test_unreadable_member(tmp_path, member, reported, field, value, match):
    path = write(tmp_path, patch_member_field(valid_file_bytes(), member, field, value))
    with expect(CorruptAgentFileError, path, reported, match):
        load_from_file(path)


def test_every_single_byte_corruption_is_reported_or_harmless():
    """Flip each byte of a small file: it loads (the byte did not matter) or raises a library error."""
    raw = valid_file_bytes(data={"gamma": 0.5}, params=OrderedDict([("w", np.arange(6, dtype=np.float32))]))
    unexpected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for position in range(len(raw)):
            damaged = bytearray(raw)
            damaged[position] ^= 0xFF
            try:
                load_from_file(io.BytesIO(bytes(damaged)))
            except StableBaselinesIOError:
                pass
            except Exception as error:  # noqa: BLE001 - the assertion reports it
                unexpected.append((position, repr(error)))
    assert not unexpected, unexpected[:5]


# --- legacy pickles -------------------------------------------------------------------------------


@pytest.mark.parametrize("content, match", [
    ([{"a": 1}, []], r"\(data, params\) pair.*list"),
    (({"a": 1}, [], None), r"\(data, params\) pair.*tuple"),
    ({"data": {}, "params": []}, r"\(data, params\) pair.*dict"),
    (("data", [np.ones(1)]), "the data dictionary is a str"),
    (({"a": 1}, [1.0, 2.0]), "not a list or mapping of NumPy arrays"),
    (({"a": 1}, {"w": [1.0]}), "not a list or mapping of NumPy arrays"),
    (({"a": 1}, "params"), "not a list or mapping of NumPy arrays"),
], ids=["list", "3-tuple", "dict", "data not a dict", "params floats", "params dict of lists", "params str"])
def test_legacy_pickle_that_is_not_data_and_params(tmp_path, content, match):
    path = write(tmp_path, pickle.dumps(content), "agent.pkl")
    with pytest.warns(DeprecationWarning), expect(CorruptAgentFileError, path, None, match):
        load_from_file(path)


def test_truncated_legacy_pickle(tmp_path):
    raw = pickle.dumps(({"gamma": 0.9}, [np.arange(100.0)]))
    for cut in (1, 5, len(raw) // 2, len(raw) - 1):
        path = write(tmp_path, raw[:cut], f"agent{cut}.pkl")
        with pytest.warns(DeprecationWarning), expect(CorruptAgentFileError, path, None, "readable pickle"):
            load_from_file(path)


# --- training state members (format version 2) -------------------------------------------------------


def with_member(raw: bytes, name: str, content: bytes | str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as source:
        members = {member: source.read(member) for member in source.namelist()}
    members[name] = content
    return zip_bytes(members)


@pytest.mark.parametrize("content, error_type, match", [
    ("{broken", CorruptAgentFileError, "invalid JSON"),
    ("[1]", CorruptAgentFileError, "expected a JSON object"),
    (json.dumps({"rng": {":type:": "<class 'x'>", ":codec:": "quantum.rng"}}), DeserializationError, "'rng'"),
    (json.dumps({"counters": [{":type:": "<class 'float'>", ":serialized:": base64.b64encode(
        pickle.dumps(0.5)).decode("ascii")}]}), UnsafeObjectError, "'counters' holds a pickle.*never unpickled"),
], ids=["invalid JSON", "not an object", "unknown codec", "harmless pickle"])
def test_bad_training_state(tmp_path, content, error_type, match):
    path = write(tmp_path, with_member(valid_file_bytes(), "training_state", content))
    assert load_from_file(path)[0] == DATA  # the training state is read only on request
    with expect(error_type, path, "training_state", match):
        read_agent_file(path, load_state=True)


@pytest.mark.parametrize("member", ["training_arrays", "replay_buffer"])
def test_bad_state_arrays(tmp_path, member):
    path = write(tmp_path, with_member(valid_file_bytes(), member, b"not an npz"))
    assert read_agent_file(path).state_arrays == {}
    with expect(CorruptAgentFileError, path, member, "not a valid .npz"):
        read_agent_file(path, load_state=True)
    arrays = npz_bytes({"m": npy_bytes(np.array([object()], dtype=object), allow_pickle=True)})
    path = write(tmp_path, with_member(valid_file_bytes(), member, arrays), "objects.zip")
    with expect(CorruptAgentFileError, path, f"{member}/m.npy", "pickled Python objects"):
        read_agent_file(path, load_state=True)


def test_format_version_below_one(tmp_path):
    path = write(tmp_path, agent_zip(data={"a": 1}, metadata={"format_version": 0}))
    with expect(CorruptAgentFileError, path, "metadata", "format_version"):
        load_from_file(path)
