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

from stable_baselines_io.exceptions import (
    AgentFileNotFoundError,
    SavePathIsADirectoryError,
    SaveTargetChangedError,
    SerializationError,
)
from stable_baselines_io.format import file_targets, load_from_file, save_to_file
from stable_baselines_io.format.file_targets import is_temporary_of, temporary_name

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
    return [path for path in folder.iterdir() if is_temporary_of(path.name, folder / name)]


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
        deadline = time.monotonic() + 120  # a hang detector only: a busy machine starts Python slowly
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
    # the next save of the same target recognises the abandoned file and removes it
    save_to_file(path, data=OLD_DATA, params=OLD_PARAMS)
    assert temporary_files(path.parent, path.name) == []


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


def test_a_symlink_swapped_in_before_the_rename_is_refused_and_not_followed(old_file, tmp_path, monkeypatch):
    path, old_bytes = old_file
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    victim.chmod(0o600)
    swapped = []

    def swap_in_a_symlink(temporary: Path) -> None:  # what an attacker with write access to the folder does
        temporary.rename(tmp_path / "stolen")
        temporary.symlink_to(victim)
        swapped.append(temporary)

    monkeypatch.setattr(file_targets, "_before_rename", swap_in_a_symlink)
    with pytest.raises(SaveTargetChangedError, match="replaced while it was written") as raised:
        save_to_file(path, data={"version": 2}, params=OLD_PARAMS)
    assert isinstance(raised.value, PermissionError) and raised.value.path == str(path)
    assert victim.read_bytes() == b"precious" and victim.stat().st_mode & 0o777 == 0o600
    assert_old_file_intact(path, old_bytes)
    assert not path.is_symlink()
    assert not swapped[0].exists() and not swapped[0].is_symlink()  # the swapped-in link is removed


def test_a_temporary_file_replaced_by_another_file_is_refused(old_file, monkeypatch):
    path, old_bytes = old_file

    def replace_with_another_file(temporary: Path) -> None:
        temporary.unlink()
        temporary.write_bytes(b"not what was written")

    monkeypatch.setattr(file_targets, "_before_rename", replace_with_another_file)
    with pytest.raises(SaveTargetChangedError):
        save_to_file(path, data={"version": 2}, params=OLD_PARAMS)
    assert_old_file_intact(path, old_bytes)
    assert temporary_files(path.parent, path.name) == []


def test_temporary_files_are_exclusive_unpredictable_and_private_while_written(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(file_targets, "_before_rename", lambda temporary: seen.append(
        (temporary.name, temporary.stat().st_mode & 0o777)))
    for _ in range(2):
        save_to_file(tmp_path / "agent.zip", data={"a": 1})
    (first, _), (second, _) = seen
    assert first != second and is_temporary_of(first, tmp_path / "agent.zip")
    planted = tmp_path / temporary_name(tmp_path / "agent.zip")
    planted.symlink_to(tmp_path / "elsewhere")  # a name guessed and planted in advance
    monkeypatch.setattr(file_targets, "temporary_name", lambda path: planted.name)
    with pytest.raises(FileExistsError):  # O_EXCL | O_NOFOLLOW: never opens what someone else created
        save_to_file(tmp_path / "agent.zip", data={"a": 2})
    assert load_from_file(tmp_path / "agent.zip")[0] == {"a": 1}
    assert not (tmp_path / "elsewhere").exists()


def test_the_mode_is_kept_or_defaults_to_the_umask(tmp_path):
    path = tmp_path / "agent.zip"
    save_to_file(path, data={"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    save_to_file(path, data={"a": 2})
    assert path.stat().st_mode & 0o777 == 0o640


def test_saving_onto_a_directory_or_into_a_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "folder.zip").mkdir()
    with pytest.raises(SavePathIsADirectoryError, match="onto a directory.*folder.zip") as raised:
        save_to_file(tmp_path / "folder.zip", data={"a": 1})
    assert isinstance(raised.value, IsADirectoryError)
    with pytest.raises(AgentFileNotFoundError, match="folder to save into does not exist") as missing:
        save_to_file(tmp_path / "missing" / "agent.zip", data={"a": 1})
    assert isinstance(missing.value, FileNotFoundError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.zip"]


def test_only_abandoned_temporaries_of_the_same_target_are_cleaned_up(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "agent.zip"
    abandoned = tmp_path / temporary_name(path)
    abandoned.write_bytes(b"partial")
    in_use = tmp_path / temporary_name(path)
    in_use.write_bytes(b"being written")
    other_target = tmp_path / temporary_name(tmp_path / "other.zip")
    other_target.write_bytes(b"partial")
    lookalike = tmp_path / ".agent.zip.sbio-tmp-not-hex-at-all!"
    lookalike.write_bytes(b"user file")
    link = tmp_path / temporary_name(path)
    link.symlink_to(tmp_path / "other.zip")
    with open(in_use, "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)  # as a save in progress holds it
        save_to_file(path, data={"a": 1})
        assert not abandoned.exists()
        assert in_use.exists() and other_target.exists() and lookalike.exists() and link.is_symlink()
