"""The forms that call the AI backends: Suggest (drafting help) and the admin's test button,
against a real llama.cpp server, and what the user sees when the backend is down."""

from __future__ import annotations

from pathlib import Path

from ai.servers import RunningServer
from ai.test_bot import ai_toml
from support.live import live_server

from fediverse_ai.bot.suggest import parse_suggestion

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
            resp = await web.submit(
                "/compose", "/compose", {"text": "my garden is nice", "action": "suggest"}
            )
            assert resp.status_code == 200
            assert 'aria-label="Suggestion"' in resp.text
            assert "my garden is nice" in resp.text  # the draft stays in the form
            assert await server.counts() == before
            # The suggestion is the model's words (the tiny test model speaks NATO letters).
            section = resp.text[resp.text.index('aria-label="Suggestion"') :]
            quote = section[section.index("<blockquote>") : section.index("</blockquote>")]
            assert any(w in quote for w in ("alpha", "bravo", "charlie", "delta", "echo"))


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
            text = await web.submit("/admin", "/admin/test-backend", {"kind": "text"})
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
