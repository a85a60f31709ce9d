"""Where media files live (``[media_store]``): the local directory ``storage.media_dir``, or
any S3-compatible bucket (issue 15 item 4). Pure settings; ``media_store`` builds the store."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

KINDS = ("local", "s3")
#: Read when the config leaves the keys empty, so that secrets can stay out of the file.
KEY_ENV_VARS = ("FEDIVERSE_AI_S3_ACCESS_KEY", "FEDIVERSE_AI_S3_SECRET_KEY")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_RE = re.compile(r"^([A-Za-z0-9_-]+/)*$")


@dataclass(frozen=True)
class MediaStoreConfig:
    """``kind = "local"`` keeps today's files under ``storage.media_dir``; ``"s3"`` puts them
    in ``bucket`` at ``endpoint``. With ``public_base_url`` our media routes redirect to the
    bucket (or its CDN), which then serves the bytes; without it we stream them ourselves."""

    kind: str = "local"
    endpoint: str = ""
    region: str = "us-east-1"
    bucket: str = ""
    prefix: str = ""
    access_key: str = ""
    secret_key: str = ""
    path_style: bool = True
    public_base_url: str = ""

    def credentials(self) -> tuple[str, str]:
        """The key pair, from the file or else from the environment."""
        access, secret = KEY_ENV_VARS
        return (
            self.access_key or os.environ.get(access, ""),
            self.secret_key or os.environ.get(secret, ""),
        )


def validate_media_store(m: MediaStoreConfig) -> list[str]:
    problems = []
    if m.kind not in KINDS:
        problems.append(f"media_store.kind: one of {', '.join(KINDS)}")
    if m.endpoint and not m.endpoint.startswith(("https://", "http://")):
        problems.append("media_store.endpoint: an http(s):// URL, or empty for AWS itself")
    if m.bucket and not _BUCKET_RE.match(m.bucket):
        problems.append(f"media_store.bucket: {m.bucket!r} is not an S3 bucket name")
    if m.kind == "s3" and not m.bucket:
        problems.append("media_store.bucket: required when kind = 's3'")
    if not _PREFIX_RE.match(m.prefix):
        problems.append("media_store.prefix: empty, or path segments each ending with '/'")
    base = m.public_base_url
    if base and (not base.startswith(("https://", "http://")) or base.endswith("/")):
        problems.append("media_store.public_base_url: an http(s):// URL without a trailing '/'")
    return problems
