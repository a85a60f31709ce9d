"""`fediverse-ai db copy --to postgresql://…`: a SQLite instance moved to PostgreSQL.

Given an instance on SQLite with real content made through its API (users, an OAuth app and
tokens, a follow, posts with emoji, a picture, jobs, an embedding's BLOB, a NUL in a name),
when `db copy` runs through the real entry point into a schema of the test cluster, then every
table compares OK, and `fediverse-ai run` on the copy serves the posts, takes the old token
and publishes a new post (the identities were set past the copied ids). Killed with SIGKILL
mid-table and run again, it goes on without duplicates; run on a finished copy it copies
nothing. It refuses another instance's database and a running instance.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from client_api.support import user_token
from support.live import AS2_ACCEPT, live_server
from support.postgres import Cluster
from test_backup import served
from web.support import make_user

from fediverse_ai.config import CONFIG_ENV
from fediverse_ai.storage import embeddings
from fediverse_ai.storage.copy import STATE_TABLE
from fediverse_ai.storage.copy_check import checksum
from fediverse_ai.storage.store import open_store

POSTS = 30
# Not the live server's default path, which FEDIVERSE_AI_TEST_STORE=postgresql would replace.
SOURCE_DB = "data/source.sqlite3"
_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != CONFIG_ENV}


def db(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "fediverse_ai", "--config", str(config), "db", *args],
        capture_output=True, text=True, cwd=config.parent, env=_env(), timeout=300,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def results(stdout: str) -> dict[str, tuple[int, int, str]]:
    """The per-table lines: table → (sqlite rows, postgres rows, OK/DIFFERENT)."""
    found = re.findall(
        r"^(\w+)\s+(\d+)\s+(\d+)\s+[0-9a-f]{16}\s+[0-9a-f]{16}\s+(\S+)$", stdout, re.M
    )
    return {name: (int(a), int(b), verdict) for name, a, b, verdict in found}


async def build_instance(directory: Path) -> tuple[Path, str]:
    """An instance with content of every kind; returns its config and alice's API token."""
    async with live_server(directory, database=SOURCE_DB) as live:
        _, token = await user_token(live, "alice")
        await make_user(live, "bob")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=live.base_url, headers=auth, timeout=20) as http:
            bob = (await http.get("/api/v1/accounts/lookup", params={"acct": "bob"})).json()
            assert (await http.post(f"/api/v1/accounts/{bob['id']}/follow")).status_code == 200
            media = await http.post(
                "/api/v2/media", files={"file": ("dot.png", _PNG, "image/png")},
                data={"description": "a dot 🔵"},
            )  # fmt: skip
            assert media.status_code in (200, 202), media.text
            first = await http.post(
                "/api/v1/statuses",
                data={"status": "with a picture 🖼️", "media_ids[]": media.json()["id"]},
            )
            assert first.status_code == 200, first.text
            for i in range(POSTS):
                posted = await http.post("/api/v1/statuses", data={"status": f"post {i} 🎉 ünï"})
                assert posted.status_code == 200, posted.text
        await live.drain()
        note_id = int(await live.state.db.fetchval("SELECT MIN(id) FROM notes"))
        actor_id = int(
            await live.state.db.fetchval("SELECT actor_id FROM notes WHERE id = ?", (note_id,))
        )
        await embeddings.put(
            live.state.db, note_id, actor_id=actor_id, model="test",
            vector=np.arange(8, dtype=np.float32) / 3, published=1.5, now=2.5,
        )  # fmt: skip
        config = live.config.path
        assert config is not None
    database = config.parent / SOURCE_DB
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        # Hostile text SQLite keeps and PostgreSQL cannot: the copy stores U+FFFD and says so.
        conn.execute("UPDATE actors SET display_name = ? WHERE username = 'bob'", ("Bob\x00by",))
    return config, token


def pg_config(config: Path, url: str) -> Path:
    """The same instance (port, keys, media) with storage.database = the copy."""
    text = config.read_text()
    assert f'database = "{SOURCE_DB}"' in text
    text = text.replace(f'database = "{SOURCE_DB}"', f'database = "{url}"')
    path = config.parent / "config-pg.toml"
    path.write_text(text)
    return path


async def test_copy_serves_the_instance_from_postgresql(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    config, token = await build_instance(tmp_path / "ours")
    url = pg_cluster.url(pg_cluster.new_schema())

    out = ok(db(config, "copy", "--to", url, "--batch", "7"))
    tables = results(out)
    assert tables and all(v[2] == "OK" for v in tables.values()), out
    for name in (
        "notes",
        "follows",
        "media",
        "jobs",
        "oauth_apps",
        "oauth_tokens",
        "note_embeddings",
    ):
        assert tables[name][0] == tables[name][1] > 0, (name, out)
    assert tables["notes"][0] == POSTS + 1
    assert "rows of actors held NUL in text, stored as U+FFFD" in out
    assert "all " in out and "DIFFERENT" not in out
    assert results(ok(db(config, "check", "--against", url))) == tables

    with psycopg.connect(url) as conn:
        name = conn.execute("SELECT display_name FROM actors WHERE username = 'bob'").fetchone()
        blob = conn.execute("SELECT vector FROM note_embeddings").fetchone()
    assert name == ("Bob\ufffdby",)
    with contextlib.closing(sqlite3.connect(config.parent / SOURCE_DB)) as src:
        stored = src.execute("SELECT vector FROM note_embeddings").fetchone()
    assert blob is not None and bytes(blob[0]) == stored[0] and len(stored[0]) > 8

    with served(pg_config(config, url)) as base:
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=20) as http:
            me = await http.get("/api/v1/accounts/verify_credentials")
            assert me.status_code == 200 and me.json()["username"] == "alice", me.text
            statuses = (
                await http.get(f"/api/v1/accounts/{me.json()['id']}/statuses?limit=40")
            ).json()
            assert len(statuses) == POSTS + 1
            assert any(s["media_attachments"] for s in statuses)
            page = await http.get(statuses[0]["uri"], headers={"Accept": AS2_ACCEPT})
            assert page.status_code == 200 and "🎉" in page.json()["content"]
            # A new row on the copy: its id comes after the copied ones.
            new = await http.post("/api/v1/statuses", data={"status": "first post on PostgreSQL"})
            assert new.status_code == 200, new.text
            assert int(new.json()["id"]) > max(int(s["id"]) for s in statuses)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM notes").fetchone() == (POSTS + 2,)


def stopped_mid_notes(
    config: Path, url: str, sig: int, *extra: str
) -> tuple[int, object, int, str]:
    """Start `db copy --batch 2`, and once it reports part of ``notes`` copied, hold its next
    batch back with a lock (so that the signal lands mid-table) and send ``sig``: returns the
    notes in the target then, their copy state, the exit status and what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fediverse_ai", "--config", str(config), "db", "copy",
         "--to", url, "--batch", "2", *extra],
        cwd=config.parent, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            found = re.match(r"notes: (\d+)/(\d+) rows", line)
            if found and 0 < int(found.group(1)) < int(found.group(2)):
                break
        else:
            raise AssertionError(f"no partial progress for notes (exit {proc.wait()})")
        with psycopg.connect(url) as blocker:
            blocker.execute("LOCK TABLE notes IN SHARE MODE")
            copied = blocker.execute("SELECT COUNT(*) FROM notes").fetchone()
            state = blocker.execute(
                f"SELECT copied, done FROM {STATE_TABLE} WHERE table_name = 'notes'"
            ).fetchone()
            os.kill(proc.pid, sig)
            out, _ = proc.communicate(timeout=60)
            blocker.rollback()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert copied is not None
    return int(copied[0]), state, proc.returncode, out


async def test_a_killed_copy_goes_on_where_it_stopped(tmp_path: Path, pg_cluster: Cluster) -> None:
    config, _ = await build_instance(tmp_path / "ours")
    url = pg_cluster.url(pg_cluster.new_schema())
    # On a loaded machine the copy may finish `notes` between the partial progress line and
    # the lock: then the round starts over (`--restart`), at most three times.
    for attempt in range(3):
        restart = ("--restart",) if attempt else ()
        killed, state, status, _ = stopped_mid_notes(config, url, signal.SIGKILL, *restart)
        assert status == -signal.SIGKILL
        if killed == POSTS + 1:
            continue
        assert 0 < killed < POSTS + 1 and state == (killed, False)
        # Ctrl-C while it goes on: the batch in flight is rolled back, the ones before stay.
        interrupted, state, status, out = stopped_mid_notes(config, url, signal.SIGINT)
        if interrupted == POSTS + 1:
            continue
        assert status == 130 and "the same command goes on from there" in out, out
        assert killed <= interrupted < POSTS + 1 and state == (interrupted, False)
        break
    else:
        pytest.fail("the copy finished `notes` before every stop, three times")

    again = ok(db(config, "copy", "--to", url, "--batch", "2"))
    tables = results(again)
    assert all(v[2] == "OK" for v in tables.values()), again
    assert tables["notes"] == (POSTS + 1, POSTS + 1, "OK")
    assert "tables copied before" in again
    with psycopg.connect(url) as conn:
        dupes = conn.execute("SELECT uri FROM notes GROUP BY uri HAVING COUNT(*) > 1").fetchall()
    assert dupes == []

    third = ok(db(config, "copy", "--to", url))
    assert "nothing to copy: every table was copied before" in third
    assert results(third) == tables

    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE notes SET content = content || '!' WHERE id = (SELECT MAX(id) FROM notes)"
        )
    changed = db(config, "check", "--against", url)
    assert changed.returncode == 1 and "DIFFERENT: notes" in changed.stdout, changed
    assert results(changed.stdout)["notes"] == (POSTS + 1, POSTS + 1, "DIFFERENT")


async def test_copy_refuses_another_instance_and_a_running_one(
    tmp_path: Path, pg_cluster: Cluster
) -> None:
    config, _ = await build_instance(tmp_path / "ours")
    url = pg_cluster.url(pg_cluster.new_schema())
    async with open_store(url) as target:
        await target.migrate()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO actors (uri, local, username, domain, published, updated_at)"
            " VALUES ('https://elsewhere.example/users/ai', 1, 'ai', 'elsewhere.example', 1, 1)"
        )
    refused = db(config, "copy", "--to", url)
    assert refused.returncode == 1 and "another instance's data" in refused.stderr, refused
    assert "elsewhere.example" in refused.stderr

    database = config.parent / SOURCE_DB
    with contextlib.closing(sqlite3.connect(database)) as src, src:
        src.execute(
            "INSERT INTO stream_readers (origin, expires_at) VALUES ('web:1', ?)",
            (time.time() + 600,),
        )
    running = db(config, "copy", "--to", url, "--restart")
    assert running.returncode == 1 and "looks running (1 stream readers)" in running.stderr, running

    forced = ok(db(config, "copy", "--to", url, "--restart", "--force"))
    assert all(v[2] == "OK" for v in results(forced).values()), forced
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "SELECT COUNT(*) FROM actors WHERE domain = 'elsewhere.example'"
        ).fetchone()
    assert left == (0,)


def test_checksums_ignore_row_order_and_dialect_types_but_not_duplicates() -> None:
    rows = [(1, "a\x00b", b"\x00\xff", 3.0, None), (2, "é 🎉", memoryview(b"x"), 0.1, 1)]
    # As PostgreSQL returns them: U+FFFD for NUL, bytes for bytea, the same doubles.
    as_pg = [(2, "é 🎉", b"x", 0.1, True), (1, "a\ufffdb", b"\x00\xff", 3, None)]
    assert checksum(rows) == checksum(as_pg)
    assert checksum(rows)[1] != checksum(rows + rows[:1])[1]
    assert checksum(rows)[1] != checksum([(1, "a", b"", 3.5, None), rows[1]])[1]
    assert checksum([("1",)]) != checksum([(1,)])
