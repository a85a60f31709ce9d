"""The media store (issue 15 item 4): the media directory or an S3-compatible bucket.

The S3 side is moto's S3 server on loopback (``tests/support/s3.py``), a real HTTP server that
boto3 talks to as to any bucket. Given either store, the same contract holds; given our
server on a bucket, a picture the AI draws is written there (not to the media directory) and
served by us, or by the bucket with ``public_base_url``; ``media copy`` moves files both ways,
resumably, with checksums that match.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from support.live import live_server
from support.remote import remote_server
from support.s3 import (
    admin_client,
    allow_public_reads,
    new_bucket,
    store_config,
    store_toml,
)

from fediverse_ai import media_cache
from fediverse_ai.config import parse_config
from fediverse_ai.errors import ConfigError
from fediverse_ai.federation.publish import publish_note
from fediverse_ai.media_copy import copy_media
from fediverse_ai.media_store import LocalStore, MediaStore, MediaStoreError, S3Store
from fediverse_ai.models import Draft, NewAttachment
from fediverse_ai.storage import media


def png(colour: tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MediaStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "media")
    else:
        yield new_bucket(request.getfixturevalue("s3_endpoint"))


def test_the_contract_holds_on_both_stores(store: MediaStore) -> None:
    picture = png((200, 30, 30))
    assert store.get("a.png") is None and store.size("a.png") is None
    assert not store.exists("a.png") and store.md5("a.png") is None
    store.put("a.png", picture)
    store.put("cache/b_t.jpg", b"0123456789")
    store.put("emoji/c.png", b"emoji")
    assert store.get("a.png") == picture and store.exists("a.png")
    assert store.size("cache/b_t.jpg") == 10
    assert store.get_range("cache/b_t.jpg", 2, 5) == b"234"
    assert store.get_range("cache/b_t.jpg", 8, 10) == b"89"
    assert store.md5("a.png") == hashlib.md5(picture).hexdigest()
    assert sorted((f.key, f.size) for f in store.list()) == [
        ("a.png", len(picture)),
        ("cache/b_t.jpg", 10),
        ("emoji/c.png", 5),
    ]
    assert [f.key for f in store.list("cache/")] == ["cache/b_t.jpg"]
    store.put("a.png", b"replaced")  # a second write replaces the file whole
    assert store.get("a.png") == b"replaced"
    store.delete(["a.png", "never-there.png"])  # a missing file is no error
    assert not store.exists("a.png") and store.exists("emoji/c.png")
    assert store.public_url("emoji/c.png") is None  # served through us


@pytest.mark.parametrize("key", ["../x.png", "a/../../x", ".a.png.part", "/abs.png", "a//b", ""])
def test_keys_that_could_leave_the_store_are_refused(store: MediaStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, b"x")
    with pytest.raises(ValueError):
        store.get(key)


def test_local_writes_are_atomic_and_keep_todays_paths(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    store.put("cache/abc.jpg", b"jpeg")
    store.put("emoji/def.png", b"png")
    store.put("ghi.png", b"ours")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    # The same layout as before the store existed, and no partial file left beside them.
    assert found == ["media/cache/abc.jpg", "media/emoji/def.png", "media/ghi.png"]
    (tmp_path / "media" / ".ghi.png.1234.part").write_bytes(b"half")
    assert sorted(f.key for f in store.list()) == ["cache/abc.jpg", "emoji/def.png", "ghi.png"]


def test_a_bucket_that_cannot_be_reached_is_a_store_error() -> None:
    # A closed port on loopback: the admin's endpoint is down.
    unreachable = S3Store(store_config("http://127.0.0.1:9", "some-bucket"))
    with pytest.raises(MediaStoreError) as raised:
        unreachable.get("a.png")
    assert raised.value.status == 503 and "127.0.0.1" not in raised.value.message


def test_media_store_settings_are_checked() -> None:
    raw = {
        "instance": {"domain": "example.test", "scheme": "http"},
        "media_store": {
            "kind": "ftp",
            "endpoint": "minio:9000",
            "bucket": "Bad_Bucket",
            "prefix": "no-slash",
            "public_base_url": "https://cdn.example/",
        },
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, base_dir=Path("/srv"))
    text = str(raised.value)
    for key in ("kind", "endpoint", "bucket", "prefix", "public_base_url"):
        assert f"media_store.{key}:" in text
    with pytest.raises(ConfigError, match=r"media_store\.bucket: required"):
        parse_config({**raw, "media_store": {"kind": "s3"}}, base_dir=Path("/srv"))


def test_media_copy_goes_both_ways_resumably(tmp_path: Path, s3_endpoint: str) -> None:
    local = LocalStore(tmp_path / "media")
    files = {f"{i:02d}.png": png((i * 8, 100, 200)) for i in range(12)}
    files |= {"cache/0123_t.jpg": b"thumb", "emoji/cafe.png": png((1, 2, 3))}
    for key, data in files.items():
        local.put(key, data)
    bucket = new_bucket(s3_endpoint)
    bucket.put("00.png", files["00.png"])  # copied by a run that was stopped
    bucket.put("01.png", b"torn upload")  # and one that differs: sent again

    first = copy_media(local, bucket, workers=4)
    assert (first.listed, first.copied, first.present, first.failed) == (14, 13, 1, 0)
    assert first.ok and first.source_checksum == first.target_checksum
    assert {k: bucket.get(k) for k in files} == files
    again = copy_media(local, bucket)  # idempotent: nothing left to send
    assert (again.copied, again.present) == (0, 14) and again.ok

    back = LocalStore(tmp_path / "restored")
    home = copy_media(bucket, back)
    assert (home.copied, home.failed) == (14, 0) and home.ok
    assert home.target_checksum == first.source_checksum
    assert {k: back.get(k) for k in files} == files


def test_the_media_copy_command_reports_counts_and_checksums(
    tmp_path: Path, s3_endpoint: str
) -> None:
    (tmp_path / "data" / "media").mkdir(parents=True)
    (tmp_path / "data" / "media" / "aa.png").write_bytes(png((9, 9, 9)))
    config = tmp_path / "config.toml"
    bucket = S3Store(store_config(s3_endpoint, "copy-command-test"))
    config.write_text(
        '[instance]\ndomain = "127.0.0.1:8000"\nscheme = "http"\n'
        + store_toml(bucket, s3_endpoint).replace('kind = "s3"', 'kind = "local"')
    )

    def media_copy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fediverse_ai", "--config", str(config), "media", "copy", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = media_copy("--to", "s3", "--create-bucket")
    assert done.returncode == 0, done.stderr
    assert "1 files: 1 copied" in done.stdout and ": match" in done.stdout
    assert 'now set media_store.kind = "s3"' in done.stdout
    assert bucket.get("aa.png") == png((9, 9, 9))
    rerun = media_copy("--to", "s3")
    assert "0 copied" in rerun.stdout and "1 already there" in rerun.stdout
    # And back: a media directory that lost the file gets it again from the bucket.
    (tmp_path / "data" / "media" / "aa.png").unlink()
    back = media_copy("--to", "local")
    assert back.returncode == 0 and "1 copied" in back.stdout and ": match" in back.stdout
    assert (tmp_path / "data" / "media" / "aa.png").read_bytes() == png((9, 9, 9))


AI_TOML = """
[ai.text]
backend = "openai"
base_url = "http://127.0.0.1:9/v1"

[ai.image]
backend = "procedural"
width = 128
height = 96

[ai.moderation]
enabled = false
"""


@pytest.mark.parametrize("public", [False, True], ids=["through-us", "public-base-url"])
async def test_a_picture_the_ai_draws_lives_in_the_bucket_and_is_served(
    tmp_path: Path, s3_endpoint: str, public: bool
) -> None:
    bucket = new_bucket(s3_endpoint)
    # moto serves the bucket path-style at its endpoint: the address browsers would be sent to.
    base = f"{s3_endpoint}/{bucket.bucket}" if public else ""
    if public:
        allow_public_reads(s3_endpoint, bucket.bucket)
    toml = AI_TOML + store_toml(bucket, s3_endpoint, public_base_url=base)
    async with (
        remote_server(("alice",)) as remote,
        live_server(tmp_path / "ours", extra_toml=toml) as ours,
    ):
        host = ours.config.instance.host
        note, activity = remote.mention("alice", ours.ai.actor, f"@ai@{host}", "draw a lighthouse")
        assert (await remote.send(ours.shared_inbox, activity)).status_code == 202
        await ours.drain()
        (reply,) = [
            p.activity["object"]
            for p in remote.posts(type="Create")
            if p.activity and p.activity["object"].get("inReplyTo") == note["id"]
        ]
        (attachment,) = reply["attachment"]
        name = attachment["url"].rsplit("/", 1)[1]
        # The file is in the bucket, and nothing was written to the media directory.
        assert bucket.exists(name)
        assert not [p for p in ours.config.storage.media_dir.rglob("*") if p.is_file()]
        async with httpx.AsyncClient() as http:
            served = await http.get(attachment["url"])
            if public:
                assert served.status_code == 302
                assert served.headers["location"] == f"{base}/{name}"
                served = await http.get(served.headers["location"])
                assert served.headers["content-type"] == attachment["mediaType"]
            else:
                assert served.status_code == 200
                assert served.headers["content-type"] == attachment["mediaType"]
                assert served.headers["x-content-type-options"] == "nosniff"
                assert "immutable" in served.headers["cache-control"]
        assert served.status_code == 200
        assert Image.open(io.BytesIO(served.content)).size == (128, 96)
        assert served.content == bucket.get(name)


async def test_a_bucket_that_went_away_is_a_503_not_a_500(tmp_path: Path, s3_endpoint: str) -> None:
    bucket = new_bucket(s3_endpoint)
    async with live_server(tmp_path / "ours", extra_toml=store_toml(bucket, s3_endpoint)) as ours:
        avatar = str(ours.ai.actor.icon_url)
        async with httpx.AsyncClient() as http:
            assert (await http.get(avatar)).status_code == 200
            # Given the bucket deleted under the running server (an admin's mistake)
            bucket.delete([f.key for f in bucket.list()])
            admin_client(s3_endpoint).delete_bucket(Bucket=bucket.bucket)
            # Then its files are unavailable, said safely, and the pages still answer
            failed = await http.get(avatar)
            assert failed.status_code == 503
            assert "NoSuchBucket" not in failed.text and s3_endpoint not in failed.text
            assert (await http.get(f"{ours.base_url}/cache/{'0' * 32}.jpg")).status_code == 404
            assert (await http.get(f"{ours.base_url}/about")).status_code == 200


async def test_a_backup_holds_the_buckets_files_and_restores_them(
    tmp_path: Path, s3_endpoint: str
) -> None:
    bucket = new_bucket(s3_endpoint)
    # SQLite even on a PostgreSQL run: `backup` archives the SQLite file (test_backup checks
    # that it refuses a PostgreSQL store).
    database = tmp_path / "ours" / "data" / "fediverse-ai.sqlite3"
    extra = store_toml(bucket, s3_endpoint)
    async with live_server(tmp_path / "ours", extra_toml=extra, database=database) as live:
        picture = png((250, 200, 10), (64, 64))
        draft = Draft(
            text="a yellow square",
            attachments=(NewAttachment(picture, "image/png", "png", 64, 64, "", "yellow"),),
        )
        note = await publish_note(live.state, live.ai, draft)
        (attached,) = await media.for_note(live.state.db, note.id)
        bucket.put(media_cache.cache_key("0" * 32 + ".jpg"), b"remote bytes")
        assert live.config.path is not None
        config = live.config.path
    archive = tmp_path / "site.tar.gz"

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "fediverse_ai", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("--config", str(config), "backup", "--output", str(archive))
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert f"data/media/{attached.file_name}" in names
    assert not any(n.startswith("data/media/cache/") for n in names)  # no --with-cache
    assert {n for n in names if n.startswith("data/media/")} == {
        f"data/media/{f.key}" for f in bucket.list() if not f.key.startswith("cache/")
    }
    out = cli("restore", str(archive), "--into", str(tmp_path / "restored"))
    assert "media copy --to s3" in out
    restored = tmp_path / "restored" / "data" / "media" / str(attached.file_name)
    assert restored.read_bytes() == bucket.get(str(attached.file_name))


def test_a_prefix_keeps_two_instances_apart_in_one_bucket(s3_endpoint: str) -> None:
    shared = new_bucket(s3_endpoint)
    one, two = (
        S3Store(dataclasses.replace(store_config(s3_endpoint, shared.bucket), prefix=p))
        for p in ("one/", "two/media/")
    )
    one.put("a.png", b"first")
    two.put("a.png", b"second")
    assert (one.get("a.png"), two.get("a.png")) == (b"first", b"second")
    assert [f.key for f in one.list()] == ["a.png"]  # keys without the prefix
    assert sorted(f.key for f in shared.list()) == ["one/a.png", "two/media/a.png"]
    one.delete(["a.png"])
    assert two.exists("a.png") and not one.exists("a.png")
