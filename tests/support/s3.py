"""A real S3-compatible server on loopback for the media store's tests: moto's S3 server
(``moto[server]``, which speaks the S3 HTTP API) in a process of its own on a free port.

A process rather than moto's in-process thread: its warnings stay out of pytest's
``filterwarnings = error``, and it does not share our event loop's GIL, as a real MinIO would
not. ``moto_s3`` stops it even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from fediverse_ai.config_media import MediaStoreConfig
from fediverse_ai.media_store import S3Store

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_s3(log_dir: Path) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1; yields its endpoint URL."""
    port = _free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"moto-{port}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moto_server exited: see {log.name}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{endpoint}/moto-api/", timeout=1.0).status_code < 500:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start in 60 s")
                time.sleep(0.1)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def store_config(endpoint: str, bucket: str, *, public_base_url: str = "") -> MediaStoreConfig:
    return MediaStoreConfig(
        kind="s3",
        endpoint=endpoint,
        bucket=bucket,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        public_base_url=public_base_url,
    )


def new_bucket(endpoint: str, **kwargs: str) -> S3Store:
    """A fresh bucket (one per test: nothing leaks between tests) and its store."""
    store = S3Store(store_config(endpoint, f"test-{secrets.token_hex(6)}", **kwargs))
    store.ensure_bucket()
    return store


def store_toml(store: S3Store, endpoint: str, *, public_base_url: str = "") -> str:
    """The ``[media_store]`` table of a config using ``store``'s bucket."""
    public = f'public_base_url = "{public_base_url}"\n' if public_base_url else ""
    return f"""
[media_store]
kind = "s3"
endpoint = "{endpoint}"
bucket = "{store.bucket}"
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET_KEY}"
{public}"""


def admin_client(endpoint: str) -> Any:
    """A plain boto3 client: what an admin does to the bucket beside our server."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def allow_public_reads(endpoint: str, bucket: str) -> None:
    """The bucket policy README gives for ``public_base_url``: anyone may GET an object."""
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    admin_client(endpoint).put_bucket_policy(Bucket=bucket, Policy=policy)
