"""Local custom emoji (issue 13 item 7): added by an admin, carried by our posts, listed to apps.

Given our server with a remote follower of bob, when an admin adds ``:blobcat:`` with the real
``fediverse-ai emoji`` command (and another through the /admin form), then apps list them at
``/api/v1/custom_emojis``, their pictures and AS2 objects are served by us, a post by bob that
writes ``:blobcat:`` reaches the follower with the ``Emoji`` tag Mastodon expects (and none
for a shortcode we do not have), our pages draw it, and ``emoji remove`` takes it away.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import pytest
from client_api.support import user_token
from PIL import Image
from support.live import LiveServer
from support.remote import RemoteFediverse
from test_cli import cli, ok
from web.remote_shapes import card_of, parse_page
from web.support import Browserish, make_user

from fediverse_ai.federation.publish import publish_note
from fediverse_ai.models import Draft
from fediverse_ai.storage import actors


def picture(kind: str, size: tuple[int, int] = (96, 96)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA" if kind != "JPEG" else "RGB", size, (30, 90, 200)).save(out, kind)
    return out.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def emoji_cli(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    config = live.config.path
    assert config is not None
    return cli("emoji", *args, config=config, cwd=config.parent)


@pytest.mark.parametrize("live", ["local", "s3"], indirect=True)
async def test_admin_emoji_are_listed_served_and_federated(
    live: LiveServer, remote: RemoteFediverse, tmp_path: Path
) -> None:
    (tmp_path / "blobcat.png").write_bytes(picture("PNG", (300, 300)))
    (tmp_path / "evil.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    added = ok(
        emoji_cli(live, "add", "blobcat", str(tmp_path / "blobcat.png"), "--category", "Cats")
    )
    assert added.startswith(":blobcat: 256x256 ")
    refused = emoji_cli(live, "add", "evil", str(tmp_path / "evil.svg"))
    assert refused.returncode == 1 and "PNG, GIF or WebP" in refused.stderr
    again = emoji_cli(live, "add", "BlobCat", str(tmp_path / "blobcat.png"))
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = emoji_cli(live, "add", "no-dash", str(tmp_path / "blobcat.png"))
    assert bad.returncode == 1 and "shortcode" in bad.stderr

    async with httpx.AsyncClient(base_url=live.base_url) as http:
        [listed] = (await http.get("/api/v1/custom_emojis")).json()
        assert listed["shortcode"] == "blobcat" and listed["category"] == "Cats"
        assert listed["visible_in_picker"] is True
        assert listed["url"].startswith(f"{live.base_url}/media/emoji/")
        served = await http.get(listed["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(served.content)).size == (256, 256)
        assert (await http.get("/media/emoji/" + "0" * 32 + ".png")).status_code == 404
    emoji_doc = (await live.get_as2(f"{live.base_url}/emojis/blobcat")).json()
    assert emoji_doc["type"] == "Emoji" and emoji_doc["name"] == ":blobcat:"
    assert emoji_doc["icon"] == {"type": "Image", "mediaType": "image/png", "url": listed["url"]}
    assert (await live.get_as2(f"{live.base_url}/emojis/nope")).status_code == 404

    bob = await live.account("bob")
    follow = remote.activity("alice", "Follow", bob.actor.uri)
    assert (await remote.send(live.inbox("bob"), follow)).status_code == 202
    await live.drain()
    remote.received.clear()
    note = await publish_note(
        live.state, bob, Draft(text="hello :blobcat: and :nope:", visibility="public")
    )
    await live.drain()
    [create] = remote.posts(type="Create")
    assert create.verified and create.activity is not None
    sent = create.activity["object"]
    [tag] = [t for t in sent["tag"] if t["type"] == "Emoji"]
    assert tag == {
        "id": f"{live.base_url}/emojis/blobcat",
        "type": "Emoji",
        "name": ":blobcat:",
        "updated": emoji_doc["updated"],
        "icon": {"type": "Image", "mediaType": "image/png", "url": listed["url"]},
    }
    assert "Emoji" in str(create.activity["@context"])

    async with Browserish(live.base_url) as web:
        assert note.url is not None
        card = card_of((await web.get(note.url)).text, note.id)
        [img] = card.iter("img", "emoji")
        assert img.attrs["src"] == listed["url"].removeprefix(live.base_url)
        assert ":nope:" in card.text()

    # A local profile that writes it carries it too: the actor's tag, the page, the API.
    await actors.update_local_profile(
        live.state.db, bob.actor.id, display_name="Bob :blobcat:", summary="<p>hi</p>",
        manually_approves=False, now=live.state.now(),
    )  # fmt: skip
    actor_doc = (await live.get_as2(bob.actor.uri)).json()
    assert [t["name"] for t in actor_doc["tag"]] == [":blobcat:"]
    async with Browserish(live.base_url) as web:
        name = parse_page((await web.get("/@bob")).text).iter("h1")[0]
        assert [i.attrs["alt"] for i in name.iter("img", "emoji")] == [":blobcat:"]
        account = (await web.get(f"/api/v1/accounts/{bob.actor.id}")).json()
        assert [e["shortcode"] for e in account["emojis"]] == ["blobcat"]

    ok(emoji_cli(live, "remove", "blobcat"))
    assert ok(emoji_cli(live, "list")) == ""
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        assert (await http.get(listed["url"])).status_code == 404
        assert (await http.get("/api/v1/custom_emojis")).json() == []


async def test_the_admin_form_adds_and_removes_emoji(live: LiveServer) -> None:
    await make_user(live, "root", admin=True)
    async with Browserish(live.base_url) as web:
        assert (await web.login("root")).status_code in (302, 303)
        files = {"image": ("party.gif", picture("GIF"), "image/gif")}
        added = await web.submit("/admin", "/admin/emoji", {"shortcode": ":party:"}, files)
        assert added.status_code == 303
        page = (await web.get("/admin")).text
        assert "<code>:party:</code>" in page
        svg = {"image": ("x.svg", b"<svg/>", "image/svg+xml")}
        refused = await web.submit("/admin", "/admin/emoji", {"shortcode": "x"}, svg)
        assert refused.status_code == 400 and "PNG, GIF or WebP" in refused.text
        removed = await web.submit("/admin", "/admin/emoji/remove", {"shortcode": "party"})
        assert removed.status_code == 303
        assert "<code>:party:</code>" not in (await web.get("/admin")).text
    assert ok(emoji_cli(live, "list")) == ""


async def test_statuses_posted_through_the_client_api_carry_local_emoji(
    live: LiveServer, tmp_path: Path
) -> None:
    (tmp_path / "wave.webp").write_bytes(picture("WEBP"))
    ok(emoji_cli(live, "add", "wave", str(tmp_path / "wave.webp")))
    _, token = await user_token(live, "carol")
    async with httpx.AsyncClient(base_url=live.base_url, headers=bearer(token)) as http:
        posted = await http.post("/api/v1/statuses", data={"status": "bye :wave:"})
        assert posted.status_code == 200, posted.text
        [drawn] = posted.json()["emojis"]
        assert drawn["shortcode"] == "wave" and drawn["url"].startswith(live.base_url)
        account = (await http.get("/api/v1/accounts/verify_credentials")).json()
        assert account["emojis"] == []
