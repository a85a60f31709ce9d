"""The forms that call the AI backends: Suggest (drafting help) and the admin's test button,
against a real llama.cpp server, and what the user sees when the backend is down."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from ai.servers import RunningServer
from ai.test_bot import ai_toml
from support.live import live_server

from fediverse_ai.bot.suggest import keep_subject, parse_suggestion

from .test_forms import logged_in


def test_parse_suggestion_splits_text_and_hashtags() -> None:
    text, tags = parse_suggestion(
        "Spring is here, and the garden wakes up!\nHashtags: #spring, #Garden #spring nature"
    )
    assert text == "Spring is here, and the garden wakes up!"
    assert tags == ("spring", "Garden", "nature")
    assert parse_suggestion("no tags at all") == ("no tags at all", ())


async def test_suggest_shows_a_suggestion_and_posts_nothing(
    tmp_path: Path, llama_server: RunningServer
) -> None:
    async with live_server(tmp_path, extra_toml=ai_toml(llama_server.base_url)) as server:
        web = await logged_in(server, "alice")
        async with web:
            before = await server.counts()
            resp = await web.submit("/compose", "/compose", {"text": "", "action": "suggest"})
            assert resp.status_code == 200
            assert 'aria-label="Suggestion"' in resp.text
            assert await server.counts() == before
            # With no draft the suggestion is the model's idea (the tiny test model speaks NATO
            # letters), with hashtags even when the model names none.
            quote = suggestion_quote(resp.text)
            assert any(w in quote for w in ("alpha", "bravo", "charlie", "delta", "echo"))
            assert "Hashtags: <code>#" in resp.text


def suggestion_quote(page: str) -> str:
    section = page[page.index('aria-label="Suggestion"') :]
    return section[section.index("<blockquote>") : section.index("</blockquote>")]


async def test_suggest_keeps_the_subject_and_gives_hashtags(
    tmp_path: Path, llama_server: RunningServer
) -> None:
    """Issue 20: a rewrite that lost the draft's subject was shown, and no hashtags."""
    async with live_server(tmp_path, extra_toml=ai_toml(llama_server.base_url)) as server:
        web = await logged_in(server, "alice")
        async with web:
            draft = "my sourdough bread finally rose"
            resp = await web.submit("/compose", "/compose", {"text": draft, "action": "suggest"})
            assert resp.status_code == 200
            assert draft in resp.text  # the draft stays in the form
            # NATO letters are no rewrite of bread: the draft is shown, and why.
            assert draft in suggestion_quote(resp.text)
            assert "left out what your post is about" in resp.text
            assert "<code>#sourdough</code>" in resp.text and "<code>#bread</code>" in resp.text


def test_a_rewrite_that_keeps_the_subject_is_shown_as_the_model_wrote_it() -> None:
    text, tags = parse_suggestion("Draft: My garden is thriving!\nHashtags: #garden #spring")
    assert keep_subject("my garden is nice", text, tags) == (
        "My garden is thriving!",
        ("garden", "spring"),
        "",
    )
    assert keep_subject("#cats on the sofa", "alpha bravo", ())[1] == ("cats",)


async def test_suggest_reports_a_backend_that_is_down(tmp_path: Path) -> None:
    async with live_server(tmp_path, extra_toml=ai_toml("http://127.0.0.1:9")) as server:
        web = await logged_in(server, "alice")
        async with web:
            resp = await web.submit("/compose", "/compose", {"text": "hi", "action": "suggest"})
            assert resp.status_code == 200
            assert "the text backend did not answer" in resp.text


async def test_admin_test_buttons_call_the_backends(
    tmp_path: Path, llama_server: RunningServer
) -> None:
    async with live_server(tmp_path, extra_toml=ai_toml(llama_server.base_url)) as server:
        web = await logged_in(server, "root", admin=True)
        async with web:
            text = await web.submit("/admin", "/admin/test-backend#probe", {"kind": "text"})
            assert text.status_code == 200
            assert "Text backend answered" in text.text and "openai, tiny" in text.text
            image = await web.submit("/admin", "/admin/test-backend", {"kind": "image"})
            assert "Image backend answered" in image.text
            assert "256×256 PNG" in image.text or "256×256 JPEG" in image.text


async def test_admin_test_button_shows_a_failure(tmp_path: Path) -> None:
    async with live_server(tmp_path, extra_toml=ai_toml("http://127.0.0.1:9")) as server:
        web = await logged_in(server, "root", admin=True)
        async with web:
            resp = await web.submit("/admin", "/admin/test-backend", {"kind": "text"})
            assert resp.status_code == 200
            assert "Text backend failed" in resp.text


@pytest.mark.slow
async def test_admin_text_test_with_the_offline_model_gets_a_greeting(tmp_path: Path) -> None:
    """Issue 20: SmolLM2 answered the old probe with "I can't add a response with less than
    ten words" every time."""
    async with live_server(tmp_path) as server:
        web = await logged_in(server, "root", admin=True)
        async with web:
            page = await web.get("/admin")
            assert 'action="/admin/test-backend#probe"' in page.text
            web.client.timeout = httpx.Timeout(300.0)  # the model loads on first use
            resp = await web.submit("/admin", "/admin/test-backend", {"kind": "text"})
            assert "Text backend answered" in resp.text and 'id="probe"' in resp.text
            detail = resp.text.split('class="probe-detail">', 1)[1].split("</p>", 1)[0]
            assert detail.strip() and "ten words" not in detail
