"""Actor key pairs: RSA-2048, both halves in the database (storage/account_keys.py); key files
(mode 0600 in a 0700 directory) are what installations from before migration 0027 still have,
read once to import them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import StorageError


def generate_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


KEYS_DIR_MODE = 0o700


def ensure_keys_dir(directory: Path) -> None:
    """Create the keys directory for its owner alone, and take back what others could list."""
    directory.mkdir(mode=KEYS_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(directory.stat().st_mode) & ~KEYS_DIR_MODE:
        os.chmod(directory, KEYS_DIR_MODE)


def key_for_new_account(path: Path) -> str:
    """The key a new account's row gets: the one already in its file when there is one (left
    by an older version, or put there by an operator), else a new key, never written to disk."""
    if path.exists():
        return read_private_key(path)
    return generate_private_key_pem()


def read_private_key(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except OSError as exc:
        raise StorageError(f"cannot read key file {path}: {exc.strerror}") from exc
