"""Moderation assist in Chromium: the admin opens /admin, finds a remote insult among the
flagged posts with its reason, and dismisses it; every control on the page is labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from support.remote import PUBLIC, remote_server
from test_ai_moderation import PROFANE, require
from web.support import make_user
from web.test_moderation_flags import received

from fediverse_ai.ai.moderation import TEXT_INSTALL

from .test_browser import _by, accessibility_problems, click_and_wait, sign_in, step

ASSIST = "\n[ai.moderation]\nassist = true\nsummarise_reports = false\n"


async def test_the_admin_sees_a_flagged_post_and_dismisses_it(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    require("profanity_check", TEXT_INSTALL)
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=ASSIST) as server, remote_server() as peer:
        await make_user(server, "root", admin=True)
        note_id = await received(server, peer, "bob", f"<p>{PROFANE}</p>", to=[PUBLIC])
        base = server.base_url

        def dismiss() -> None:
            sign_in(driver, base, "root")
            driver.get(f"{base}/admin#flags")
            assert accessibility_problems(driver) == []
            flag = driver.find_element(by.ID, f"flag-{note_id}")
            assert "offensive language" in flag.text and "(alt-profanity-check)" in flag.text
            assert "shut the fuck up" in flag.text
            driver.save_screenshot(str(screenshots / "flags-01-admin.png"))
            button = flag.find_element(
                by.CSS_SELECTOR, f"form[action='/admin/flags/{note_id}/dismiss'] button"
            )
            click_and_wait(driver, button)
            assert "No flagged posts." in driver.find_element(by.ID, "flags").text

        await step(dismiss)
        found = "SELECT COUNT(*) FROM moderation_flags WHERE dismissed_at > 0"
        assert await server.count(found) == 1
