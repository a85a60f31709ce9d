"""What other servers send, in a real browser (issue 19 and issue 13 item 8).

Given the fixtures of seven servers delivered to a live instance and their media cached, when
Chromium opens each post's page and the author's profile, then every sensitive picture, video
and sound is hidden until its cover is clicked (``details``, no JavaScript on our side), and
once revealed every picture loads from our cache (no broken image); players have controls,
load nothing before play (``preload="none"``) and do not autoplay; articles show their
titles; and the browser made no request to the peer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from support.remote import remote_server
from web.remote_shapes import SHAPES
from web.test_remote_shapes import deliver_all

from .test_browser import _by, step

IMAGES = """
const imgs = Array.from(document.querySelectorAll('img'));
return imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
"""
PLAYERS = """
return Array.from(document.querySelectorAll('video, audio')).map(p => ({
  tag: p.tagName, controls: p.controls, preload: p.preload, autoplay: p.autoplay,
  paused: p.paused, readyState: p.readyState,
  src: p.querySelector('source') && p.querySelector('source').src}));
"""
TITLES = ("Repairing a bicycle wheel", "Morning Field Recording", "Mornings by the Bay")


async def test_remote_media_is_covered_plays_safely_and_loads_from_us(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server, remote_server(("alice",)) as remote:
        ids = await deliver_all(server, remote)
        fetched_before = len(remote.fetched)

        def check(name: str, path: str) -> dict[str, Any]:
            from selenium.webdriver.support.ui import WebDriverWait

            driver.get(f"{server.base_url}{path}")
            hidden = driver.find_elements(by.CSS_SELECTOR, "details.sensitive .full")
            assert all(not el.is_displayed() for el in hidden), path
            driver.save_screenshot(str(screenshots / f"30-remote-{name}-covered.png"))
            for summary in driver.find_elements(by.CSS_SELECTOR, "details.cw > summary"):
                summary.click()
            covers = driver.find_elements(by.CSS_SELECTOR, "details.sensitive > summary")
            for summary in covers:
                driver.execute_script("arguments[0].scrollIntoView()", summary)
                summary.click()
            for img in driver.find_elements(by.CSS_SELECTOR, "img"):
                driver.execute_script("arguments[0].scrollIntoView()", img)
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(IMAGES) == [])
            assert all(el.is_displayed() for el in hidden), path  # revealed by a click
            driver.save_screenshot(str(screenshots / f"30-remote-{name}.png"))
            players = driver.execute_script(PLAYERS)
            for player in players:
                assert player["controls"] and player["preload"] == "none", player
                assert not player["autoplay"] and player["paused"], player
                assert player["readyState"] == 0, player  # nothing loaded before play
                assert player["src"].startswith(f"{server.base_url}/cache/"), player
            titles = [h.text for h in driver.find_elements(by.CSS_SELECTOR, "h2.title")]
            return {"covers": len(covers), "players": len(players), "titles": titles}

        seen = {}
        for server_name, file_name in SHAPES:
            key = f"{server_name}-{file_name.removesuffix('.json')}"
            page = f"/notes/{ids[(server_name, file_name)]}"
            seen[key] = await step(lambda k=key, p=page: check(k, p))  # type: ignore[misc]
        profile = await step(lambda: check("profile", f"/@alice@{remote.authority}"))

        assert seen["mastodon-sensitive-photo"]["covers"] == 1
        assert seen["mastodon-video-and-audio"] == {"covers": 2, "players": 2, "titles": []}
        assert seen["misskey-sensitive-file"]["covers"] == 1
        assert seen["peertube-video"]["players"] == 1
        assert seen["funkwhale-audio"]["players"] == 1
        assert profile["covers"] == 4 and profile["players"] == 4
        assert set(TITLES) | {"Notes on Slow Writing"} == set(profile["titles"])
        # Every page, picture and player came from us: the peer saw no request from the browser.
        assert remote.fetched[fetched_before:] == []
