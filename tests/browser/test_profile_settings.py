"""The profile form in Chromium: Settings in the navigation, a new name, bio, field and avatar
saved with the page's own button, the profile page showing them, and the password tab.

Given a signed-in user, when she opens Settings, types her profile, picks a photo and saves,
then the form says it was saved, her profile page shows the new name, the linked field (with
``rel="me"``) and the new avatar, and neither page has an unlabelled control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live import live_server
from web.support import PASSWORD, make_user

from browser.test_browser import (
    _by,
    accessibility_problems,
    click_and_wait,
    image_loaded,
    step,
    write_photo,
)


async def test_edit_the_profile_in_the_browser(
    tmp_path: Path, driver: Any, screenshots: Path
) -> None:
    by = _by()
    photo = write_photo(tmp_path / "me.jpg")
    async with live_server(tmp_path / "ours") as server:
        await make_user(server, "alice")
        base = server.base_url
        old_avatar = (await server.account("alice")).actor.icon_url

        def edit_profile() -> None:
            driver.get(f"{base}/login")
            driver.find_element(by.ID, "username").send_keys("alice")
            driver.find_element(by.ID, "password").send_keys(PASSWORD)
            click_and_wait(
                driver, driver.find_element(by.CSS_SELECTOR, "form[action='/login'] button")
            )
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Settings"))
            assert accessibility_problems(driver) == []
            name = driver.find_element(by.ID, "display_name")
            name.clear()
            name.send_keys("Alice in Chromium")
            bio = driver.find_element(by.ID, "bio")
            bio.clear()
            bio.send_keys("Gardener. #moss")
            driver.find_element(by.ID, "field_name_0").send_keys("Site")
            driver.find_element(by.ID, "field_value_0").send_keys("https://alice.example")
            driver.find_element(by.ID, "avatar").send_keys(str(photo))
            driver.find_element(by.NAME, "locked").click()
            driver.save_screenshot(str(screenshots / "profile-01-form.png"))
            click_and_wait(
                driver,
                driver.find_element(by.CSS_SELECTOR, "form[action='/settings/profile'] button"),
            )
            status = driver.find_element(by.CSS_SELECTOR, "main p.saved[role=status]")
            assert "Profile saved" in status.text
            assert driver.find_element(by.NAME, "locked").is_selected()

        await step(edit_profile)
        alice = await server.account("alice")
        assert alice.actor.display_name == "Alice in Chromium"
        assert alice.actor.manually_approves and alice.actor.icon_url != old_avatar

        def see_profile() -> None:
            driver.get(f"{base}/@alice")
            assert "Alice in Chromium" in driver.find_element(by.TAG_NAME, "h1").text
            link = driver.find_element(by.CSS_SELECTOR, "dl.fields dd a")
            assert link.get_attribute("href") == "https://alice.example/"
            assert "me" in (link.get_attribute("rel") or "").split()
            assert image_loaded(driver, "img.avatar.big")
            driver.save_screenshot(str(screenshots / "profile-02-page.png"))
            driver.get(f"{base}/settings/profile")
            click_and_wait(driver, driver.find_element(by.LINK_TEXT, "Password"))
            assert driver.find_element(by.ID, "current").get_attribute("type") == "password"
            assert accessibility_problems(driver) == []

        await step(see_profile)
