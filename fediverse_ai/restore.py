"""``fediverse-ai restore``: unpack a backup into a directory, checking it first.

An archive is hostile input until proven otherwise (it may come from anywhere an operator
downloaded it): members with absolute names, ``..``, links, devices or anything but plain
files and directories are refused before a byte is written, and so is any file the manifest
does not list or whose sha256 differs. Everything is unpacked into a staging directory
inside the target and moved into place only once all of it checked out, so a refused
archive leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .backup import CACHE_DIR, FORMAT, MANIFEST, BackupError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    config: Path
    relocated: tuple[str, ...]  # storage keys the operator must point at the restored files


def _safe_name(name: str) -> str:
    """The member's name, normalised; BackupError for one that could land outside."""
    if not name or "\\" in name or "\x00" in name:
        raise BackupError(f"refusing archive member {name!r}: not a plain relative name")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BackupError(f"refusing archive member {name!r}: absolute path or '..'")
    clean = PurePosixPath(*[p for p in path.parts if p != "."]).as_posix()
    if clean in ("", "."):
        raise BackupError(f"refusing archive member {name!r}: empty name")
    return clean


def _check_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    files: dict[str, tarfile.TarInfo] = {}
    for member in tar.getmembers():
        name = _safe_name(member.name)
        if member.isdir():
            continue
        if not member.isreg():
            kind = "link" if member.issym() or member.islnk() else "special file"
            raise BackupError(f"refusing archive member {name!r}: a {kind}")
        if name in files:
            raise BackupError(f"refusing archive: {name!r} appears twice")
        files[name] = member
    return files


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo | None) -> dict[str, Any]:
    if member is None:
        raise BackupError("not a fediverse-ai backup: no manifest.json")
    if member.size > MAX_MANIFEST_BYTES:
        raise BackupError("manifest.json is too large")
    fh = tar.extractfile(member)
    assert fh is not None  # a regular file, checked above
    try:
        manifest = json.loads(fh.read())
    except (UnicodeDecodeError, ValueError):
        raise BackupError("manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format (this version reads format {FORMAT})")
    files, layout = manifest.get("files"), manifest.get("layout")
    if not isinstance(files, dict) or not isinstance(layout, dict):
        raise BackupError("manifest.json has no file list")
    for name, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
            and not isinstance(entry.get("size"), bool)
            and entry["size"] >= 0
        )
        if not ok:
            raise BackupError(f"manifest.json: bad entry for {str(name)[:200]!r}")
    if not all(isinstance(v, str) for v in layout.values()):
        raise BackupError("manifest.json: bad layout")
    return manifest


def check_schema(manifest: dict[str, Any], known: int) -> None:
    schema = manifest.get("schema_version")
    if not isinstance(schema, int) or schema > known:
        raise BackupError(
            f"the backup's database has schema {schema!r}, newer than this version knows"
            f" ({known}): restore it with fediverse-ai {manifest.get('version', '?')} or later"
        )


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, want: dict[str, Any]
) -> None:
    """Copy one member to ``target``, hashing as it goes; BackupError on a mismatch."""
    fh = tar.extractfile(member)
    assert fh is not None
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as out:
        while chunk := fh.read(CHUNK):
            size += len(chunk)
            if size > want["size"]:
                break
            digest.update(chunk)
            out.write(chunk)
    if size != want["size"] or digest.hexdigest() != want["sha256"]:
        raise BackupError(f"{member.name}: sha256 does not match the manifest (damaged archive?)")


def restore_backup(archive: Path, into: Path, *, force: bool = False, schema: int) -> Restored:
    """Unpack ``archive`` into ``into``; ``schema``: the newest schema this version knows."""
    into = into.resolve()
    if into.exists() and not into.is_dir():
        raise BackupError(f"{into} is not a directory")
    if into.is_dir() and any(into.iterdir()) and not force:
        raise BackupError(f"{into} is not empty; give --force to replace what the backup holds")
    tar = _open_archive(archive)
    into.mkdir(parents=True, exist_ok=True)
    with tar, tempfile.TemporaryDirectory(dir=into, prefix=".restore-") as scratch:
        try:
            members = _check_members(tar)
            manifest = _read_manifest(tar, members.pop(MANIFEST, None))
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise BackupError(f"{archive}: damaged archive ({exc})") from None
        check_schema(manifest, schema)
        listed: dict[str, Any] = manifest["files"]
        extra, missing = set(members) - set(listed), set(listed) - set(members)
        if extra or missing:
            raise BackupError(
                "the archive does not match its manifest:"
                f" {len(extra)} unlisted, {len(missing)} missing member(s)"
            )
        staging = Path(scratch)
        try:
            for name, member in members.items():
                _extract(tar, member, staging / name, listed[name])
        except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
            raise BackupError(f"{archive}: damaged archive ({exc})") from None
        members_of = {str(k): _safe_name(v) for k, v in manifest["layout"].items()}
        database = staging / members_of.get("database", "")
        _check_database(database, with_cache=bool(manifest.get("with_cache")))
        _restrict(staging, members_of)
        named = [*members, *members_of.values()]
        tops = {PurePosixPath(n).parts[0] for n in named if (staging / n).exists()}
        for top in sorted(tops):
            destination = into / top
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            elif destination.exists() or destination.is_symlink():
                destination.unlink()
            os.replace(staging / top, destination)
    relocated = tuple(str(k) for k in manifest.get("relocated", []))
    return Restored(manifest, into / members_of.get("config", "config.toml"), relocated)


def _open_archive(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive}: not a readable tar.gz ({exc})") from None


def _check_database(path: Path, *, with_cache: bool) -> None:
    if not path.is_file():
        raise BackupError("the archive holds no database")
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError("the database in the archive is damaged")
            if not with_cache:
                # The cached files stayed behind: forget them, so that they are fetched again
                # instead of answered 404 from a row whose file is not there.
                with conn:
                    conn.execute("DELETE FROM remote_files WHERE state = 'done'")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the archive is damaged: {exc}") from None


def _restrict(staging: Path, members_of: dict[str, str]) -> None:
    """The database, config and keys readable by their owner alone, as ``init`` makes them."""
    for key in ("database", "config"):
        path = staging / members_of.get(key, "")
        if path.is_file():
            os.chmod(path, 0o600)
    keys = staging / members_of.get("keys_dir", "keys")
    # Since migration 0027 the keys are in the database and an archive may hold no key file:
    # the directory is still restored (empty), so that no stale key file is left there to be
    # taken by a new account of the same name.
    keys.mkdir(mode=0o700, parents=True, exist_ok=True)
    if keys.is_dir():
        os.chmod(keys, 0o700)
        for key_file in keys.rglob("*"):
            os.chmod(key_file, 0o700 if key_file.is_dir() else 0o600)
    media = staging / members_of.get("media_dir", "data/media")
    (media / CACHE_DIR).mkdir(parents=True, exist_ok=True)
