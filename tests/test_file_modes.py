"""Secrets on disk: the database (password hashes, session tokens, and since migration 0027 the
actors' private keys) and the keys directory of older keys are readable by their owner alone,
created so by `fediverse-ai init` whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from fediverse_ai.config import CONFIG_ENV
from fediverse_ai.storage.db import restrict_file

CONFIG = """\
[instance]
domain = "localhost:8124"
scheme = "http"

[storage]
database = "data/site.sqlite3"
media_dir = "data/media"
keys_dir = "secrets"
"""


def init(base: Path) -> None:
    """`fediverse-ai init` under the loosest common umask (files 0644, directories 0755)."""
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    command = [sys.executable, "-m", "fediverse_ai", "--config", str(base / "config.toml"), "init"]
    result = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh", *command],
        capture_output=True,
        text=True,
        cwd=base,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_the_database_0600_and_the_keys_0700_0600(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    init(tmp_path)
    data = tmp_path / "data"
    assert mode(data / "site.sqlite3") == 0o600
    for side in ("-wal", "-shm"):  # while open; gone after a clean close, else like the file
        if (data / f"site.sqlite3{side}").exists():
            assert mode(data / f"site.sqlite3{side}") == 0o600
    assert mode(tmp_path / "secrets") == 0o700  # kept for keys from before migration 0027
    # The private keys are in the database now: the file above is their only copy on disk.
    with closing(sqlite3.connect(data / "site.sqlite3")) as conn:
        keys = conn.execute("SELECT key_file, private_key_pem FROM accounts").fetchall()
    assert sorted(k[0] for k in keys) == ["ai.pem", "localhost.pem"]
    assert all(str(k[1]).startswith("-----BEGIN PRIVATE KEY-----") for k in keys)
    assert list((tmp_path / "secrets").iterdir()) == []


def test_init_tightens_a_database_and_keys_dir_left_readable(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    init(tmp_path)
    database, keys = tmp_path / "data" / "site.sqlite3", tmp_path / "secrets"
    os.chmod(database, 0o644)
    os.chmod(keys, 0o755)
    init(tmp_path)  # init is idempotent: what an upgrade runs
    assert mode(database) == 0o600
    assert mode(keys) == 0o700


def test_restrict_file_leaves_what_is_not_a_regular_file(tmp_path: Path) -> None:
    """The PostgreSQL store's placeholder path is a device; tightening it broke initdb."""
    fifo = tmp_path / "not-a-file"
    os.mkfifo(fifo, 0o644)
    os.chmod(fifo, 0o644)
    restrict_file(fifo, 0o600)
    assert stat.S_IMODE(fifo.stat().st_mode) == 0o644
