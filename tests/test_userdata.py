"""People's data (issue 16 item 4): the archive and its re-import, and deleting an account.

Given a user with posts (text, a picture with alt text, followers-only) and a like, when they
ask for their archive on /settings/export and the worker builds it, then the zip has
Mastodon's layout, and ``fediverse-ai user import`` recreates every post and picture (same
bytes) in a fresh instance, without sending anything, once however often it runs.

Given a user followed from another server, when they delete their account with their
password, then they cannot sign in, their actor answers 410 with a Tombstone, their posts are
gone, the follower's server receives a signed ``Delete`` of the actor, and (grace 0) the purge
removes the actor, its key and its files. Real HTTP on loopback, real SQLite, the real worker.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import httpx
from ai.test_ai_edits import two_halves
from PIL import Image
from support.live import LiveServer, live_server
from support.remote import AS2_TYPE, PUBLIC, RemoteFediverse
from test_cli import cli, ok
from web.support import PASSWORD, Browserish, make_user
from web.test_pages import attachment, png

from fediverse_ai.federation import interactions, publish
from fediverse_ai.models import Draft
from fediverse_ai.userdata.importer import status_id_for

GRACE_0 = "\n[accounts]\ndeletion_grace_days = 0\n"


async def rosa_posts(live: LiveServer) -> list[str]:
    rosa = await live.account("rosa")
    drafts = [
        Draft(text="My first post #gardening"),
        Draft(text="Tomatoes today", attachments=(attachment((200, 30, 30), "red tomatoes"),)),
        Draft(text="For my followers only", visibility="followers", summary="garden talk"),
    ]
    made = [(await publish.publish_note(live.state, rosa, d)).uri for d in drafts]
    other = await publish.publish_note(live.state, await live.account("sam"), Draft(text="hi"))
    await interactions.like(live.state, rosa, other.uri)
    await live.drain()
    return [*made, other.uri]


async def pictures_of(live: LiveServer, username: str) -> list[tuple[str, str]]:
    rows = await live.state.db.fetchall(
        "SELECT m.file_name, m.description FROM media m JOIN notes n ON n.id = m.note_id"
        " JOIN actors a ON a.id = n.actor_id WHERE a.username = ? AND a.local = 1"
        " ORDER BY n.published_text, n.id",
        (username,),
    )
    kept = [(live.state.media.get(r[0]), r[1]) for r in rows]
    return [(hashlib.sha256(data or b"").hexdigest(), alt) for data, alt in kept]


async def posts_of(live: LiveServer, username: str) -> list[tuple[object, ...]]:
    rows = await live.state.db.fetchall(
        # The archive dates posts to the second, as ActivityPub does.
        "SELECT n.source, n.summary, n.visibility, n.published_text FROM notes n"
        " JOIN actors a ON a.id = n.actor_id WHERE a.username = ? AND a.local = 1"
        " ORDER BY n.published_text, n.id",
        (username,),
    )
    return [tuple(r) for r in rows]


async def test_the_archive_reimports_with_every_post_and_picture(
    tmp_path: Path, both_stores: str
) -> None:
    async with live_server(tmp_path / "a", extra_toml=both_stores) as a:
        await make_user(a, "rosa")
        uris = await rosa_posts(a)
        async with Browserish(a.base_url) as browser:
            await browser.login("rosa")
            asked = await browser.submit("/settings/export", "/settings/export")
            assert asked.status_code == 303
            assert "Being built" in (await browser.get("/settings/export")).text
            await a.drain()
            page = (await browser.get("/settings/export")).text
            link = page.split('href="/settings/export/', 1)[1].split('"', 1)[0]
            download = await browser.get(f"/settings/export/{link}")
            assert download.status_code == 200
            assert download.headers["content-type"] == "application/zip"
            archive_bytes = download.content
            assert download.headers["cache-control"] == "private, no-store"
            # A new archive replaces the old one.
            await browser.submit("/settings/export", "/settings/export")
            await a.drain()
            assert (await browser.get(f"/settings/export/{link}")).status_code == 404
            page = (await browser.get("/settings/export")).text
            assert page.count('href="/settings/export/') == 1 and link not in page
            link = page.split('href="/settings/export/', 1)[1].split('"', 1)[0]
            assert (await browser.get(f"/settings/export/{link}")).status_code == 200
        async with Browserish(a.base_url) as stranger:  # nobody else may fetch it
            await make_user(a, "sam")
            await stranger.login("sam")
            assert (await stranger.get(f"/settings/export/{link}")).status_code == 404
        expected_posts = await posts_of(a, "rosa")
        expected_pictures = await pictures_of(a, "rosa")

    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        names = set(archive.namelist())
        actor = json.loads(archive.read("actor.json"))
        outbox = json.loads(archive.read("outbox.json"))
        likes = json.loads(archive.read("likes.json"))
        bookmarks = json.loads(archive.read("bookmarks.json"))
        assert actor["outbox"] == "outbox.json" and actor["icon"]["url"] in names
        assert actor["image"]["url"] in names
        assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] == 3
        assert [i["type"] for i in outbox["orderedItems"]] == ["Create"] * 3
        assert [i["object"]["id"] for i in outbox["orderedItems"]] == uris[:3]
        (picture,) = [a for i in outbox["orderedItems"] for a in i["object"]["attachment"]]
        assert picture["url"].startswith("media_attachments/files/") and picture["url"] in names
        assert picture["name"] == "red tomatoes"
        assert likes["orderedItems"] == [uris[3]] and likes["totalItems"] == 1
        assert bookmarks == {**bookmarks, "type": "OrderedCollection", "orderedItems": []}
    zipped = tmp_path / "rosa.zip"
    zipped.write_bytes(archive_bytes)

    async with live_server(tmp_path / "b", extra_toml=both_stores) as b:
        await b.account("rosa")
        assert b.config.path is not None
        for run in (1, 2):
            out = ok(cli("user", "import", "rosa", str(zipped), config=b.config.path, cwd=tmp_path))
            assert (f"imported {3 if run == 1 else 0} posts") in out
        assert await posts_of(b, "rosa") == expected_posts
        assert await pictures_of(b, "rosa") == expected_pictures  # the same bytes, the same alt
        deliveries = await b.count("SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'")
        assert deliveries == 0  # an import sends nothing
        async with httpx.AsyncClient() as client:
            page = (await client.get(f"{b.base_url}/@rosa")).text
        assert "Tomatoes today" in page and "For my followers only" not in page


async def test_an_import_refuses_what_is_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.zip"
    with zipfile.ZipFile(bogus, "w") as archive:
        archive.writestr("outbox.json", json.dumps({"orderedItems": "nope"}))
        archive.writestr("actor.json", "{}")
    (tmp_path / "text.zip").write_text("not a zip")
    async with live_server(tmp_path / "b") as b:
        await b.account("rosa")
        assert b.config.path is not None
        for path, problem in ((bogus, "not an OrderedCollection"), (tmp_path / "text.zip", "zip")):
            result = cli("user", "import", "rosa", str(path), config=b.config.path, cwd=tmp_path)
            assert result.returncode != 0 and problem in result.stderr + result.stdout


async def test_deleting_an_account_tells_its_followers_server_and_purges_it(
    tmp_path: Path, remote: RemoteFediverse, both_stores: str
) -> None:
    async with live_server(tmp_path / "ours", extra_toml=GRACE_0 + both_stores) as live:
        await make_user(live, "vic")
        vic = await live.account("vic")
        follow = remote.activity("alice", "Follow", vic.actor.uri)
        assert (await remote.send(live.inbox("vic"), follow)).status_code == 202
        await live.drain()
        note = await publish.publish_note(
            live.state, vic, Draft(text="soon gone", attachments=(attachment((0, 0, 200), "b"),))
        )
        other = await publish.publish_note(live.state, await live.account("sam"), Draft(text="x"))
        await interactions.like(live.state, vic, other.uri)
        await live.drain()
        rows = await live.state.db.fetchall(
            "SELECT file_name FROM media WHERE actor_id = ? AND file_name IS NOT NULL",
            (vic.actor.id,),
        )
        files = [str(r[0]) for r in rows]
        store = live.state.media
        assert len(files) == 3 and all(store.exists(f) for f in files)  # avatar, header, picture
        stream = live.state.streams.subscribe()  # an open client API stream
        async with Browserish(live.base_url) as browser:
            await browser.login("vic")
            wrong = await browser.submit("/settings/delete", "/settings/delete", {"password": "x"})
            assert wrong.status_code == 403 and "Wrong password" in wrong.text
            assert (await live.get_as2(vic.actor.uri)).status_code == 200
            done = await browser.submit(
                "/settings/delete", "/settings/delete", {"password": PASSWORD}
            )
            assert done.status_code == 303
            event = await stream.next(idle_after=5)
            assert event not in (None, "idle") and not isinstance(event, str)
            assert (event.kind, event.note.uri) == ("delete", note.uri)
            stream.close()
            assert (await browser.get("/settings/export")).status_code in (302, 303, 401)
        async with Browserish(live.base_url) as again:
            assert (await again.login("vic")).status_code != 303
        likes = "SELECT COUNT(*) FROM reactions WHERE note_id = ?"
        assert await live.count(likes, (other.id,)) == 0  # their like left sam's count at once
        gone = await live.get_as2(vic.actor.uri)
        assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
        late = remote.activity("alice", "Like", note.uri)
        assert (await remote.send(live.inbox("vic"), late)).status_code == 410
        async with httpx.AsyncClient() as client:
            assert (await client.get(note.uri, headers={"Accept": AS2_TYPE})).status_code in (
                404,
                410,
            )
            finger = await client.get(
                f"{live.base_url}/.well-known/webfinger",
                params={"resource": f"acct:vic@{live.config.instance.host}"},
            )
            assert finger.status_code == 404
            assert (await client.get(f"{live.base_url}/@vic")).status_code == 410
            api = f"{live.base_url}/api/v1/accounts/{vic.actor.id}"
            assert (await client.get(api)).status_code == 404
        await live.drain()
        (delete,) = remote.posts(type="Delete")
        assert delete.verified and delete.signer == vic.actor.uri
        assert delete.activity is not None and delete.activity["object"] == vic.actor.uri
        # Grace 0: purged once the Delete went out (a purge that ran before it looks again an
        # hour later: that hour passes here), the key and the files with it.
        await live.state.db.execute(
            "UPDATE jobs SET run_after = 0 WHERE kind = 'purge_account' AND state = 'pending'"
        )
        await live.drain()
        assert await live.count("SELECT COUNT(*) FROM actors WHERE uri = ?", (vic.actor.uri,)) == 0
        assert not (live.config.storage.keys_dir / "vic.pem").exists()
        assert not [f for f in files if store.exists(f)]
        assert await live.count("SELECT COUNT(*) FROM jobs WHERE state = 'failed'") == 0
        assert (await live.get_as2(vic.actor.uri)).status_code == 404


def mastodon_archive(path: Path, photo: bytes, drawing: bytes) -> None:
    """An archive as Mastodon writes it: its attachment paths, a boost, hostile bits."""
    note = {
        "id": "https://mastodon.example/users/rosa/statuses/1",
        "type": "Note",
        "published": "2023-04-05T06:07:08Z",
        "to": [PUBLIC],
        "cc": ["https://mastodon.example/users/rosa/followers"],
        "content": "<p>Old photo <script>alert(1)</script>#garden</p>",
        "attachment": [
            {"type": "Document", "mediaType": "image/jpeg", "name": "a wall",
             "url": "media_attachments/files/110/000/001/original/wall.jpg"},
            {"type": "Document", "mediaType": "image/png", "name": "a drawing",
             "url": "/media_attachments/files/110/000/002/original/drawing.png"},
            {"type": "Document", "mediaType": "image/png", "url": "../../etc/passwd"},
            {"type": "Video", "mediaType": "video/mp4",
             "url": "media_attachments/files/110/000/003/original/clip.mp4"},
        ],
    }  # fmt: skip
    boost = {"type": "Announce", "id": "https://mastodon.example/b/1", "object": "https://x/1"}
    outbox = {
        "type": "OrderedCollection",
        "orderedItems": [{"type": "Create", "object": note}, boost],
    }
    actor = {"id": "https://mastodon.example/users/rosa", "type": "Person",
             "followers": "https://mastodon.example/users/rosa/followers"}  # fmt: skip
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("outbox.json", json.dumps(outbox))
        archive.writestr("actor.json", json.dumps(actor))
        archive.writestr("media_attachments/files/110/000/001/original/wall.jpg", photo)
        archive.writestr("media_attachments/files/110/000/002/original/drawing.png", drawing)
        archive.writestr("media_attachments/files/110/000/003/original/clip.mp4", b"\0\0\0 ftyp")


async def test_a_mastodon_archive_imports_with_its_pictures_made_safe(tmp_path: Path) -> None:
    photo, drawing = two_halves(), png((10, 200, 10))
    zipped = tmp_path / "mastodon.zip"
    mastodon_archive(zipped, photo, drawing)
    async with live_server(tmp_path / "b") as b:
        await b.account("rosa")
        assert b.config.path is not None
        out = ok(cli("user", "import", "rosa", str(zipped), config=b.config.path, cwd=tmp_path))
        assert "imported 1 posts with 2 pictures (1 skipped" in out
        assert "2 attachments left out" in out  # the path outside the archive, the video
        ((content, visibility, published),) = await b.state.db.fetchall(
            "SELECT content, visibility, published_text FROM notes n JOIN actors a"
            " ON a.id = n.actor_id WHERE a.username = 'rosa'"
        )
        assert "<script" not in content and "Old photo" in content
        assert (visibility, published) == ("public", "2023-04-05T06:07:08Z")
        rows = await b.state.db.fetchall(
            "SELECT file_name, description FROM media WHERE note_id IS NOT NULL ORDER BY position"
        )
        stored = [(b.config.storage.media_dir / r[0]).read_bytes() for r in rows]
        assert [r[1] for r in rows] == ["a wall", "a drawing"]
        assert stored[1] == drawing  # as the pipeline would keep it: kept byte for byte
        assert stored[0] != photo and not Image.open(io.BytesIO(stored[0])).getexif()


async def test_a_deleted_accounts_name_stays_taken_until_the_purge(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as live:
        vic = await live.account("vic")
        assert live.config.path is not None
        out = ok(cli("user", "delete", "vic", "--yes", config=live.config.path, cwd=tmp_path))
        assert "purged after 30 days" in out
        await live.drain()
        assert (await live.get_as2(vic.actor.uri)).status_code == 410
        assert (live.config.storage.keys_dir / "vic.pem").exists()  # it signs the retries
        purge_at = await live.state.db.fetchval(
            "SELECT run_after FROM jobs WHERE kind = 'purge_account' AND state = 'pending'"
        )
        assert purge_at is not None and purge_at > live.state.now() + 29 * 86_400
        again = cli("user", "add", "vic", config=live.config.path, cwd=tmp_path)
        assert again.returncode != 0
        export = cli(
            "user", "export", "vic", "--to", "x.zip", config=live.config.path, cwd=tmp_path
        )
        assert export.returncode != 0 and "was deleted" in export.stderr + export.stdout


def test_imported_posts_of_one_second_keep_distinct_ids() -> None:
    """Archives date posts to the second: the hash part of an imported id must tell a busy
    second's posts apart (16 bits did not, and the import skipped one as already there)."""
    ids = {status_id_for(f"https://mastodon.example/statuses/{i}", 1.7e9) for i in range(5000)}
    assert len(ids) == 5000
    assert int(status_id_for("https://a/1", 1.7e9)) < int(status_id_for("https://a/1", 1.7e9 + 1))


async def test_an_import_reaches_followers_only_when_asked(
    tmp_path: Path, remote: RemoteFediverse
) -> None:
    zipped = tmp_path / "mastodon.zip"
    mastodon_archive(zipped, two_halves(), png((10, 200, 10)))
    async with live_server(tmp_path / "b") as b:
        rosa = await b.account("rosa")
        follow = remote.activity("alice", "Follow", rosa.actor.uri)
        assert (await remote.send(b.inbox("rosa"), follow)).status_code == 202
        await b.drain()
        assert b.config.path is not None
        ok(cli("user", "import", "rosa", str(zipped), config=b.config.path, cwd=tmp_path))
        await b.drain()
        assert remote.posts(type="Create") == []  # not by default
        await b.state.db.execute("DELETE FROM notes")  # as if into another fresh account
        args = ("user", "import", "rosa", str(zipped), "--federate")
        ok(cli(*args, config=b.config.path, cwd=tmp_path))
        await b.drain()
        (create,) = remote.posts(type="Create")
        assert create.verified and create.activity is not None
        assert "Old photo" in create.activity["object"]["content"]
        assert len(create.activity["object"]["attachment"]) == 2


async def test_the_about_page_says_what_the_ai_reads_and_how_to_refuse(tmp_path: Path) -> None:
    async with live_server(tmp_path / "ours") as live, httpx.AsyncClient() as client:
        page = (await client.get(f"{live.base_url}/about")).text
    assert "reads those posts as context" in page and "<code>#noai</code>" in page
    assert 'href="/settings/ai"' in page and 'href="/settings/export"' in page
    assert 'href="/settings/delete"' in page
