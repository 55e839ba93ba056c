"""Agents at fsspec URLs (issue 15): the same suite on a real S3 server (moto over HTTP through
s3fs), on ``memory://`` and on local paths; atomicity, streaming reads, and the errors."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from s3_server import BUCKET, S3Server, running_s3_server, running_s3_server_process

from stable_baselines_io.cli import main
from stable_baselines_io.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines_io.dqn import DQN
from stable_baselines_io.exceptions import (
    AgentFileNotFoundError,
    LoadBudgetExceededError,
    StorageBackendMissingError,
    StorageCredentialsError,
    UnsafeObjectError,
)
from stable_baselines_io.format.files import load_from_file, read_agent_file, save_to_file
from stable_baselines_io.format.url_targets import is_url, join_target, list_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["s3", "memory", "local"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


class Storage:
    """One backend under test: a fresh folder (URL or path) and the options to reach it."""

    def __init__(self, folder: str, storage_options: dict[str, Any] | None):
        self.folder = folder
        self.storage_options = storage_options

    def target(self, name: str) -> str:
        return str(join_target(self.folder, name))


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    unique = uuid.uuid4().hex
    if request.param == "s3":
        return Storage(f"s3://{BUCKET}/{unique}", request.getfixturevalue("s3_server").storage_options())
    if request.param == "memory":
        return Storage(f"memory://{unique}", None)
    return Storage(str(tmp_path), None)


def small_params(seed: int = 0) -> OrderedDict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return OrderedDict([("model/w:0", rng.standard_normal((8, 4)).astype(np.float32)),
                        ("model/b:0", rng.standard_normal(4))])


def small_dqn() -> DQN:
    return DQN("MlpPolicy", "CartPole-v1", learning_starts=10, buffer_size=200, seed=0,
               policy_kwargs=dict(layers=[16]))


# --- round trips on every backend -------------------------------------------------------------


def test_agent_file_round_trip_appends_zip_and_is_a_valid_archive(storage: Storage) -> None:
    params = small_params()
    save_to_file(storage.target("agent"), data={"gamma": 0.9}, params=params, storage_options=storage.storage_options,
                 json_members={"training_state": {"steps": 3}})
    agent_file = read_agent_file(storage.target("agent"), load_state=True, storage_options=storage.storage_options)
    assert agent_file.data == {"gamma": 0.9}
    assert agent_file.training_state == {"steps": 3}
    for name, value in params.items():
        np.testing.assert_array_equal(agent_file.params[name], value)
    assert "agent.zip" in list_folder(storage.folder, storage.storage_options)
    with read_raw(storage.target("agent.zip"), storage.storage_options) as raw:
        assert zipfile.ZipFile(raw).testzip() is None  # what Stable Baselines 2's zipfile reads


def read_raw(target: str, storage_options: dict[str, Any] | None) -> io.BytesIO:
    if not is_url(target):
        return io.BytesIO(Path(target).read_bytes())
    import fsspec

    with fsspec.open(target, "rb", **(storage_options or {})) as file:
        return io.BytesIO(file.read())


def test_model_replay_buffer_and_parameters_round_trip(storage: Storage) -> None:
    model = small_dqn().learn(50)
    model.save(storage.target("dqn"), include_replay_buffer=True, storage_options=storage.storage_options)
    model.save_replay_buffer(storage.target("buffer"), storage_options=storage.storage_options)

    loaded = DQN.load(storage.target("dqn"), storage_options=storage.storage_options)
    observation = np.zeros(4, dtype=np.float32)
    assert loaded.predict(observation, deterministic=True)[0] == model.predict(observation, deterministic=True)[0]
    assert loaded.replay_buffer is not None and loaded.replay_buffer.size == model.replay_buffer.size

    fresh = small_dqn()
    fresh.load_parameters(storage.target("dqn.zip"), storage_options=storage.storage_options)
    for name, value in model.get_parameters().items():
        np.testing.assert_array_equal(fresh.get_parameters()[name], value)
    fresh.load_replay_buffer(storage.target("buffer"), storage_options=storage.storage_options)
    np.testing.assert_array_equal(fresh.replay_buffer.to_arrays()["observations"],
                                  model.replay_buffer.to_arrays()["observations"])


def test_checkpoints_and_best_model_go_to_the_folder(storage: Storage) -> None:
    checkpoints = CheckpointCallback(20, storage.folder, name_prefix="dqn", keep_last=2,
                                     storage_options=storage.storage_options)
    evaluation = EvalCallback("CartPole-v1", n_eval_episodes=1, eval_freq=30, log_path=storage.target("logs"),
                              best_model_save_path=storage.target("best"), verbose=0,
                              storage_options=storage.storage_options)
    small_dqn().learn(100, callback=[checkpoints, evaluation])
    names = [os.path.basename(str(path)) for path in checkpoints.checkpoints()]
    assert names == ["dqn_80_steps.zip", "dqn_100_steps.zip"]
    assert DQN.load(checkpoints.checkpoints()[-1], storage_options=storage.storage_options).num_timesteps == 100
    assert DQN.load(storage.target("best/best_model.zip"), storage_options=storage.storage_options)
    with read_raw(storage.target("logs/evaluations.npz"), storage.storage_options) as raw:
        assert list(np.load(raw)["timesteps"]) == [30, 60, 90]


# --- atomicity --------------------------------------------------------------------------------


def test_a_save_that_fails_midway_leaves_the_previous_file(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    save_to_file(storage.target("agent.zip"), data={"version": 1}, params=small_params(),
                 storage_options=storage.storage_options)

    def fail_after_some_bytes(stream: Any, params: Any, date_time: Any = None) -> None:
        stream.write(b"\0" * 1000)
        raise OSError("disk full")

    monkeypatch.setattr("stable_baselines_io.format.archive.write_params", fail_after_some_bytes)
    with pytest.raises(OSError, match="disk full"):
        save_to_file(storage.target("agent.zip"), data={"version": 2}, params=small_params(),
                     storage_options=storage.storage_options)
    assert load_from_file(storage.target("agent.zip"), storage_options=storage.storage_options)[0] == {"version": 1}
    assert list_folder(storage.folder, storage.storage_options) == ["agent.zip"]


SLOW_UPLOAD = textwrap.dedent("""
    import json, sys
    from collections import OrderedDict
    import numpy as np
    from stable_baselines_io.format.files import save_to_file
    url, options, megabytes = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    params = OrderedDict([("w:0", np.ones(megabytes * 2**20 // 8))])
    save_to_file(url, data={"version": 2}, params=params, storage_options=options)
""")


def test_a_save_killed_mid_upload_leaves_the_previous_object_readable(s3_server: S3Server) -> None:
    key = f"{uuid.uuid4().hex}/agent.zip"
    url = f"s3://{BUCKET}/{key}"
    options = s3_server.storage_options(default_block_size=5 * 2**20)  # 5 MiB parts, S3's smallest
    save_to_file(url, data={"version": 1}, params=small_params(), storage_options=options)
    client = s3_server.client()
    child = subprocess.Popen([sys.executable, "-c", SLOW_UPLOAD, url, json.dumps(options), "96"],
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        parts = wait_for_uploaded_parts(client, key, child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert parts >= 1 and child.returncode == -signal.SIGKILL
    assert load_from_file(url, storage_options=options)[0] == {"version": 1}
    # the parts stay in an incomplete multipart upload, invisible to readers (docs/scaling.md)
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
    assert [upload["Key"] for upload in uploads] == [key]


def wait_for_uploaded_parts(client: Any, key: str, child: subprocess.Popen, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        for upload in client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", []):
            parts = client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"]).get("Parts", [])
            if parts:
                return len(parts)
        time.sleep(0.01)
    raise AssertionError(f"no part of the upload was seen (the save exited with {child.poll()})")


# --- streaming reads --------------------------------------------------------------------------


PEAK_MEMORY = textwrap.dedent("""
    import json, sys, time
    from stable_baselines_io.format.files import load_from_file

    def status(field):  # kB in /proc/self/status
        lines = open("/proc/self/status").read().splitlines()
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":"))

    url, options = sys.argv[1], json.loads(sys.argv[2])
    load_from_file(url + ".warm-up.zip", storage_options=options)  # imports and clients, not counted
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets the peak (VmHWM) to the current resident size
    before = status("VmRSS")
    started = time.monotonic()
    _, params = load_from_file(url, storage_options=options, max_bytes=2**40)
    seconds, peak_growth = time.monotonic() - started, status("VmHWM") - before
    print(json.dumps({"peak_growth": peak_growth, "loaded": sum(v.nbytes for v in params.values()),
                      "exact": all(bool((v == 0.5).all()) for v in params.values()), "seconds": seconds}))
""")


def peak_memory_of_a_load(s3_server: S3Server, megabytes: int, **save_options: Any) -> dict[str, Any]:
    """Save an agent of ``megabytes`` to S3, load it in a fresh process, and return how much that
    process's peak resident memory grew during the load (``save_options``: more s3fs options for
    the save only)."""
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}/big.zip"
    options = s3_server.storage_options()
    save_to_file(url + ".warm-up.zip", data={}, params=small_params(), storage_options=options)
    params = OrderedDict([("w:0", np.full(megabytes * 2**20 // 8, 0.5))])
    save_to_file(url, data={}, params=params, storage_options={**options, **save_options})
    del params
    child_options = {key: value for key, value in options.items() if key != "skip_instance_cache"}
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, url, json.dumps(child_options)], check=True,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    return json.loads(result.stdout)


def test_a_load_from_s3_streams_without_a_whole_file_copy(s3_server: S3Server) -> None:
    measured = peak_memory_of_a_load(s3_server, 96)
    assert measured["loaded"] == 96 * 2**20 and measured["exact"]
    # the arrays themselves, plus a few read blocks in flight (cache, HTTP body, copy): a copy of the
    # whole file would add another 96 MiB
    assert measured["peak_growth"] < measured["loaded"] + 64 * 2**20, measured
    print(f"peak RSS growth loading a 96 MiB agent from S3: {measured['peak_growth'] / 2**20:.1f} MiB")


@pytest.mark.slow
def test_a_1_gib_agent_streams_from_s3_without_a_whole_file_copy() -> None:
    # moto in its own process, spilling objects to disk, and one PUT: assembling a 1 GiB multipart
    # upload holds several copies of the object in moto's memory (docs/scaling.md)
    with running_s3_server_process() as server:
        started = time.monotonic()
        measured = peak_memory_of_a_load(server, 1024, default_block_size=2**31)
        seconds = time.monotonic() - started
        server_peak = server.peak_resident_bytes()
    assert measured["loaded"] == 2**30 and measured["exact"]
    assert measured["peak_growth"] <= measured["loaded"] + 64 * 2**20, measured
    print(f"1 GiB agent on S3: save + load {seconds:.0f} s, load {measured['seconds']:.0f} s, peak RSS growth "
          f"{measured['peak_growth'] / 2**20:.1f} MiB, moto peak RSS {server_peak / 2**20:.0f} MiB")


def test_reads_are_ranged_requests_of_read_blocks(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import s3fs

    url = f"s3://{BUCKET}/{uuid.uuid4().hex}/agent.zip"
    options = s3_server.storage_options()
    save_to_file(url, data={}, params=OrderedDict([("w:0", np.zeros(40 * 2**20 // 8))]), storage_options=options)
    ranges: list[tuple[int, int]] = []
    original = s3fs.core.S3File._fetch_range  # noqa: SLF001

    def recording_fetch_range(self: Any, start: int, end: int) -> bytes:
        ranges.append((start, end))
        return original(self, start, end)

    monkeypatch.setattr(s3fs.core.S3File, "_fetch_range", recording_fetch_range)
    load_from_file(url, storage_options=options)
    assert ranges and all(start is not None and end - start <= 16 * 2**20 for start, end in ranges), ranges
    # the file's 6 blocks of 8 MiB about once each (the zip directories live in the first and last)
    assert sum(end - start for start, end in ranges) <= 8 * 8 * 2**20, ranges
    assert len(ranges) <= 8, ranges


# --- safe mode, budgets and errors -------------------------------------------------------------


def test_safe_mode_and_budgets_are_unchanged_on_s3(s3_server: S3Server) -> None:
    options = s3_server.storage_options()
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}/agent.zip"
    save_to_file(url, data={"schedule": lambda fraction: fraction}, params=small_params(), storage_options=options)
    with pytest.raises(UnsafeObjectError, match=r"schedule"):
        load_from_file(url, storage_options=options)
    with pytest.raises(LoadBudgetExceededError, match=r"max_bytes"):
        load_from_file(url, storage_options=options, safe_mode=False, max_bytes=10)


def test_a_missing_object_is_named_with_the_zip_it_also_tried(storage: Storage) -> None:
    missing = storage.target("nothing")
    with pytest.raises(AgentFileNotFoundError, match=r"could not be found.*nothing\.zip"):
        load_from_file(missing, storage_options=storage.storage_options)


def test_a_missing_bucket_is_a_missing_file(s3_server: S3Server) -> None:
    with pytest.raises(AgentFileNotFoundError, match=r"s3://no-such-bucket/agent\.zip"):
        load_from_file("s3://no-such-bucket/agent.zip", storage_options=s3_server.storage_options())


def test_missing_credentials_say_how_to_give_them(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = {"client_kwargs": {"endpoint_url": s3_server.endpoint_url, "region_name": "us-east-1"},
               "skip_instance_cache": True}
    with pytest.raises(StorageCredentialsError, match=r"AWS_ACCESS_KEY_ID.*s3://agents/agent\.zip") as caught:
        save_to_file(f"s3://{BUCKET}/agent.zip", data={}, storage_options=options)
    assert isinstance(caught.value, PermissionError)


def test_a_missing_backend_says_which_pip_install_fixes_it() -> None:
    with pytest.raises(StorageBackendMissingError, match=r"pip install gcsfs.*gs://bucket/agent\.zip") as caught:
        load_from_file("gs://bucket/agent.zip")
    assert isinstance(caught.value, ImportError)
    with pytest.raises(StorageBackendMissingError, match=r"knows no protocol 'nosuch'"):
        save_to_file("nosuch://bucket/agent.zip", data={})


def test_without_fsspec_urls_say_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(StorageBackendMissingError, match=r'pip install "stable-baselines-io\[fsspec\]"'):
        load_from_file("memory://bucket/agent.zip")


def test_file_urls_take_the_local_atomic_path(tmp_path: Path) -> None:
    save_to_file(f"file://{tmp_path}/agent", data={"a": 1})
    assert [path.name for path in tmp_path.iterdir()] == ["agent.zip"]
    assert load_from_file(f"file://{tmp_path}/agent")[0] == {"a": 1}


# --- the command line -------------------------------------------------------------------------


def test_sb_io_inspect_and_convert_read_and_write_s3(s3_server: S3Server, sb2_fixture_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = sorted(sb2_fixture_dir.glob("*.zip"))[0]
    destination = f"s3://{BUCKET}/{uuid.uuid4().hex}/converted"
    options = json.dumps(s3_server.storage_options())
    assert main(["convert", str(source), destination, "--storage-options", options]) == 0
    assert main(["inspect", destination + ".zip", "--storage-options", options]) == 0
    assert "parameters" in capsys.readouterr().out
    assert main(["inspect", destination + "-missing", "--storage-options", options]) == 2
    assert "could not be found" in capsys.readouterr().err


def test_sb_io_refuses_storage_options_that_are_not_a_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["inspect", "s3://bucket/agent.zip", "--storage-options", "[1, 2]"])
    assert "expected a JSON object" in capsys.readouterr().err


def test_the_endpoint_can_come_from_the_environment(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    url = f"s3://{BUCKET}/{uuid.uuid4().hex}/agent.zip"
    save_to_file(url, data={"from": "env"}, storage_options={"skip_instance_cache": True})
    assert load_from_file(url, storage_options={"skip_instance_cache": True})[0] == {"from": "env"}

