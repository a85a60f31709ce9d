"""The `fediverse-ai` command line, run as a real subprocess against real files in tmp."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from support.stores import config_database, connect, on_postgresql, query, suite_database

from fediverse_ai.config import CONFIG_ENV
from fediverse_ai.storage import jobs
from fediverse_ai.storage.store import open_store

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
NOTE_URL = re.compile(r"^http://localhost:8123/users/bob/statuses/\d+$")
CONFIG = """\
[instance]
domain = "localhost:8123"
scheme = "http"

[storage]
database = "data/site.sqlite3"
media_dir = "data/media"
keys_dir = "secrets"
"""


def cli(
    *args: str, config: Path | None, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script the way an operator does; never inherit a config from outside."""
    environ = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    environ.update(env or {})
    command = [sys.executable, "-W", "error", "-m", "fediverse_ai"]  # as filterwarnings = error
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=cwd, env=environ, timeout=120
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert not re.search(r"\w+Warning: ", result.stderr), result.stderr
    return result.stdout


def database(site: Path) -> Path | str:
    """The site's database: its SQLite file, or its schema's URL on a PostgreSQL run."""
    return config_database(site)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `init` per module (keys take a while); each test gets its own copy of the files."""
    base = tmp_path_factory.mktemp("initialised")
    (base / "config.toml").write_text(CONFIG, encoding="utf-8")
    ok(cli("init", config=base / "config.toml", cwd=base))
    return base


@pytest.fixture
def site(initialised: Path, tmp_path: Path) -> Path:
    """An initialised instance at http://localhost:8123; returns its config path."""
    copy = Path(shutil.copytree(initialised, tmp_path / "site")) / "config.toml"
    if on_postgresql():
        # A database cannot be copied as files are: a fresh schema, initialised with the
        # copied keys (the slow part of `init`, which it keeps).
        url = suite_database("")
        copy.write_text(CONFIG.replace('"data/site.sqlite3"', f'"{url}"'), encoding="utf-8")
        ok(cli("init", config=copy, cwd=copy.parent))
    return copy


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, config=site, cwd=site.parent)


# --- init -------------------------------------------------------------------------------------


def test_init_writes_a_config_keys_database_and_the_builtin_actors(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "config.toml"
    out = ok(cli("init", config=config, cwd=tmp_path))
    assert f"wrote {config}" in out
    # The example, with the offline model chosen: small, since no large model file is there.
    assert "offline text model: small" in out
    example = EXAMPLE.read_text(encoding="utf-8")
    written = example.replace('offline_model = "auto"', 'offline_model = "small"', 1)
    assert written != example and config.read_text(encoding="utf-8") == written

    # the example's relative paths land next to the config, not in the current directory
    base = config.parent
    database = base / "data" / "fediverse-ai.sqlite3"
    assert database.is_file()
    # the keys are in the database (migration 0027); keys_dir stays, empty, for older keys
    keys = query(database, "SELECT key_file, private_key_pem FROM accounts ORDER BY key_file")
    assert [k[0] for k in keys] == ["ai.pem", "localhost.pem"]
    assert all(str(k[1]).startswith("-----BEGIN PRIVATE KEY-----") for k in keys)
    assert stat.S_IMODE((base / "keys").stat().st_mode) == 0o700
    assert list((base / "keys").iterdir()) == []
    assert (base / "data" / "media").is_dir()

    rows = query(
        database,
        "SELECT a.username, a.type, a.uri, acc.role, a.public_key_pem LIKE '-----BEGIN PUBLIC%'"
        " FROM actors a JOIN accounts acc ON acc.actor_id = a.id WHERE a.local = 1 ORDER BY a.id",
    )
    assert rows == [
        ("localhost", "Application", "http://localhost:8000/actor", "instance", 1),
        ("ai", "Service", "http://localhost:8000/users/ai", "ai", 1),
    ]
    assert "AI actor: http://localhost:8000/users/ai (@ai@localhost)" in out


def test_init_twice_is_idempotent(site: Path) -> None:
    keys = site.parent / "secrets"
    snapshot = "SELECT id, uri, type, public_key_pem, icon_url FROM actors ORDER BY id"
    actors_before = query(database(site), snapshot)
    keys_before = {p.name: p.read_bytes() for p in keys.iterdir()}
    config_before = site.read_text(encoding="utf-8")

    out = ok(run(site, "init"))
    assert "wrote" not in out
    assert site.read_text(encoding="utf-8") == config_before
    assert query(database(site), snapshot) == actors_before
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == keys_before
    assert query(database(site), "SELECT COUNT(*) FROM accounts") == [(2,)]


def test_init_imports_key_files_from_before_migration_0027(site: Path) -> None:
    """An upgraded installation: its keys are files and its rows are empty; `init` moves them
    into the database and says so, and warns about a file that is missing."""
    keys = site.parent / "secrets"
    stored = dict(query(database(site), "SELECT key_file, private_key_pem FROM accounts"))
    for name, pem in stored.items():
        (keys / str(name)).write_text(str(pem), encoding="ascii")
    (keys / "localhost.pem").unlink()
    with connect(database(site)) as conn:
        conn.execute("UPDATE accounts SET private_key_pem = NULL")

    result = run(site, "init")
    assert f"private keys imported from {keys} into the database: 1" in ok(result)
    assert f"key file missing, that account cannot sign: {keys / 'localhost.pem'}" in result.stderr
    assert dict(query(database(site), "SELECT key_file, private_key_pem FROM accounts")) == {
        "ai.pem": stored["ai.pem"],
        "localhost.pem": None,
    }


# --- check-config -----------------------------------------------------------------------------


def test_check_config_ok(config: Path, tmp_path: Path) -> None:
    result = cli("check-config", config=config, cwd=tmp_path)
    assert ok(result).strip() == f"{config}: OK (http://localhost:8123)"
    assert not (tmp_path / "data").exists()  # checking creates nothing


def test_check_config_lists_every_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        '[instance]\ndomain = "social.example.org"\nscheme = "http"\ncolour = "red"\n'
        '[server]\nlisten_port = 99999\n[ai]\nusername = "Not OK"\n[bogus]\n',
        encoding="utf-8",
    )
    result = cli("check-config", config=broken, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    for key in ("instance.scheme", "instance.colour", "server.listen_port", "ai.username", "bogus"):
        assert re.search(rf"^\s+- {re.escape(key)}: ", result.stderr, re.M), key
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "file not found (run `fediverse-ai init`"), ("[instance\n", "not valid TOML")],
)
def test_check_config_missing_or_unreadable(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "config.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = cli("check-config", config=path, cwd=tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# --- users ------------------------------------------------------------------------------------


def test_user_add_then_list(site: Path) -> None:
    out = ok(run(site, "user", "add", "bob", "--display-name", "Bob", "--admin"))
    assert out.splitlines() == [
        "created http://localhost:8123/users/bob (@bob@localhost)",
        "no web password yet: fediverse-ai user password bob",
    ]
    listed = ok(run(site, "user", "list")).splitlines()
    assert "bob\tuser admin\thttp://localhost:8123/users/bob" in listed
    assert "ai\tai\thttp://localhost:8123/users/ai" in listed
    assert not (site.parent / "secrets" / "bob.pem").exists()  # the key is in its row
    ((pem,),) = query(
        database(site),
        "SELECT private_key_pem FROM accounts JOIN actors ON actors.id = accounts.actor_id"
        " WHERE username = 'bob'",
    )
    assert str(pem).startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize("again", ["bob", "BOB"])
def test_user_add_twice_is_a_clear_error(site: Path, again: str) -> None:
    ok(run(site, "user", "add", "bob"))
    result = run(site, "user", "add", again)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: the account {again!r} already exists"
    listed = ok(run(site, "user", "list")).splitlines()
    assert [line for line in listed if line.startswith("bob\t")] == [
        "bob\tuser\thttp://localhost:8123/users/bob"
    ]


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("admin", "reserved"),
        ("inbox", "reserved"),
        ("users", "reserved"),
        ("ai", "already exists"),
        ("localhost", "already exists"),
        ("bad name", "usernames are"),
        ("bob-", "usernames are"),
        (".bob", "usernames are"),
        ("bob!", "usernames are"),
        ("b" * 31, "usernames are"),
    ],
)
def test_reserved_and_invalid_usernames_are_refused(
    site: Path, username: str, message: str
) -> None:
    result = run(site, "user", "add", username)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    accounts = query(database(site), "SELECT COUNT(*) FROM accounts")
    assert accounts == [(2,)]


# --- post -------------------------------------------------------------------------------------


def test_post_prints_the_note_url(site: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    url = ok(run(site, "post", "--as", "bob", "hello #tag")).strip()
    assert NOTE_URL.match(url), url
    [(source, content, visibility)] = query(
        database(site), "SELECT source, content, visibility FROM notes WHERE uri = ?", (url,)
    )
    assert (source, visibility) == ("hello #tag", "public")
    assert 'href="http://localhost:8123/tags/tag"' in content
    assert query(database(site), "SELECT name FROM note_hashtags") == [("tag",)]
    # No followers, no deliveries; the safety net under every post was not needed, and the
    # public post's For-you embedding waits for a worker.
    assert sorted(query(database(site), "SELECT kind, state FROM jobs")) == [
        ("embed_note", "pending"),
        ("federate", "done"),
    ]


@pytest.mark.parametrize("who", ["nobody", "localhost"])
def test_post_as_someone_without_an_account_fails(site: Path, who: str) -> None:
    result = run(site, "post", "--as", who, "hello")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: no local account {who!r} (see `user list`)"
    assert query(database(site), "SELECT COUNT(*) FROM notes") == [(0,)]


def test_post_with_an_image_strips_its_metadata(site: Path, tmp_path: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    image = Image.new("RGB", (64, 48), (255, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "taken at my-secret-home")
    png = tmp_path / "img.png"
    image.save(png, format="PNG", pnginfo=text, exif=exif)
    assert b"my-secret-home" in png.read_bytes() and b"SecretCam" in png.read_bytes()

    url = ok(
        run(site, "post", "--as", "bob", "look", "--attach", str(png), "--alt", "a red square")
    )
    assert NOTE_URL.match(url.strip())
    [(file_name, media_type, width, height, description, media_url)] = query(
        database(site),
        "SELECT m.file_name, m.media_type, m.width, m.height, m.description, m.url"
        " FROM media m JOIN notes n ON n.id = m.note_id WHERE n.uri = ?",
        (url.strip(),),
    )
    assert (width, height, description) == (64, 48, "a red square")
    assert media_url == f"http://localhost:8123/media/{file_name}"
    saved = site.parent / "data" / "media" / str(file_name)
    data = saved.read_bytes()
    assert b"my-secret-home" not in data and b"SecretCam" not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert Image.MIME[str(stored.format)] == media_type
        assert stored.size == (64, 48)
        assert "Comment" not in stored.info and "exif" not in stored.info
        assert not stored.getexif()
        assert stored.convert("RGB").getpixel((10, 10)) == (255, 0, 0)


def test_post_with_an_unreadable_attachment_fails_cleanly(site: Path, tmp_path: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not an image at all")
    result = run(site, "post", "--as", "bob", "x", "--attach", str(fake))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    missing = run(site, "post", "--as", "bob", "x", "--attach", str(tmp_path / "nope.png"))
    assert missing.returncode == 1 and "nope.png" in missing.stderr


# --- jobs and the config environment variable -------------------------------------------------


async def test_jobs_lists_kinds_states_errors_and_next_retries(site: Path) -> None:
    soon = time.time() + 600
    async with open_store(database(site)) as db:
        await jobs.enqueue(db, "deliver", {"inbox": "https://a.example/inbox"}, now=1.0)
        await jobs.enqueue(db, "deliver", {"inbox": "https://b.example/inbox"}, now=2.0)
        await jobs.enqueue(db, "inbox", {"uri": "https://c.example/1"}, now=3.0)
        job = await jobs.claim(db, now=10.0, lease_seconds=60)
        assert job is not None
        await jobs.fail(db, job.id, error="HTTP 500 from a.example", now=11.0)
        retry = await jobs.claim(db, now=12.0, lease_seconds=60)
        assert retry is not None
        await jobs.reschedule(db, retry.id, run_after=soon, error="HTTP 503 from b", now=13.0)

    out = ok(run(site, "jobs")).splitlines()
    assert out[0].split() == ["KIND", "PENDING", "RUNNING", "DONE", "FAILED", "NEXT", "RUN"]
    deliver = next(line for line in out if line.startswith("deliver "))
    assert deliver.split()[1:5] == ["1", "0", "0", "1"]
    assert "(in 10 min)" in deliver  # the deliver kind's next run is the retry
    assert next(line for line in out if line.startswith("inbox ")).split()[1:5] == [
        "1", "0", "0", "0"
    ]  # fmt: skip
    assert "last error per kind:" in out
    assert any(line.startswith("  deliver at ") and "HTTP 503 from b" in line for line in out)
    retry_line = f"  #{retry.id} deliver after 1 attempt(s), next "
    assert any(line.startswith(retry_line) and "HTTP 503 from b" in line for line in out)
    failed = f"  #{job.id} deliver after 1 attempt(s): HTTP 500 from a.example"
    assert failed in out
    out = ok(run(site, "jobs", "--retry-failed")).splitlines()
    assert out[0] == "requeued 1 failed jobs"
    assert next(line for line in out if line.startswith("deliver ")).split()[1:5] == [
        "2", "0", "0", "0"
    ]  # fmt: skip


def test_jobs_on_an_empty_queue(site: Path) -> None:
    assert ok(run(site, "jobs")) == "the queue is empty\n"


def test_config_from_the_environment(site: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {CONFIG_ENV: str(site)}
    assert ok(cli("check-config", config=None, cwd=elsewhere, env=env)).startswith(f"{site}: OK")
    ok(cli("user", "add", "carol", config=None, cwd=elsewhere, env=env))
    assert "carol\tuser" in ok(run(site, "user", "list"))
    assert not (elsewhere / "data").exists()


def test_an_explicit_config_wins_over_the_environment(site: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[server]\nlisten_port = 0\n", encoding="utf-8")
    result = cli("check-config", config=site, cwd=tmp_path, env={CONFIG_ENV: str(broken)})
    assert ok(result).startswith(f"{site}: OK")


def test_without_any_config_it_looks_in_the_current_directory(tmp_path: Path) -> None:
    result = cli("check-config", config=None, cwd=tmp_path)
    assert result.returncode == 1
    assert "config.toml: file not found" in result.stderr
