"""`fediverse-ai backup` and `restore` through the real entry point.

Given a running instance with posts, pictures and a remote follower, when it is backed up
while it serves (and while another writer publishes) and restored into a fresh directory,
then the restored instance started with `fediverse-ai run` serves every post and picture
(same counts, same bytes), its keys are the same files, and a remote peer verifies what it
signs against the key it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from support.live import AS2_ACCEPT, live_server
from support.postgres import Cluster
from support.remote import RemoteFediverse

from fediverse_ai.backup import BackupError, create_backup
from fediverse_ai.config import CONFIG_ENV, load_config, parse_config
from fediverse_ai.federation.publish import publish_note
from fediverse_ai.models import Draft
from fediverse_ai.state import open_state
from fediverse_ai.worker import Worker


def fediverse_ai(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "fediverse_ai", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return list(conn.execute(sql).fetchall())


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (64, 48), colour).save(path, "PNG")
    return path


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@contextlib.contextmanager
def served(config: Path) -> Iterator[str]:
    """`fediverse-ai run` on ``config`` until it answers NodeInfo; stopped by PID on exit."""
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    log = (config.parent / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fediverse_ai", "--config", str(config), "run"],
        cwd=config.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = load_config(config).instance.base_url
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (config.parent / "server.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/.well-known/nodeinfo", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "restored server did not start"
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_backup_while_serving_restores_every_post_picture_and_key(
    tmp_path: Path, remote: RemoteFediverse
) -> None:
    archive = tmp_path / "site.tar.gz"
    # SQLite even on a PostgreSQL run: `backup` archives the SQLite file (PostgreSQL is
    # pg_dump's, the refusal tested below).
    database = tmp_path / "ours" / "data" / "fediverse-ai.sqlite3"
    async with live_server(tmp_path / "ours", database=database) as live:
        config = live.config.path
        assert config is not None
        follow = remote.activity("alice", "Follow", live.ai.actor.uri)
        assert (await remote.send(live.inbox("ai"), follow)).status_code == 202
        await live.drain()
        for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
            image = picture(tmp_path / f"p{i}.png", colour)
            ok(
                fediverse_ai(
                    "--config",
                    str(config),
                    "post",
                    "--as",
                    "ai",
                    f"picture {i}",
                    "--attach",
                    str(image),
                    "--alt",
                    f"a {i} colour",
                    cwd=tmp_path,
                )
            )
        await live.drain()
        assert live.config.storage.database == database
        before = rows(database, "SELECT uri FROM notes WHERE local = 1")
        media_dir = live.config.storage.media_dir
        (media_dir / "cache").mkdir(exist_ok=True)
        (media_dir / "cache" / "remote.png").write_bytes(b"cached remote bytes")
        local_media = {k: v for k, v in tree_bytes(media_dir).items() if not k.startswith("cache/")}
        assert len(local_media) >= 3
        keys = tree_bytes(live.config.storage.keys_dir)

        stop = asyncio.Event()

        async def keep_publishing() -> int:
            n = 0
            while not stop.is_set():
                await publish_note(live.state, live.ai, Draft(text=f"during the backup {n}"))
                n += 1
                await asyncio.sleep(0)
            return n

        async def keep_reading() -> int:
            n = 0
            async with httpx.AsyncClient() as http:
                while not stop.is_set():
                    response = await http.get(live.ai.actor.uri, headers={"Accept": AS2_ACCEPT})
                    assert response.status_code == 200
                    n += 1
            return n

        writer, reader = asyncio.create_task(keep_publishing()), asyncio.create_task(keep_reading())
        await asyncio.sleep(0.2)
        result = await asyncio.to_thread(
            fediverse_ai, "--config", str(config), "backup", "--output", str(archive), cwd=tmp_path
        )
        stop.set()
        written, read = await writer, await reader
        out = ok(result)
        assert written > 0 and read > 0  # the server wrote and served while the backup ran
        assert "remote media cache left out" in out
        public_key = (await live.get_as2(live.ai.actor.uri)).json()["publicKey"]["publicKeyPem"]

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        names = tar.getnames()
    assert not any(n.startswith("data/media/cache/") for n in names)
    assert manifest["schema_version"] >= 7 and manifest["with_cache"] is False

    restored = tmp_path / "restored"
    out = ok(fediverse_ai("restore", str(archive), "--into", str(restored), cwd=tmp_path))
    assert "start it with" in out
    new_config = restored / "config.toml"
    new_db = restored / "data" / "fediverse-ai.sqlite3"
    assert stat.S_IMODE(new_db.stat().st_mode) == 0o600
    assert stat.S_IMODE((restored / "keys").stat().st_mode) == 0o700
    # One consistent snapshot: the counts its manifest gives are the restored database's.
    counts = manifest["counts"]
    assert rows(new_db, "SELECT COUNT(*) FROM notes WHERE local = 1") == [(counts["local_notes"],)]
    assert rows(new_db, "SELECT COUNT(*) FROM media WHERE local = 1") == [(counts["local_media"],)]
    assert set(before) <= set(rows(new_db, "SELECT uri FROM notes WHERE local = 1"))
    assert counts["local_notes"] > len(before)  # some of the concurrent posts made it in
    assert tree_bytes(restored / "keys") == keys
    assert tree_bytes(restored / "data" / "media") == local_media  # the cache stayed behind

    with served(new_config) as base:
        async with httpx.AsyncClient() as http:
            actor = (await http.get(f"{base}/users/ai", headers={"Accept": AS2_ACCEPT})).json()
            assert actor["publicKey"]["publicKeyPem"] == public_key
            pictures = 0
            for (uri,) in before:
                note = (await http.get(str(uri), headers={"Accept": AS2_ACCEPT})).json()
                assert note["id"] == uri
                for attachment in note.get("attachment", []):
                    body = (await http.get(attachment["url"])).content
                    assert body == local_media[attachment["url"].rsplit("/media/", 1)[1]]
                    pictures += 1
            assert pictures == 3
        # What the restored instance signs verifies against the key it serves.
        ok(fediverse_ai("--config", str(new_config), "post", "--as", "ai", "back", cwd=tmp_path))
        remote.received.clear()
        remote._key_cache.clear()
        async with open_state(load_config(new_config)) as state:
            await Worker(state).drain()
        creates = remote.posts(type="Create")
        assert creates and all(post.verified for post in creates), [p.error for p in creates]
        assert any("back" in json.dumps(post.activity) for post in creates)


# --- hostile archives ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("good")
    (base / "config.toml").write_text(
        '[instance]\ndomain = "localhost:8125"\nscheme = "http"\n', encoding="utf-8"
    )
    ok(fediverse_ai("--config", str(base / "config.toml"), "init", cwd=base))
    ok(fediverse_ai("--config", str(base / "config.toml"), "backup", "-o", "b.tgz", cwd=base))
    return base / "b.tgz"


def rewrite(source: Path, target: Path, extra: tarfile.TarInfo, data: bytes = b"") -> Path:
    """``source`` with ``extra`` added; the manifest lists it when it is a regular file."""
    with tarfile.open(source) as tar, tarfile.open(target, "w:gz") as out:
        for member in tar.getmembers():
            body = tar.extractfile(member)
            content = body.read() if body is not None else b""
            if member.name == "manifest.json" and extra.isreg():
                manifest = json.loads(content)
                manifest["files"][extra.name] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
                content = json.dumps(manifest).encode()
                member.size = len(content)
            out.addfile(member, io.BytesIO(content))
        extra.size = len(data) if extra.isreg() else 0
        out.addfile(extra, io.BytesIO(data) if extra.isreg() else None)
    return target


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (member("/etc/evil"), "absolute path or '..'"),
        (member("data/../../evil"), "absolute path or '..'"),
        (member("keys/evil", tarfile.SYMTYPE, "/etc/passwd"), "a link"),
        (member("keys/hard", tarfile.LNKTYPE, "config.toml"), "a link"),
        (member("data/tty", tarfile.CHRTYPE), "a special file"),
        (member("data/fifo", tarfile.FIFOTYPE), "a special file"),
    ],
    ids=["absolute", "dotdot", "symlink", "hardlink", "device", "fifo"],
)
def test_restore_refuses_hostile_members_and_writes_nothing(
    good_archive: Path, tmp_path: Path, extra: tarfile.TarInfo, message: str
) -> None:
    bad = rewrite(good_archive, tmp_path / "bad.tgz", extra, b"x")
    target = tmp_path / "target"
    result = fediverse_ai("restore", str(bad), "--into", str(target), cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists() or list(target.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_restore_refuses_a_member_whose_hash_differs(good_archive: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(good_archive) as tar, tarfile.open(bad, "w:gz") as out:
        for info in tar.getmembers():
            content = tar.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "config.toml":
                content = content.replace(b"8125", b"8126")
            out.addfile(info, io.BytesIO(content))
    result = fediverse_ai("restore", str(bad), "--into", str(tmp_path / "t"), cwd=tmp_path)
    assert result.returncode == 1
    assert "config.toml: sha256 does not match the manifest" in result.stderr
    assert list((tmp_path / "t").iterdir()) == []


def test_restore_refuses_an_unlisted_member(good_archive: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(good_archive) as tar, tarfile.open(bad, "w:gz") as out:
        for info in tar.getmembers():
            out.addfile(info, tar.extractfile(info))
        extra = member("data/media/planted.png")
        extra.size = 3
        out.addfile(extra, io.BytesIO(b"abc"))
    result = fediverse_ai("restore", str(bad), "--into", str(tmp_path / "t"), cwd=tmp_path)
    assert result.returncode == 1
    assert "does not match its manifest: 1 unlisted" in result.stderr


def test_restore_into_a_non_empty_directory_needs_force(good_archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "keys").mkdir()
    (target / "keys" / "stale.pem").write_text("old")
    (target / "notes.txt").write_text("mine")
    result = fediverse_ai("restore", str(good_archive), "--into", str(target), cwd=tmp_path)
    assert result.returncode == 1 and "is not empty; give --force" in result.stderr
    assert (target / "keys" / "stale.pem").exists()
    ok(fediverse_ai("restore", str(good_archive), "--into", str(target), "--force", cwd=tmp_path))
    # the keys are in the restored database (migration 0027); the stale file is gone
    assert list((target / "keys").iterdir()) == []
    keys = rows(target / "data" / "fediverse-ai.sqlite3", "SELECT private_key_pem FROM accounts")
    assert len(keys) == 2 and all(str(k[0]).startswith("-----BEGIN PRIVATE KEY-----") for k in keys)
    assert (target / "notes.txt").read_text() == "mine"  # what the backup does not hold stays
    assert rows(target / "data" / "fediverse-ai.sqlite3", "PRAGMA quick_check") == [("ok",)]


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"\x1f\x8b not really gzip")
    result = fediverse_ai("restore", str(junk), "--into", str(tmp_path / "t"), cwd=tmp_path)
    assert result.returncode == 1 and "error:" in result.stderr
    assert "Traceback" not in result.stderr
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz") as out:
        out.addfile(member("x"), io.BytesIO(b""))
    result = fediverse_ai("restore", str(empty), "--into", str(tmp_path / "u"), cwd=tmp_path)
    assert result.returncode == 1 and "no manifest.json" in result.stderr


@pytest.mark.parametrize(
    "damage",
    [
        {"files": {"config.toml": "not an entry"}},
        {"files": {"config.toml": {"sha256": "00", "size": "12"}}},
        {"layout": {"database": 7}},
        {"layout": {"database": "../../outside.sqlite3"}},
        {"format": 99},
        {"schema_version": 10_000},
    ],
    ids=["entry", "size", "layout-type", "layout-dotdot", "format", "newer-schema"],
)
def test_restore_refuses_a_hostile_manifest_cleanly(
    good_archive: Path, tmp_path: Path, damage: dict[str, object]
) -> None:
    bad = tmp_path / "bad.tgz"
    with tarfile.open(good_archive) as tar, tarfile.open(bad, "w:gz") as out:
        for info in tar.getmembers():
            content = tar.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "manifest.json":
                manifest = json.loads(content)
                for key, value in damage.items():
                    if isinstance(value, dict) and isinstance(manifest.get(key), dict):
                        manifest[key] = {**manifest[key], **value}
                    else:
                        manifest[key] = value
                content = json.dumps(manifest).encode()
                info.size = len(content)
            out.addfile(info, io.BytesIO(content))
    result = fediverse_ai("restore", str(bad), "--into", str(tmp_path / "t"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert list((tmp_path / "t").iterdir()) == []
    assert not (tmp_path / "outside.sqlite3").exists()


def test_a_postgresql_store_is_refused_with_the_pg_dump_hint(tmp_path: Path) -> None:
    url = "postgresql://fediverse@db.internal/fediverse_ai"
    raw = {"instance": {"domain": "localhost:8123"}, "storage": {"database": url}}
    with pytest.raises(BackupError, match="pg_dump"):
        create_backup(parse_config(raw, base_dir=tmp_path), tmp_path / "backup.tar.gz")
    assert not (tmp_path / "backup.tar.gz").exists()


def test_backup_of_a_postgresql_instance_refuses_and_points_at_pg_dump(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    """The command, as an operator runs it against a real PostgreSQL store: a clear error, no
    traceback and no archive, partial or not."""
    url = pg_cluster.url(pg_cluster.new_schema())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[instance]\ndomain = "localhost:8126"\nscheme = "http"\n[storage]\ndatabase = "{url}"\n',
        encoding="utf-8",
    )
    ok(fediverse_ai("--config", str(config), "init", cwd=tmp_path))
    result = fediverse_ai("--config", str(config), "backup", "-o", "b.tgz", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "PostgreSQL" in result.stderr and "pg_dump" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith("tgz")) == []
    assert not any(p.name.startswith(".b.tgz") for p in tmp_path.iterdir())
