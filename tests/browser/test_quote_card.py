"""A quote in a real browser (issue 13 item 5): the confirmed quote nested, one level deep.

Given a peer's post quoting another with a stamp from the quoted server, and a second one
without, when Chromium opens both pages, then the first shows the quoted post as a visible
nested card inside the quoting card (Mastodon's "RE:" fallback line hidden) and the second
only a link with the "not confirmed" mark; the browser asks the peer for nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from support.remote import PUBLIC, remote_server
from test_quotes_in import stamp

from fediverse_ai.storage import notes

from .test_browser import _by, step

QUOTED = "Crows remember the faces of people who were kind to them."


async def test_a_confirmed_quote_is_a_nested_card_and_an_unconfirmed_one_a_link(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        target = remote.note("bob", f"<p>{QUOTED}</p>", to=[PUBLIC])
        quoting_id = f"{remote.actor_uri('alice')}/statuses/quoting"
        granted = stamp(remote, quoting_id, target["id"])
        fallback = f'<p class="quote-inline">RE: <a href="{target["id"]}">{target["id"]}</a></p>'
        confirmed = remote.note(
            "alice", f"<p>Is this so?</p>{fallback}", note_id=quoting_id,
            quote=target["id"], quoteAuthorization=granted["id"],
        )  # fmt: skip
        unconfirmed = remote.note("alice", "<p>and this?</p>", quoteUrl=target["id"])
        for note in (confirmed, unconfirmed):
            response = await remote.send(
                server.shared_inbox, remote.activity("alice", "Create", note)
            )
            assert response.status_code == 202
        await server.drain()
        pages = {}
        for note in (confirmed, unconfirmed):
            stored = await notes.by_uri(server.state.db, str(note["id"]))
            assert stored is not None
            pages[note["id"]] = f"{server.base_url}/notes/{stored.id}"
        fetched_before = len(remote.fetched)

        def nested() -> dict[str, Any]:
            driver.get(pages[confirmed["id"]])
            card = driver.find_element(by.CSS_SELECTOR, "article.has-quote")
            inner = card.find_element(by.CSS_SELECTOR, "blockquote.quote-card")
            driver.save_screenshot(str(screenshots / "40-quote-nested.png"))
            fallback_line = card.find_element(by.CSS_SELECTOR, ".content .quote-inline")
            return {
                "inner": inner.is_displayed() and QUOTED in inner.text,
                "fallback_shown": fallback_line.is_displayed(),
                "depth": len(driver.find_elements(by.CSS_SELECTOR, ".quote-card .quote-card")),
            }

        def linked() -> dict[str, Any]:
            driver.get(pages[unconfirmed["id"]])
            link = driver.find_element(by.CSS_SELECTOR, "p.quote-link")
            driver.save_screenshot(str(screenshots / "41-quote-unconfirmed.png"))
            return {
                "text": link.text,
                "nested": len(driver.find_elements(by.CSS_SELECTOR, "blockquote.quote-card")),
                "quoted_shown": QUOTED in driver.find_element(by.TAG_NAME, "main").text,
            }

        first = await step(nested)
        second = await step(linked)
        assert remote.fetched[fetched_before:] == []

    assert first == {"inner": True, "fallback_shown": False, "depth": 0}
    assert "Quote not confirmed by the author" in second["text"]
    assert second["nested"] == 0 and not second["quoted_shown"]
