"""What a newcomer met in the web pages (issue 20 item 5), in Chromium: the compose form keeps
a refused image and says why beside the field; Delete asks first and says it is done; "Ask
@ai" says an answer is coming; the admin's test result is in view; times read "5 min ago"
with the local time in the tooltip; the navigation is one line at 1280 px and on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai.test_bot import ai_toml
from support.live import LiveServer, live_server
from web.support import PASSWORD, make_user
from web.test_pages import html_path, post

from browser.test_browser import (
    _by,
    accessibility_problems,
    click_and_wait,
    image_loaded,
    step,
    write_photo,
)

DOWN = ai_toml("http://127.0.0.1:9")  # no AI answers: these pages must not wait for one


def log_in(driver: Any, base: str, username: str) -> None:
    by = _by()
    driver.get(f"{base}/login")
    driver.find_element(by.ID, "username").send_keys(username)
    driver.find_element(by.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button"))


def in_view(driver: Any, element: Any) -> bool:
    return bool(
        driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
            element,
        )
    )


async def test_a_refused_image_is_kept_and_the_error_is_at_its_field(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    photo = write_photo(tmp_path / "harbour.jpg")
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await make_user(server, "alice")

        def compose() -> None:
            log_in(driver, server.base_url, "alice")
            driver.get(f"{server.base_url}/compose")
            driver.find_element(by.ID, "text").send_keys("The harbour today")
            driver.find_element(by.ID, "image0").send_keys(str(photo))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))
            error = driver.find_element(by.ID, "alt0-error")
            assert "needs a description" in error.text
            alt = driver.find_element(by.ID, "alt0")
            # Beside the field, the field focused and in view, and the picture still there.
            assert alt.get_attribute("aria-describedby") == "alt0-error"
            assert driver.switch_to.active_element == alt
            assert in_view(driver, alt) and in_view(driver, error)
            gap = error.location["y"] - (alt.location["y"] + alt.size["height"])
            assert 0 <= gap < 40, gap
            assert image_loaded(driver, ".kept img")
            assert driver.find_element(by.ID, "text").get_attribute("value") == "The harbour today"
            assert accessibility_problems(driver) == []
            driver.save_screenshot(str(screenshots / "rough-01-alt-missing.png"))
            alt.send_keys("Blue water with white posts")
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))
            main = driver.find_element(by.CSS_SELECTOR, "main")
            assert "Your post is published" in main.text
            assert main.find_element(by.CSS_SELECTOR, "img[alt='Blue water with white posts']")

        await step(compose)
        rows = await server.count(
            "SELECT count(*) FROM media m JOIN notes n ON n.id = m.note_id"
            " WHERE m.description = 'Blue water with white posts'"
        )
        assert rows == 1
        waiting = "SELECT count(*) FROM api_media u JOIN media m ON m.id = u.media_id"
        assert await server.count(f"{waiting} WHERE m.note_id IS NULL") == 0


async def test_delete_asks_first_then_says_it_is_done(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await make_user(server, "alice")
        uri = await post(server, "alice", "a post to delete")
        page = f"{server.base_url}{html_path(server, uri)}"

        def delete() -> None:
            log_in(driver, server.base_url, "alice")
            driver.get(page)
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Delete"))
            main = driver.find_element(by.CSS_SELECTOR, "main")
            assert "Delete this post?" in main.text and "a post to delete" in main.text
            driver.save_screenshot(str(screenshots / "rough-02-delete-confirm.png"))
            click_and_wait(driver, main.find_element(by.LINK_TEXT, "Cancel"))
            assert "a post to delete" in driver.find_element(by.CSS_SELECTOR, "main").text
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Delete"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "main button.danger"))
            notice = driver.find_element(by.CSS_SELECTOR, "main .notice")
            assert "Your post was deleted" in notice.text and notice.get_attribute("role") == (
                "status"
            )
            assert "a post to delete" not in driver.find_element(by.CSS_SELECTOR, "main").text

        await step(delete)
        assert await server.count("SELECT count(*) FROM notes WHERE uri = ?", [uri]) == 0


async def test_asking_the_ai_says_an_answer_is_coming(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await make_user(server, "alice")
        uri = await post(server, "alice", "What is a lighthouse for?")

        def ask() -> None:
            log_in(driver, server.base_url, "alice")
            driver.get(f"{server.base_url}{html_path(server, uri)}")
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Ask @ai about this"))
            driver.find_element(by.ID, "text").send_keys("please explain")
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))
            notice = driver.find_element(by.CSS_SELECTOR, "main .notice")
            assert "answer appears in this thread" in notice.text
            assert in_view(driver, notice)
            driver.save_screenshot(str(screenshots / "rough-03-asked.png"))

        await step(ask)


async def test_the_admin_test_result_is_in_view(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await make_user(server, "root", admin=True)

        def probe() -> None:
            driver.set_window_size(1280, 720)  # a laptop: the AI card starts below the fold
            log_in(driver, server.base_url, "root")
            driver.get(f"{server.base_url}/admin")
            button = driver.find_element(by.XPATH, "//button[text()='Test text backend']")
            driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", button)
            click_and_wait(driver, button)
            result = driver.find_element(by.ID, "probe")
            assert "Text backend failed" in result.text  # nothing listens there
            assert in_view(driver, result)
            driver.save_screenshot(str(screenshots / "rough-04-admin-probe.png"))

        await step(probe)


async def test_times_are_relative_with_the_local_time_in_the_tooltip(
    tmp_path: Path, driver: Any
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await make_user(server, "alice")
        await post(server, "alice", "a fresh post")

        def read() -> None:
            driver.get(f"{server.base_url}/")
            time = driver.find_element(by.CSS_SELECTOR, "article.card time")
            assert time.text == "just now"
            local = driver.execute_script(
                "return new Date(arguments[0].getAttribute('datetime'))"
                ".toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});",
                time,
            )
            assert time.get_attribute("title") == local and "UTC" not in local

        await step(read)


def nav_lines(driver: Any) -> int:
    """How many rows the visible items of the main navigation take."""
    tops: list[float] = driver.execute_script(
        "return [...document.querySelectorAll('header.site nav > *, header.site nav .wide > *')]"
        ".filter(e => e.offsetParent !== null && !e.classList.contains('wide'))"
        ".map(e => e.getBoundingClientRect())"
        ".map(r => Math.round(r.top + r.height / 2));"
    )
    rows: list[float] = []
    for top in sorted(tops):
        if not rows or top - rows[-1] > 8:
            rows.append(top)
    return len(rows)


async def test_the_navigation_is_one_line_on_a_laptop_and_on_a_phone(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours", extra_toml=DOWN) as server:
        await rename_instance(server)
        await make_user(server, "alexandrina", admin=True)

        def measure() -> None:
            log_in(driver, server.base_url, "alexandrina")
            driver.set_window_size(1280, 900)
            driver.get(f"{server.base_url}/home")
            wide = driver.find_element(by.CSS_SELECTOR, "header.site .links.wide")
            assert wide.is_displayed() and "Notifications" in wide.text and "Admin" in wide.text
            assert nav_lines(driver) == 1
            driver.save_screenshot(str(screenshots / "rough-05-nav-1280.png"))
            driver.set_window_size(390, 844)
            driver.get(f"{server.base_url}/home")
            assert driver.execute_script("return window.innerWidth") <= 420
            assert not driver.find_element(
                by.CSS_SELECTOR, "header.site .links.wide"
            ).is_displayed()
            assert nav_lines(driver) == 1
            assert driver.find_element(by.CSS_SELECTOR, "header.site a.compact").is_displayed()
            menu = driver.find_element(by.CSS_SELECTOR, "details.menu")
            menu.find_element(by.TAG_NAME, "summary").click()
            links = menu.find_elements(by.CSS_SELECTOR, ".links > a, .links button")
            assert {"Home", "Notifications", "Admin", "Log out"} <= {a.text for a in links}
            for link in links:
                assert link.is_displayed()
                right = driver.execute_script(
                    "return arguments[0].getBoundingClientRect().right", link
                )
                assert right <= driver.execute_script("return window.innerWidth"), link.text
            assert driver.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth"
            )
            driver.save_screenshot(str(screenshots / "rough-06-nav-phone.png"))
            click_and_wait(driver, menu.find_element(by.LINK_TEXT, "Notifications"))
            assert "Notifications" in driver.title

        await step(measure)


async def rename_instance(server: LiveServer) -> None:
    """A realistic instance name, longer than the default, for the width to be tight."""
    from fediverse_ai.storage import settings

    await settings.put(server.state.db, {"name": "Harbourside Social"}, now=server.state.now())
