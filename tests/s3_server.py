"""A real S3-compatible server for the tests: moto's standalone server on the loopback address.

The tests reach it through the real client stack (s3fs, aiobotocore, botocore over HTTP), with
dummy credentials and the endpoint in ``storage_options``, as a user would reach MinIO or Ceph.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUCKET = "agents"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint and the options that reach it."""

    endpoint_url: str

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        """``storage_options`` for s3fs: dummy credentials and this endpoint (a fresh client each time).

        :param overrides: more s3fs options
        :return: the options
        """
        return {"key": CREDENTIALS["AWS_ACCESS_KEY_ID"], "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
                "skip_instance_cache": True, **overrides}

    def client(self) -> Any:
        """A boto3 client on the server, to look at what s3fs did (multipart uploads, keys).

        :return: the client
        """
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@contextlib.contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """Start moto's server on 127.0.0.1 at a free port, with one bucket, :data:`BUCKET`.

    :return: a context manager yielding the server
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        port = server._server.server_port  # noqa: SLF001 (port 0: the system chose it)
        running = S3Server(f"http://127.0.0.1:{port}")
        running.client().create_bucket(Bucket=BUCKET)
        yield running
    finally:
        server.stop()


@dataclass(frozen=True)
class S3ServerProcess(S3Server):
    """A server in its own process, so that its memory is not the test's: :func:`peak_resident_bytes`
    reads the server's high-water mark."""

    pid: int

    def peak_resident_bytes(self) -> int:
        """The server process's peak resident memory so far (``VmHWM`` in ``/proc/<pid>/status``).

        :return: the peak in bytes
        """
        lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmHWM:"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    :return: the port
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_s3_server_process(key_buffer_bytes: int = 2**20, timeout: float = 60.0) -> Iterator[S3ServerProcess]:
    """Start moto's standalone server in a child process on 127.0.0.1, with one bucket, :data:`BUCKET`.

    :param key_buffer_bytes: how much of each object moto keeps in memory before spilling it to a
        temporary file on disk (``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``)
    :param timeout: seconds to wait for the server to answer
    :return: a context manager yielding the server
    """
    port = free_port()
    env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(key_buffer_bytes)}
    child = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = S3ServerProcess(f"http://127.0.0.1:{port}", child.pid)
        wait_until_listening(port, child, timeout)
        running.client().create_bucket(Bucket=BUCKET)
        yield running
    finally:
        child.kill()
        child.wait()


def wait_until_listening(port: int, child: subprocess.Popen, timeout: float) -> None:
    """Wait until ``child`` accepts connections on ``port``.

    :param port: the port
    :param child: the server process
    :param timeout: seconds to wait
    :raise RuntimeError: if the server exits or does not listen in time
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"moto's server exited with {child.returncode} before listening on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return
        time.sleep(0.1)
    raise RuntimeError(f"moto's server did not listen on port {port} within {timeout} s")
