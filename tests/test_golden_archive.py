"""A golden file pins the archive layout byte for byte: member order, compression, headers, .npy bytes.

A failure here means files written from now on differ from files written before. If that is
intended, bump ``FORMAT_VERSION`` where readers need to know (see docs/file-format.md), then
regenerate the golden file with ``python tests/test_golden_archive.py`` and commit it.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from stable_baselines_io.format.archive import write_archive
from stable_baselines_io.format.files import read_agent_file
from stable_baselines_io.format.json_codec import data_to_json

GOLDEN = Path(__file__).resolve().parent / "golden" / "agent-format-2.zip"
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


def test_the_writer_produces_the_golden_bytes() -> None:
    assert golden_bytes() == GOLDEN.read_bytes(), __doc__


def test_member_order_compression_and_nested_layout() -> None:
    with zipfile.ZipFile(GOLDEN) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == ["data", "parameter_list", "parameters", "metadata",
                                                     "training_state", "training_arrays"]
        assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
        assert {info.date_time for info in infos} == {DATE_TIME}
        with zipfile.ZipFile(io.BytesIO(archive.read("parameters"))) as parameters:
            assert [info.filename for info in parameters.infolist()] == ["model/pi/w:0.npy", "model/pi/b:0.npy"]
            assert {info.compress_type for info in parameters.infolist()} == {zipfile.ZIP_STORED}
            expected = io.BytesIO()
            np.lib.format.write_array(expected, PARAMS["model/pi/w:0"], allow_pickle=False)
            assert parameters.read("model/pi/w:0.npy") == expected.getvalue()


def test_the_golden_file_reads_back() -> None:
    agent_file = read_agent_file(GOLDEN, load_state=True)
    assert agent_file.data == DATA and agent_file.metadata == METADATA and agent_file.training_state == STATE
    assert list(agent_file.params) == list(PARAMS)  # type: ignore[arg-type]
    for name, value in PARAMS.items():
        np.testing.assert_array_equal(agent_file.params[name], value)  # type: ignore[index]
        assert agent_file.params[name].dtype == value.dtype  # type: ignore[index]


if __name__ == "__main__":
    GOLDEN.write_bytes(golden_bytes())
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
