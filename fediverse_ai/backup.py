"""``fediverse-ai backup``: one tar.gz holding everything an instance is made of.

The database is copied with SQLite's online backup API, not as a file: the server may be
writing while the backup runs, and a plain copy of a WAL database taken then can lose the
newest transactions or be torn. The copy is one consistent snapshot. Beside it go the local
media, the keys directory (without its private keys the instance cannot sign as its actors
again: remote servers cache the public keys for good) and the config file, and a manifest
with a sha256 for every member, which ``restore`` checks before it writes anything in place.

Member names are the storage paths relative to the config file's directory when they lie
under it (the default layout), so that a restored config works as it is. Paths elsewhere get
the default names and ``restore`` says which ``[storage]`` keys to change.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from . import __version__
from .config import Config
from .errors import FediverseError

MANIFEST = "manifest.json"
FORMAT = 1
CACHE_DIR = "cache"  # media_cache.CACHE_DIR: the remote media cache under media_dir
DEFAULT_MEMBERS = {
    "config": "config.toml",
    "database": "data/fediverse-ai.sqlite3",
    "media_dir": "data/media",
    "keys_dir": "keys",
}
# Rows the manifest counts, so that an operator (and the tests) can compare a restore.
COUNTED = {
    "accounts": "SELECT COUNT(*) FROM accounts",
    "actors": "SELECT COUNT(*) FROM actors",
    "local_notes": "SELECT COUNT(*) FROM notes WHERE local = 1",
    "notes": "SELECT COUNT(*) FROM notes",
    "local_media": "SELECT COUNT(*) FROM media WHERE local = 1",
    "follows": "SELECT COUNT(*) FROM follows",
}
SNAPSHOT_TIMEOUT_SECONDS = 30.0


class BackupError(FediverseError):
    """A backup or restore that cannot go on; the message says why."""


@dataclass(frozen=True)
class Layout:
    """Where each part of the instance goes in the archive, and whether it moved."""

    members: dict[str, str]
    relocated: tuple[str, ...]  # storage keys whose path was outside the config's directory


def sqlite_file(config: Config) -> Path:
    """The database file to archive; a PostgreSQL store is backed up with pg_dump (README)."""
    path = config.storage.sqlite_path
    if path is None:
        raise BackupError("the database is PostgreSQL: back it up with pg_dump (see README)")
    return path


def layout(config: Config) -> Layout:
    base = config.path.parent if config.path is not None else Path.cwd()
    members = {"config": DEFAULT_MEMBERS["config"]}
    relocated = []
    s = config.storage
    for key, path in (
        ("database", sqlite_file(config)),
        ("media_dir", s.media_dir),
        ("keys_dir", s.keys_dir),
    ):
        try:
            relative = path.resolve().relative_to(base.resolve())
        except ValueError:
            relative = None
        if relative is None or not relative.parts:
            members[key] = DEFAULT_MEMBERS[key]
            relocated.append(key)
        else:
            members[key] = relative.as_posix()
    return Layout(members, tuple(relocated))


def snapshot_database(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` as one consistent snapshot, while others write to it."""
    if not source.is_file():
        raise BackupError(f"no database at {source} (run `fediverse-ai init` first)")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with (
        contextlib.closing(sqlite3.connect(source, timeout=SNAPSHOT_TIMEOUT_SECONDS)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        # All pages in one step: the source's read lock is held throughout, so no writer
        # can change the database halfway through the copy.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def database_facts(path: Path) -> tuple[int, dict[str, int]]:
    """The schema version and the row counts of a database file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        counts = {name: int(conn.execute(sql).fetchone()[0]) for name, sql in COUNTED.items()}
    return version, counts


def _tree(root: Path, *, skip_top: str | None, database: Path) -> Iterator[Path]:
    """Regular files under ``root``, sorted; links and special files are left out (a link in
    media would make the archive carry whatever it points at), and so is the live database
    with its journals, should it lie there: the snapshot stands for it."""
    live = {
        database.resolve().with_name(database.name + s) for s in ("", "-wal", "-shm", "-journal")
    }
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root and skip_top in dirnames:
            dirnames.remove(skip_top)
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            if path.is_file() and not path.is_symlink() and path.resolve() not in live:
                yield path


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int, files: dict[str, object]) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))
    files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _add_stored_media(
    tar: tarfile.TarFile,
    config: Config,
    prefix: str,
    skip_top: str | None,
    files: dict[str, object],
) -> None:
    """The bucket's files, under the names they would have in ``media_dir``: the archive
    restores onto either store (``media copy --to s3`` after the restore)."""
    from .media_store import open_store

    store = open_store(config.storage.media_dir, config.media_store)
    for item in sorted(store.list(), key=lambda f: f.key):
        if skip_top is not None and item.key.startswith(f"{skip_top}/"):
            continue
        data = store.get(item.key)
        if data is not None:  # deleted since it was listed
            _add(tar, str(PurePosixPath(prefix) / item.key), data, 0o644, files)


def create_backup(config: Config, output: Path, *, with_cache: bool = False) -> dict[str, object]:
    """Write the archive to ``output`` (mode 0600: it holds the private keys); return the
    manifest. The archive appears under its name only once complete."""
    plan = layout(config)
    output = output.resolve()
    if output.exists():
        raise BackupError(f"{output} exists already; give another --output")
    files: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="fediverse-ai-backup-") as scratch:
        snapshot = Path(scratch) / "database.sqlite3"
        database = sqlite_file(config)
        snapshot_database(database, snapshot)
        schema, counts = database_facts(snapshot)
        fd, partial_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
        partial = Path(partial_name)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                if config.path is not None:
                    _add(tar, plan.members["config"], config.path.read_bytes(), 0o600, files)
                _add(tar, plan.members["database"], snapshot.read_bytes(), 0o600, files)
                skip_cache = None if with_cache else CACHE_DIR
                if config.media_store.kind != "local":
                    _add_stored_media(tar, config, plan.members["media_dir"], skip_cache, files)
                for key, skip in (
                    ("media_dir", skip_cache),
                    ("keys_dir", None),
                ):
                    if key == "media_dir" and config.media_store.kind != "local":
                        continue
                    root = getattr(config.storage, key)
                    prefix = PurePosixPath(plan.members[key])
                    for path in _tree(root, skip_top=skip, database=database):
                        name = str(prefix / path.relative_to(root).as_posix())
                        mode = 0o600 if key == "keys_dir" else 0o644
                        _add(tar, name, path.read_bytes(), mode, files)
                manifest: dict[str, object] = {
                    "format": FORMAT,
                    "version": __version__,
                    "schema_version": schema,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "instance": config.instance.base_url,
                    "with_cache": with_cache,
                    "layout": plan.members,
                    "relocated": list(plan.relocated),
                    "counts": counts,
                    "files": files,
                }
                body = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(body))
            os.replace(partial, output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


def default_output(now: float | None = None) -> Path:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return Path(f"fediverse-ai-backup-{stamp:%Y%m%d-%H%M%S}.tar.gz")
