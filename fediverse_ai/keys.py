"""Actor key pairs: RSA-2048 private keys on disk (mode 0600 in a 0700 directory), public keys
in the database."""

from __future__ import annotations

import os
import stat
from functools import lru_cache
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


def write_private_key(path: Path, private_pem: str) -> None:
    """Create the key file readable by its owner only; never overwrite an existing key."""
    ensure_keys_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(private_pem)


def ensure_private_key(path: Path) -> str:
    """Return the PEM at ``path``, creating a new key there when none exists."""
    if path.exists():
        return read_private_key(path)
    pem = generate_private_key_pem()
    write_private_key(path, pem)
    return pem


def read_private_key(path: Path) -> str:
    try:
        return _read_cached(str(path))
    except OSError as exc:
        raise StorageError(f"cannot read key file {path}: {exc.strerror}") from exc


@lru_cache(maxsize=256)
def _read_cached(path: str) -> str:
    return Path(path).read_text(encoding="ascii")
