"""A real S3-compatible server for the tests: moto's standalone server on the loopback address.

The tests reach it through the real client stack (s3fs, aiobotocore, botocore over HTTP), with
dummy credentials and the endpoint in ``storage_options``, as a user would reach MinIO or Ceph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
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
