"""Saving to a path is atomic: a crash or an error while writing leaves the previous file intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from stable_baselines_io.exceptions import SerializationError
from stable_baselines_io.format import load_from_file, save_to_file

REPO_ROOT = Path(__file__).resolve().parents[1]

OLD_DATA = {"version": 1, "gamma": 0.99}
OLD_PARAMS = OrderedDict([("model/pi/w:0", np.arange(12, dtype=np.float32).reshape(3, 4)),
                          ("model/pi/b:0", np.ones(4, dtype=np.float32))])

# Writes ~600 MB of parameters over the file given as argv[1].
BIG_SAVE = """
import sys
from collections import OrderedDict
import numpy as np
from stable_baselines_io.format import save_to_file
params = OrderedDict((f"layer{i}/w:0", np.full(25_000_000, i, dtype=np.float32)) for i in range(6))
print("writing", flush=True)
save_to_file(sys.argv[1], data={"version": 2}, params=params)
print("saved", flush=True)
"""


def temporary_files(folder: Path, name: str) -> list[Path]:
    return [path for path in folder.iterdir() if path.name.startswith(f".{name}.") and path.name.endswith(".tmp")]


def assert_old_file_intact(path: Path, old_bytes: bytes) -> None:
    assert path.read_bytes() == old_bytes
    data, params = load_from_file(path)
    assert data == OLD_DATA
    assert list(params) == list(OLD_PARAMS)
    for name, value in OLD_PARAMS.items():
        np.testing.assert_array_equal(params[name], value)


@pytest.fixture
def old_file(tmp_path) -> tuple[Path, bytes]:
    path = tmp_path / "agent.zip"
    save_to_file(path, data=OLD_DATA, params=OLD_PARAMS)
    return path, path.read_bytes()


def test_killed_while_saving_leaves_the_old_file(old_file):
    path, old_bytes = old_file
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-c", BIG_SAVE, str(path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed_at = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            partial = temporary_files(path.parent, path.name)
            try:
                size = partial[0].stat().st_size if partial else 0
            except FileNotFoundError:
                size = 0
            if size > 32 * 2**20:
                process.send_signal(signal.SIGKILL)
                killed_at = size
                break
            time.sleep(0.001)
    finally:
        if process.poll() is None and killed_at is None:
            process.kill()
        stdout, stderr = process.communicate(timeout=30)
    assert killed_at is not None, f"never saw the temporary file grow; the writer said {stdout!r} {stderr!r}"
    assert process.returncode == -signal.SIGKILL
    assert b"saved" not in stdout
    assert_old_file_intact(path, old_bytes)
    # the only trace of the killed save is its hidden temporary file, never a partial file at the target
    leftovers = temporary_files(path.parent, path.name)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, *(p.name for p in leftovers)])
    assert len(leftovers) == 1
    leftovers[0].unlink()


class FailingParameter:
    """A parameter value whose conversion to an array fails, after others were written."""

    def __init__(self, error: BaseException):
        self.error = error

    def __array__(self, dtype=None, copy=None):
        raise self.error


@pytest.mark.parametrize("bad_value, error_type", [
    (FailingParameter(RuntimeError("device lost")), RuntimeError),
    (FailingParameter(KeyboardInterrupt()), KeyboardInterrupt),
    (np.array([object()], dtype=object), SerializationError),
], ids=["error", "KeyboardInterrupt", "object array"])
def test_error_while_writing_parameters_leaves_the_old_file(old_file, bad_value, error_type):
    path, old_bytes = old_file
    params = OrderedDict([("first", np.ones(1000)), ("bad", bad_value), ("last", np.zeros(2))])
    with pytest.raises(error_type):
        save_to_file(path, data={"version": 2}, params=params)
    assert_old_file_intact(path, old_bytes)
    assert temporary_files(path.parent, path.name) == []


def test_error_while_writing_legacy_file_leaves_the_old_file(old_file):
    path, old_bytes = old_file
    with pytest.raises(TypeError):
        save_to_file(path, data={"lock": threading.Lock()}, params=OLD_PARAMS, cloudpickle=True)
    assert_old_file_intact(path, old_bytes)
    assert temporary_files(path.parent, path.name) == []


def test_error_in_data_leaves_the_old_file(old_file):
    path, old_bytes = old_file
    with pytest.raises(SerializationError, match="'lock'"):
        save_to_file(path, data={"lock": threading.Lock()}, params=OLD_PARAMS)
    assert_old_file_intact(path, old_bytes)
    assert temporary_files(path.parent, path.name) == []


def test_failed_first_save_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        save_to_file(tmp_path / "agent", params=OrderedDict([("bad", FailingParameter(RuntimeError("x")))]))
    assert list(tmp_path.iterdir()) == []


def test_successful_save_replaces_the_file_and_leaves_no_temporary(old_file):
    path, _ = old_file
    save_to_file(path, data={"version": 2}, params=OrderedDict([("w", np.zeros(3))]))
    assert load_from_file(path)[0] == {"version": 2}
    assert temporary_files(path.parent, path.name) == []
    assert [p.name for p in path.parent.iterdir()] == [path.name]
