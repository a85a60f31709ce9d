"""Reporting in Chromium: alice opens a remote post, follows its "Report" link, writes why and
sends it forwarded; the remote server receives the Flag; the admin sees the report with the
post on /admin and suspends the account. Every control on the pages is labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from support.remote import PUBLIC, remote_server
from web.support import make_user

from fediverse_ai.storage import moderation, notes

from .test_browser import _by, accessibility_problems, click_and_wait, sign_in, step


async def test_report_a_post_and_suspend_its_author(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        await make_user(server, "alice")
        await make_user(server, "root", admin=True)
        note = remote.note("bob", "<p>miracle pills, click here</p>", to=[PUBLIC])
        await remote.send(server.shared_inbox, remote.activity("bob", "Create", note))
        await server.drain()
        stored = await notes.by_uri(server.state.db, note["id"])
        assert stored is not None
        base = server.base_url

        def report() -> None:
            sign_in(driver, base, "alice")
            driver.get(f"{base}/notes/{stored.id}")
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "a.report"))
            assert accessibility_problems(driver) == []
            assert "miracle pills" in driver.find_element(by.TAG_NAME, "main").text
            forward = driver.find_element(by.CSS_SELECTOR, "input[name='forward']")
            assert forward.is_selected()  # forwarding is the default, as in Mastodon
            driver.find_element(by.ID, "comment").send_keys("spam with a link to pills")
            driver.save_screenshot(str(screenshots / "report-01-form.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "#report-form button"))
            sent = driver.find_element(by.ID, "report-sent").text
            assert "without your name" in sent
            assert not driver.find_elements(by.ID, "report-form")

        await step(report)
        await server.drain()
        (flag,) = remote.posts(type="Flag")
        assert flag.verified and flag.activity is not None
        assert flag.activity["content"] == "spam with a link to pills"

        def suspend() -> None:
            sign_in(driver, base, "root")
            driver.get(f"{base}/admin#reports")
            assert accessibility_problems(driver) == []
            section = driver.find_element(by.ID, "reports").text
            assert "spam with a link to pills" in section and "miracle pills" in section
            driver.save_screenshot(str(screenshots / "report-02-admin.png"))
            button = driver.find_element(
                by.CSS_SELECTOR, f"form[action='/admin/accounts/{stored.actor_id}/suspend'] button"
            )
            click_and_wait(driver, button)
            assert "suspended" in driver.find_element(by.ID, "moderated").text

        await step(suspend)
        assert await moderation.is_suspended(server.state.db, stored.actor_id)
