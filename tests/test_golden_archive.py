"""A golden file pins the archive layout byte for byte: member order, compression, headers, .npy bytes.

A failure here means files written from now on differ from files written before. If that is
intended, bump ``FORMAT_VERSION`` where readers need to know (see docs/file-format.md), then
regenerate the golden file with ``python tests/test_golden_archive.py`` and commit it. Older golden
files stay: files in the wild must load forever.

The bytes are pinned with zlib's deflate (the fallback when ``isal`` is missing, whose level-1
output has been stable for decades); ISA-L's deflate gives other compressed bytes, so with it the
test pins everything else (headers, order, sizes, uncompressed contents).
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.format import zip_members
from stable_baselines_io.format.archive import write_archive
from stable_baselines_io.format.files import read_agent_file
from stable_baselines_io.format.json_codec import data_to_json

GOLDEN = Path(__file__).resolve().parent / "golden" / "agent-format-2-deflated.zip"
#: Written before small members were deflated (0.x): every member stored.
GOLDEN_STORED = Path(__file__).resolve().parent / "golden" / "agent-format-2.zip"
ZLIB_DEFLATE = zip_members.zlib_deflate
DATE_TIME = (2020, 1, 1, 0, 0, 0)
DATA = {"gamma": 0.99, "n_steps": 8, "observation_shape": (4,)}
PARAMS = OrderedDict([("model/pi/w:0", np.arange(6, dtype=np.float32).reshape(2, 3)),
                      ("model/pi/b:0", np.array([0.5, -1.0]))])
METADATA = {"format_version": 2, "stable_baselines_io": "golden", "date": "2020-01-01T00:00:00+00:00"}
STATE = {"num_timesteps": 3}
STATE_ARRAYS = {"training_arrays": OrderedDict([("optimizer/m:0", np.zeros(2, dtype=np.float32))])}


def golden_bytes() -> bytes:
    buffer = io.BytesIO()
    write_archive(buffer, data_to_json(DATA), PARAMS, METADATA,
                  json_members={"training_state": data_to_json(STATE, allow_pickle=False)},
                  array_members=STATE_ARRAYS, date_time=DATE_TIME)
    return buffer.getvalue()


def zlib_golden_bytes() -> bytes:
    original = zip_members.deflate_function
    zip_members.deflate_function = lambda: ZLIB_DEFLATE  # type: ignore[assignment]
    try:
        return golden_bytes()
    finally:
        zip_members.deflate_function = original  # type: ignore[assignment]


def test_the_writer_produces_the_golden_bytes() -> None:
    assert zlib_golden_bytes() == GOLDEN.read_bytes(), __doc__


def members(archive_bytes: bytes) -> list[tuple[object, ...]]:
    """Every member, nested ones too: name, time, then CRC, size and uncompressed bytes (for an .npz
    member, which holds deflated members, its members' instead). Not the compression: a member is
    stored where the installed deflate does not make it smaller (ISA-L's level 0 on tiny members)."""
    found: list[tuple[object, ...]] = []
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        for info in archive.infolist():
            content = archive.read(info)
            found.append((info.filename, info.date_time))
            if info.filename in ("parameters", "training_arrays"):
                found += [(f"{info.filename}/{name}", *rest) for name, *rest in members(content)]
            else:
                found.append((info.CRC, info.file_size, content))
    return found


def test_the_installed_deflate_changes_only_how_members_are_compressed() -> None:
    written, golden = golden_bytes(), GOLDEN.read_bytes()
    assert members(written) == members(golden)
    if zip_members.deflate_function()(b"x" * 100) == ZLIB_DEFLATE(b"x" * 100):
        assert written == golden


def test_member_order_compression_and_nested_layout() -> None:
    """JSON members and small .npy members deflated; the .npz members themselves stored."""
    with zipfile.ZipFile(GOLDEN) as archive:
        infos = archive.infolist()
        assert [(info.filename, info.compress_type) for info in infos] == [
            ("data", zipfile.ZIP_DEFLATED), ("parameter_list", zipfile.ZIP_DEFLATED),
            ("parameters", zipfile.ZIP_STORED), ("metadata", zipfile.ZIP_DEFLATED),
            # {"num_timesteps": 3} does not get smaller deflated: stored
            ("training_state", zipfile.ZIP_STORED), ("training_arrays", zipfile.ZIP_STORED)]
        assert {info.date_time for info in infos} == {DATE_TIME}
        assert not any(info.flag_bits & 0x8 for info in infos)  # sizes in the local headers
        with zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as parameters:
            assert [info.filename for info in parameters.infolist()] == ["model/pi/w:0.npy", "model/pi/b:0.npy"]
            assert {info.compress_type for info in parameters.infolist()} == {zipfile.ZIP_DEFLATED}
            expected = io.BytesIO()
            np.lib.format.write_array(expected, PARAMS["model/pi/w:0"], allow_pickle=False)
            assert parameters.read("model/pi/w:0.npy") == expected.getvalue()


def test_the_stored_golden_file_keeps_its_layout() -> None:
    with zipfile.ZipFile(GOLDEN_STORED) as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        with zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as parameters:
            assert {info.compress_type for info in parameters.infolist()} == {zipfile.ZIP_STORED}


@pytest.mark.parametrize("golden", [GOLDEN, GOLDEN_STORED], ids=["deflated", "stored"])
def test_the_golden_file_reads_back(golden: Path) -> None:
    agent_file = read_agent_file(golden, load_state=True)
    assert agent_file.data == DATA and agent_file.metadata == METADATA and agent_file.training_state == STATE
    assert list(agent_file.params) == list(PARAMS)  # type: ignore[arg-type]
    for name, value in PARAMS.items():
        np.testing.assert_array_equal(agent_file.params[name], value)  # type: ignore[index]
        assert agent_file.params[name].dtype == value.dtype  # type: ignore[index]


if __name__ == "__main__":
    GOLDEN.write_bytes(zlib_golden_bytes())
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
