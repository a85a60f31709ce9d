"""Polls in Chromium: alice opens "Add a poll" in the compose form, fills in options and a
duration and posts; bob picks an option (a radio button, required) and votes; then he sees
the results with his choice marked and no form, and every control on both pages is labelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from web.support import make_user

from fediverse_ai.storage import polls

from .test_browser import _by, accessibility_problems, click_and_wait, sign_in, step


async def test_compose_a_poll_and_vote_in_it(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server:
        await make_user(server, "alice")
        await make_user(server, "bob")
        base = server.base_url

        def log_in(username: str) -> None:
            sign_in(driver, base, username)

        def compose() -> str:
            log_in("alice")
            driver.get(f"{base}/compose")
            assert accessibility_problems(driver) == []
            driver.find_element(by.ID, "text").send_keys("Which colour for the door?")
            driver.find_element(by.CSS_SELECTOR, "details.poll-compose summary").click()
            driver.find_element(by.ID, "poll_option0").send_keys("green")
            driver.find_element(by.ID, "poll_option1").send_keys("yellow")
            driver.find_element(by.CSS_SELECTOR, "#poll_duration option[value='3600']").click()
            driver.save_screenshot(str(screenshots / "poll-01-compose.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))
            main = driver.find_element(by.CSS_SELECTOR, "main").text
            assert "closes in" in main and "0 people voted" in main
            return str(driver.current_url)

        page = await step(compose)

        def vote() -> None:
            log_in("bob")
            driver.get(page)
            assert accessibility_problems(driver) == []
            radios = driver.find_elements(by.CSS_SELECTOR, ".poll input[type='radio']")
            assert len(radios) == 2
            # Nothing chosen: the browser itself refuses (the radios are required).
            driver.find_element(by.CSS_SELECTOR, ".poll button[type='submit']").click()
            assert driver.current_url == page
            radios[1].click()
            driver.save_screenshot(str(screenshots / "poll-02-vote.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, ".poll button"))
            poll = driver.find_element(by.CSS_SELECTOR, ".poll")
            assert driver.find_elements(by.CSS_SELECTOR, ".poll input") == []
            mine = poll.find_element(by.CSS_SELECTOR, "li.mine").text
            assert "yellow" in mine and "100%" in mine and "your choice" in mine
            assert "1 person voted" in poll.text
            driver.save_screenshot(str(screenshots / "poll-03-voted.png"))

        await step(vote)
        note_id = await server.state.db.fetchval("SELECT note_id FROM polls")
        poll = await polls.by_note(server.state.db, int(note_id))
        assert poll is not None
        assert poll.options == (("green", 0), ("yellow", 1))
