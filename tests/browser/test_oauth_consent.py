"""An app's login in a real browser: the authorize URL opens our login page, then the consent
page naming the app and its scopes; Approve shows the out-of-band code, which the app
exchanges for a working token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from client_api.support import authorize_url, register_app
from support.live import live_server
from web.support import PASSWORD, make_user

from .test_browser import _by, accessibility_problems, click_and_wait, step


async def test_an_app_is_authorised_through_login_and_consent(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    async with live_server(tmp_path) as server:
        await make_user(server, "alice")
        client = await register_app(server)
        url = authorize_url(server, client, challenge=None)

        def authorise() -> str:
            driver.get(url)
            assert "/login" in driver.current_url
            driver.find_element(by.ID, "username").send_keys("alice")
            driver.find_element(by.ID, "password").send_keys(PASSWORD)
            click_and_wait(
                driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button")
            )
            main = driver.find_element(by.CSS_SELECTOR, "main").text
            assert "Authorise Test app?" in main and "@alice" in main
            assert "write" in main and "follow" in main
            assert accessibility_problems(driver) == []
            driver.save_screenshot(str(screenshots / "oauth-consent.png"))
            click_and_wait(driver, driver.find_element(by.CSS_SELECTOR, "button[value='approve']"))
            code = driver.find_element(by.ID, "oauth-code").get_attribute("value")
            assert accessibility_problems(driver) == []
            driver.save_screenshot(str(screenshots / "oauth-code.png"))
            return str(code)

        code = await step(authorise)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            token = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                },
            )
            assert token.status_code == 200, token.text
            me = await http.get(
                "/api/v1/accounts/verify_credentials",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert me.json()["username"] == "alice"
