"""RSA-2048 test keys: generated in the test run, each label's key made once per process.

Generating a 2048-bit key takes a noticeable fraction of a second; the suites start
dozens of servers, each with several actors, so keys are reused by label. Tests that
need a key nobody publishes (forged signatures) call ``generate_rsa_key`` directly.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["generate_rsa_key", "reusable_key", "seed_key_file"]


def generate_rsa_key() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (private PKCS#8 PEM, public SPKI PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


@cache
def reusable_key(label: str) -> tuple[str, str]:
    """The key pair for ``label`` (e.g. "remote:alice"), the same for the whole run."""
    return generate_rsa_key()


def seed_key_file(keys_dir: Path, file_name: str, label: str) -> None:
    """Put a reusable private key where the server would otherwise create a new one.

    The server keeps an existing key file (keys are stable by design), so this only
    saves the generation time; the file is owner-only, as the server writes its own.
    """
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / file_name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(reusable_key(label)[0])
