"""The web UI in a real browser: the whole user journey, and hostile remote HTML kept inert.

The live server runs in the test's event loop; Selenium blocks, so each browser step runs in a
thread (``asyncio.to_thread``) while the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ai.servers import RunningServer
from ai.test_bot import ai_toml
from PIL import Image
from support.live import live_server
from support.remote import PUBLIC, remote_server
from web.support import PASSWORD, make_user

T = TypeVar("T")


def _by() -> Any:
    from selenium.webdriver.common.by import By as _By

    return _By


async def step(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


async def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


def click_and_wait(driver: Any, element: Any) -> None:
    """Click something that loads a new page and wait until the old page is gone, so that
    the next lookup cannot find an element of the page being left."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(_by().TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))


def sign_in(driver: Any, base: str, username: str) -> None:
    """Forget the last user's cookies and log in with the login form, as ``username``."""
    by = _by()
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(by.ID, "username").send_keys(username)
    driver.find_element(by.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button"))


def accessibility_problems(driver: Any) -> list[str]:
    """The checks a screen-reader user notices first: unlabelled controls, images without
    an alt attribute, buttons without a name, a missing language or main landmark."""
    found: list[str] = driver.execute_script(
        """
        const bad = [];
        if (!document.documentElement.lang) bad.push('no lang');
        if (!document.querySelector('main')) bad.push('no main');
        for (const el of document.querySelectorAll('input, textarea, select')) {
          if (el.type === 'hidden') continue;
          const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`))
            || el.closest('label') || el.getAttribute('aria-label');
          if (!labelled) bad.push('unlabelled ' + el.tagName + ' ' + (el.name || ''));
        }
        for (const img of document.querySelectorAll('img'))
          if (!img.hasAttribute('alt')) bad.push('img without alt ' + img.src);
        for (const b of document.querySelectorAll('button'))
          if (!b.textContent.trim() && !b.getAttribute('aria-label')) bad.push('unnamed button');
        return bad;
        """
    )
    return found


def write_photo(path: Path) -> Path:
    image = Image.new("RGB", (320, 200), (40, 110, 200))
    for x in range(0, 320, 40):
        for y in range(200):
            image.putpixel((x, y), (250, 250, 250))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def image_loaded(driver: Any, css: str) -> bool:
    return bool(
        driver.execute_script(
            "const i = document.querySelector(arguments[0]);"
            " return !!i && i.complete && i.naturalWidth > 0;",
            css,
        )
    )


async def test_log_in_post_an_image_see_it_ask_the_ai_and_log_out(
    tmp_path: Path, driver: Any, screenshots: Path, llama_server: RunningServer
) -> None:
    by = _by()
    photo = write_photo(tmp_path / "harbour.jpg")
    async with live_server(tmp_path / "ours", extra_toml=ai_toml(llama_server.base_url)) as server:
        await make_user(server, "alice", admin=True)
        base = server.base_url

        def log_in() -> None:
            driver.get(f"{base}/")
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Log in"))
            driver.find_element(by.ID, "username").send_keys("alice")
            driver.find_element(by.ID, "password").send_keys(PASSWORD)
            click_and_wait(
                driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button")
            )
            assert driver.find_element(by.LINK_TEXT, "@alice")
            driver.save_screenshot(str(screenshots / "01-logged-in.png"))

        await step(log_in)

        def compose() -> None:
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Compose"))
            driver.find_element(by.ID, "text").send_keys("Harbour at noon #browsertest")
            driver.find_element(by.ID, "image0").send_keys(str(photo))
            driver.find_element(by.ID, "alt0").send_keys("Blue water with white posts")
            driver.find_element(by.ID, "image_prompt").send_keys("a lighthouse at dawn")
            driver.save_screenshot(str(screenshots / "02-compose.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))
            assert "Harbour at noon" in driver.find_element(by.CSS_SELECTOR, "main").text

        await step(compose)

        def feed_and_gallery() -> str:
            driver.get(f"{base}/")
            card = driver.find_element(by.CSS_SELECTOR, "article.card")
            assert "Harbour at noon" in card.text
            assert card.find_element(by.CSS_SELECTOR, "img[alt='Blue water with white posts']")
            assert "AI-generated" in card.text  # the drawn picture labels the post
            assert image_loaded(driver, "article.card img.full")
            driver.save_screenshot(str(screenshots / "03-feed.png"))
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "AI gallery"))
            tile = driver.find_element(by.CSS_SELECTOR, ".gallery li a")
            assert "lighthouse at dawn" in tile.find_element(
                by.CSS_SELECTOR, "img.full"
            ).get_attribute("alt")
            assert image_loaded(driver, ".gallery img.full")
            driver.save_screenshot(str(screenshots / "04-gallery.png"))
            click_and_wait(driver, tile)  # the tile opens the post's thread
            assert "Harbour at noon" in driver.find_element(by.CSS_SELECTOR, "main").text
            driver.save_screenshot(str(screenshots / "05-thread.png"))
            return str(driver.current_url)

        thread_url = await step(feed_and_gallery)

        def ask_ai() -> None:
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Ask @ai about this"))
            text = driver.find_element(by.ID, "text")
            assert text.get_attribute("value").startswith("@ai")
            text.send_keys("what is in this picture?")
            driver.save_screenshot(str(screenshots / "06-ask-ai.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='post']"))

        await step(ask_ai)

        ai_id = server.ai.actor.id

        async def ai_answered() -> bool:
            await server.drain()
            return await server.count("SELECT COUNT(*) FROM notes WHERE actor_id = ?", [ai_id]) > 0

        await wait_for(ai_answered)

        def see_answer_then_log_out() -> None:
            driver.get(thread_url)
            cards = driver.find_elements(by.CSS_SELECTOR, "main article.card")
            authors = [c.find_element(by.CSS_SELECTOR, ".handle").text for c in cards]
            assert authors[0] == "@alice@127.0.0.1"
            assert any(a == "@ai@127.0.0.1" for a in authors[1:]), authors
            answer = next(c for c in cards if "@ai@127.0.0.1" in c.text)
            assert "AI-generated" in answer.text
            driver.save_screenshot(str(screenshots / "07-ai-answer.png"))
            for page, name in (("/about", "08-about"), ("/@ai", "09-profile-ai")):
                driver.get(f"{base}{page}")
                driver.save_screenshot(str(screenshots / f"{name}.png"))
            for page in ("/", "/gallery", "/home", "/notifications", "/compose", "/admin"):
                driver.get(f"{base}{page}")
                assert accessibility_problems(driver) == [], page
            driver.get(f"{base}/admin")
            assert "Job queue" in driver.find_element(by.CSS_SELECTOR, "main").text
            driver.save_screenshot(str(screenshots / "10-admin.png"))
            click_and_wait(
                driver, driver.find_element(by.CSS_SELECTOR, "form[action='/logout'] button")
            )
            assert driver.find_element(by.LINK_TEXT, "Log in")
            driver.get(f"{base}/home")
            assert "/login" in driver.current_url

        await step(see_answer_then_log_out)


PAYLOAD = """
<p>hello <script>window.__xss = 1</script></p>
<img src=x onerror="window.__xss = 2">
<a href="javascript:window.__xss = 3" id="js1">click me</a>
<a href=" JaVaScRiPt:window.__xss = 4" id="js2">spaced</a>
<div style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</div>
<svg onload="window.__xss = 5"><circle r="4"></circle></svg>
<iframe src="javascript:window.__xss = 6"></iframe>
<style>body { display: none }</style>
<form action="https://evil.example/"><input name="password"></form>
<math><mtext><table><mglyph><style><img src=x onerror="window.__xss = 7">
<p title="&quot;><script>window.__xss = 8</script>">attribute break</p>
<a href="data:text/html,<script>alert(1)</script>">data link</a>
"""


async def test_hostile_remote_html_renders_inert(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path / "ours") as server, remote_server(("evil",)) as remote:
        doc = remote.actor_document("evil")
        doc["name"] = '<img src=x onerror="window.__xss = 9">Evil'
        doc["url"] = "javascript:window.__xss = 10"
        remote.serve(doc)
        note = remote.note(
            "evil",
            PAYLOAD,
            to=[PUBLIC],
            summary="</summary><script>window.__xss = 11</script>",
            attachment=[
                {
                    "type": "Document",
                    "mediaType": "image/png",
                    "url": "javascript:window.__xss = 12",
                    "name": '"><img src=x onerror="window.__xss = 13">',
                }
            ],
        )
        resp = await remote.send(server.shared_inbox, remote.activity("evil", "Create", note))
        assert resp.status_code == 202
        await server.drain()
        note_id = await server.count("SELECT id FROM notes WHERE uri = ?", [note["id"]])
        assert note_id
        pages = [f"/notes/{note_id}", f"/@evil@{remote.authority}"]

        def check(page: str, name: str) -> None:
            driver.get(f"{server.base_url}{page}")
            for details in driver.find_elements(by.CSS_SELECTOR, "details"):
                driver.execute_script("arguments[0].open = true", details)
            for link_id in ("js1", "js2"):
                for link in driver.find_elements(by.ID, link_id):
                    link.click()
            main = driver.find_element(by.CSS_SELECTOR, "main")
            assert main.is_displayed()
            if page.startswith("/notes/"):  # the post is there, only defused
                assert "hello" in main.text and "click me" in main.text
            assert driver.execute_script("return window.__xss === undefined")
            found = driver.execute_script(
                """
                const bad = [];
                for (const el of document.querySelectorAll('main *')) {
                  for (const a of el.attributes) {
                    const v = a.value.trim().toLowerCase();
                    if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
                    if ((a.name === 'href' || a.name === 'src') &&
                        (v.startsWith('javascript:') || v.startsWith('data:text')))
                      bad.push(el.tagName + ' ' + a.name + '=' + v);
                    if (a.name === 'style' && el.closest('.content')) bad.push('style');
                  }
                  if (['SCRIPT', 'IFRAME', 'STYLE', 'FORM', 'SVG', 'MATH', 'OBJECT', 'EMBED']
                      .includes(el.tagName.toUpperCase()) && el.closest('.content'))
                    bad.push(el.tagName);
                }
                return bad;
                """
            )
            assert found == [], (page, found)
            driver.save_screenshot(str(screenshots / f"{name}.png"))

        await step(lambda: check(pages[0], "11-xss-note"))
        await step(lambda: check(pages[1], "12-xss-profile"))
