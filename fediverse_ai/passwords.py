"""Password hashing with scrypt (memory-hard), in a self-describing string format.

``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``: the parameters travel with the hash, so they
can be raised later without invalidating stored passwords (``needs_rehash`` tells when).
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

# n = 2**15, r = 8 → 32 MiB and roughly 50-100 ms per hash on a small machine: OWASP's floor.
LOG2_N = 15
R = 8
P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024  # longer inputs only cost us CPU; nobody types this much


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kdf(salt: bytes, log2_n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=HASH_BYTES, n=2**log2_n, r=r, p=p)


def check_strength(password: str) -> str | None:
    """A message safe to show when the password is not acceptable, else None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str, *, log2_n: int = LOG2_N) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = _kdf(salt, log2_n, R, P).derive(password.encode("utf-8"))
    return f"scrypt${log2_n}${R}${P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str | None) -> tuple[bytes, int, int, int, bytes] | None:
    """(salt, log2 n, r, p, digest) of a usable stored hash, else None."""
    parts = (stored or "").split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 4):
        return None
    return salt, log2_n, r, p, expected


# Checked instead when there is no usable hash (unknown username, no password set, a broken
# hash), so that those cost the same scrypt as a wrong password: the time a login takes must
# not tell whether the username exists. No password derives these zero bytes.
_DUMMY = (bytes(SALT_BYTES), LOG2_N, R, P, bytes(HASH_BYTES))


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches; False for a wrong password or an unusable hash, after
    the same work either way."""
    if len(password) > MAX_LENGTH:  # refused for every username alike, before any work
        return False
    parsed = _parse(stored)
    salt, log2_n, r, p, expected = parsed or _DUMMY
    try:
        _kdf(salt, log2_n, r, p).verify(password.encode("utf-8"), expected)
    except InvalidKey:
        return False
    return parsed is not None


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(f"scrypt${LOG2_N}${R}${P}$")


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
