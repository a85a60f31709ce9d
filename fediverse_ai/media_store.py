"""The media store: where our files and the remote media cache are kept (issue 15 item 4).

A key is a relative path such as ``ab12….png``, ``cache/…_t.jpg`` or ``emoji/….png``: the
same path under ``storage.media_dir`` (``LocalStore``, today's layout byte for byte) or
under the bucket's prefix (``S3Store``). Methods block (the file system, boto3); callers
run them with ``asyncio.to_thread``.

boto3 rather than aiobotocore or minio-py: it is the reference S3 client that every
S3-compatible server (MinIO, Garage, Ceph, R2, B2, moto) tests against, it brings no second
HTTP stack beside httpx (aiobotocore pulls aiohttp and pins botocore to one release), and a
worker thread per call is cheap beside an upload's image decoding. It is imported only when
``kind = "s3"``: the ``[s3]`` extra.

The endpoint is the admin's own configuration, so it is not passed through the SSRF guard
(a MinIO on loopback or a private address is a normal deployment); no URL that a remote
server sent ever reaches it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mimetypes
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config_media import MediaStoreConfig
from .errors import FediverseError

# One or more segments of safe characters; no segment starts with a dot (no "..", and the
# partial files of an atomic write are never listed or served).
_KEY_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")
log = logging.getLogger(__name__)
S3_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys


class MediaStoreError(FediverseError):
    """The store could not be reached or answered an error: a page shows it as unavailable."""

    status = 503
    default_message = "the media store is unavailable"


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int


class MediaStore(Protocol):
    """What every writer and reader of media files uses."""

    kind: str

    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` whole: a reader sees the old file, or none, or the new one."""

    def get(self, key: str) -> bytes | None:
        """The file's bytes, or None when there is none."""

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes ``start`` to ``stop - 1`` (what a Range request asks for)."""

    def size(self, key: str) -> int | None:
        """The file's length, or None when there is none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None:
        """Remove these files; a missing one is no error (deletes are retried)."""

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        """Every file whose key starts with ``prefix``, in no promised order."""

    def md5(self, key: str) -> str | None:
        """The hex MD5 of the file (S3's ETag of a single-part upload), for ``media copy``."""

    def public_url(self, key: str) -> str | None:
        """Where browsers fetch the file directly (``public_base_url``), or None: we serve it."""


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or len(key) > 512:
        raise ValueError(f"not a media key: {key!r}")
    return key


def content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _public(base: str, key: str) -> str | None:
    return f"{base}/{key}" if base else None


class LocalStore:
    """Files under one directory, as before the store existed."""

    kind = "local"

    def __init__(self, root: Path, *, public_base_url: str = "") -> None:
        self.root = root
        self.public_base_url = public_base_url

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Two writers of one key (a retried job) each have their own partial file.
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            partial.write_bytes(data)
            os.replace(partial, path)  # a reader never sees half a file
        finally:
            partial.unlink(missing_ok=True)

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        try:
            with self.path(key).open("rb") as file:
                file.seek(start)
                return file.read(max(stop - start, 0))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def size(self, key: str) -> int | None:
        path = self.path(key)
        try:
            return path.stat().st_size if path.is_file() else None
        except OSError:
            return None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            relative = Path(dirpath).relative_to(self.root)
            for name in sorted(filenames):
                key = (relative / name).as_posix() if relative.parts else name
                if name.startswith(".") or not key.startswith(prefix) or not _KEY_RE.match(key):
                    continue
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    yield StoredFile(key, (Path(dirpath) / name).stat().st_size)

    def md5(self, key: str) -> str | None:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with self.path(key).open("rb") as file:
                while chunk := file.read(1 << 20):
                    digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return digest.hexdigest()

    def public_url(self, key: str) -> str | None:
        return _public(self.public_base_url, key)


class S3Store:
    """Objects in one bucket of any S3-compatible server, under ``prefix``."""

    kind = "s3"

    def __init__(self, config: MediaStoreConfig, *, max_connections: int = 20) -> None:
        try:
            import boto3
            from botocore.config import Config as BotoConfig
        except ImportError:  # pragma: no cover - the [s3] extra is missing
            raise FediverseError(
                "media_store.kind = 's3' needs boto3: pip install 'fediverse-ai[s3]'"
            ) from None
        access_key, secret_key = config.credentials()
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.public_base_url = config.public_base_url
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=config.endpoint or None,
            region_name=config.region or None,
            # Empty keys: boto3's own chain (AWS_* variables, instance role) decides.
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=BotoConfig(
                s3={"addressing_style": "path" if config.path_style else "virtual"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                max_pool_connections=max_connections,
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One S3 request; a missing object is None, any other failure a MediaStoreError
        (its details go to the log, not to the visitor)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            log.warning("media store: %s %s failed: %s", method, self.bucket, code or exc)
            raise MediaStoreError() from exc
        except BotoCoreError as exc:
            log.warning("media store: %s %s failed: %s", method, self.bucket, exc)
            raise MediaStoreError() from exc

    def put(self, key: str, data: bytes) -> None:
        # A single PutObject is atomic on S3: a reader sees the old object or the new one.
        # The type and a long cache life matter when browsers fetch from the bucket directly.
        self._call(
            "put_object",
            Key=self._key(key),
            Body=data,
            ContentType=content_type(key),
            CacheControl="public, max-age=31536000, immutable",
        )

    def get(self, key: str) -> bytes | None:
        found = self._call("get_object", Key=self._key(key))
        return None if found is None else bytes(found["Body"].read())

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        if stop <= start:
            return b""
        found = self._call("get_object", Key=self._key(key), Range=f"bytes={start}-{stop - 1}")
        return None if found is None else bytes(found["Body"].read())

    def size(self, key: str) -> int | None:
        found = self._call("head_object", Key=self._key(key))
        return None if found is None else int(found["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, keys: list[str]) -> None:
        names = [self._key(k) for k in keys]
        for i in range(0, len(names), S3_DELETE_BATCH):
            batch = [{"Key": k} for k in names[i : i + S3_DELETE_BATCH]]
            self._call("delete_objects", Delete={"Objects": batch, "Quiet": True})

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call("list_objects_v2", Prefix=self.prefix + prefix, **extra) or {}
            for item in page.get("Contents", []):
                key = str(item["Key"])[len(self.prefix) :]
                if _KEY_RE.match(key):
                    yield StoredFile(key, int(item["Size"]))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def md5(self, key: str) -> str | None:
        found = self._call("head_object", Key=self._key(key))
        if found is None:
            return None
        etag = str(found.get("ETag", "")).strip('"')
        if re.fullmatch(r"[0-9a-f]{32}", etag):
            return etag
        data = self.get(key)  # a multipart ETag is no MD5 of the bytes
        return None if data is None else hashlib.md5(data, usedforsecurity=False).hexdigest()

    def public_url(self, key: str) -> str | None:
        return _public(self.public_base_url, key)

    def ensure_bucket(self) -> None:
        """Create the bucket when it is missing (tests, a fresh MinIO); an admin's existing
        bucket is left as it is."""
        if self._call("head_bucket") is None:
            self._client.create_bucket(Bucket=self.bucket)


def open_store(media_dir: Path, config: MediaStoreConfig) -> MediaStore:
    """The store the configuration names."""
    if config.kind == "s3":
        return S3Store(config)
    return LocalStore(media_dir, public_base_url=config.public_base_url)
