"""``fediverse-ai user profile`` and the sign-up commands, run as the real console entry point
against real files (the helpers and the once-per-module ``init`` of ``test_cli``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PIL import Image
from support.stores import connect
from test_cli import database, initialised, ok, query, run, site

from fediverse_ai.passwords import hash_password, verify_password

__all__ = ["initialised", "site"]  # the fixtures, shared with test_cli


def actor_row(site: Path, username: str) -> tuple[object, ...]:
    (row,) = query(
        database(site),
        "SELECT display_name, summary, fields_json, manually_approves, discoverable, indexable,"
        " icon_url, type FROM actors WHERE username = ? AND local = 1",
        (username,),
    )
    return row


def test_user_profile_edits_every_part(site: Path, tmp_path: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    picture = tmp_path / "me.png"
    Image.new("RGB", (1000, 800), "orange").save(picture)
    old_icon = actor_row(site, "bob")[6]

    out = ok(
        run(
            site,
            "user",
            "profile",
            "bob",
            "--display-name",
            "Bob B.",
            "--bio",
            "Baker. https://bread.example #sourdough",
            "--field",
            "Site=https://bob.example",
            "--field",
            "Oven=wood-fired",
            "--avatar",
            str(picture),
            "--locked",
            "--no-discoverable",
            "--no-indexable",
        )
    )
    assert "profile of bob saved; sent to its followers" in out
    assert "field: Site = https://bob.example" in out and "locked: True" in out
    name, summary, fields, locked, discoverable, indexable, icon, kind = actor_row(site, "bob")
    assert name == "Bob B." and (locked, discoverable, indexable) == (1, 0, 0)
    assert 'href="https://bread.example"' in str(summary) and "hashtag" in str(summary)
    site_field, oven = json.loads(str(fields))
    assert site_field[0] == "Site" and 'rel="me nofollow noopener noreferrer"' in site_field[1]
    assert oven == ["Oven", "wood-fired"]
    assert icon != old_icon and kind == "Person"
    stored = site.parent / "data" / "media" / str(icon).rsplit("/", 1)[-1]
    with Image.open(stored) as img:
        assert max(img.size) == 400

    # Only what is named changes; --unlocked and --clear-fields undo
    ok(run(site, "user", "profile", "bob", "--unlocked", "--clear-fields"))
    name, _, fields, locked, *_ = actor_row(site, "bob")
    assert name == "Bob B." and locked == 0 and json.loads(str(fields)) == []
    # Without options it shows the profile and changes nothing
    shown = ok(run(site, "user", "profile", "bob"))
    assert "display name: Bob B." in shown and "saved" not in shown


def test_user_profile_refuses_bad_input(site: Path, tmp_path: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    before = actor_row(site, "bob")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    for args, message in (
        (["nobody", "--display-name", "x"], "no local account 'nobody'"),
        (["bob", "--field", "no equals sign"], "write it as LABEL=CONTENT"),
        (["bob", "--display-name", "x" * 31], "limited to 30 characters"),
        (["bob", *[a for i in range(5) for a in ("--field", f"k{i}=v")]], "at most 4"),
        (["bob", "--avatar", str(tmp_path / "missing.png")], "No such file"),
        (["bob", "--header", str(junk)], "header:"),
        (["ai", "--locked"], "unlocked bot"),
    ):
        result = run(site, "user", "profile", *args)
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    assert actor_row(site, "bob") == before


def test_user_profile_edits_the_ai_actor_and_init_keeps_it(site: Path) -> None:
    ok(run(site, "user", "profile", "ai", "--display-name", "Oracle", "--bio", "I answer."))
    assert actor_row(site, "ai")[0] == "Oracle" and actor_row(site, "ai")[7] == "Service"
    ok(run(site, "init"))  # the config's name and bio have not changed: the edit stays
    assert actor_row(site, "ai")[0] == "Oracle"
    # A changed config wins, as before
    site.write_text(site.read_text(encoding="utf-8") + '\n[ai]\ndisplay_name = "Robot"\n')
    ok(run(site, "init"))
    assert actor_row(site, "ai")[0] == "Robot"


def add_signup(site: Path, username: str, password: str, reason: str) -> None:
    """A sign-up as the web's /signup stores it."""
    with connect(database(site)) as conn:
        conn.execute(
            "INSERT INTO signups (username, email, reason, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (username, f"{username}@example.org", reason, hash_password(password), time.time()),
        )


def test_signups_are_listed_approved_and_rejected(site: Path) -> None:
    assert ok(run(site, "user", "signups")).strip() == "no sign-ups are waiting"
    add_signup(site, "newbie", "newbie's password", "I like\nmoss.")
    add_signup(site, "spam", "spam password!", "buy now")
    listed = ok(run(site, "user", "signups")).splitlines()
    assert listed == ["newbie\tnewbie@example.org\tI like moss.", "spam\tspam@example.org\tbuy now"]

    out = ok(run(site, "user", "approve-signup", "newbie"))
    assert out.strip() == "approved: newbie may log in (http://localhost:8123/users/newbie)"
    ((password_hash, email, pem),) = query(
        database(site),
        "SELECT password_hash, email, private_key_pem FROM accounts"
        " JOIN actors ON actors.id = accounts.actor_id WHERE username = 'newbie'",
    )
    assert verify_password("newbie's password", str(password_hash))
    assert email == "newbie@example.org"
    assert str(pem).startswith("-----BEGIN PRIVATE KEY-----")  # in the row, no file needed

    assert ok(run(site, "user", "reject-signup", "spam")).strip() == "rejected the sign-up by spam"
    assert ok(run(site, "user", "signups")).strip() == "no sign-ups are waiting"
    assert ok(run(site, "user", "signups", "--rejected")).startswith("spam\t")
    again = run(site, "user", "reject-signup", "spam")
    assert again.returncode == 1 and "already rejected" in again.stderr
    missing = run(site, "user", "approve-signup", "nobody")
    assert missing.returncode == 1 and "no sign-up by 'nobody'" in missing.stderr
    # A name taken by `user add` meanwhile is not handed to the sign-up
    add_signup(site, "taken", "the sign-up's password", "me")
    ok(run(site, "user", "add", "taken"))
    clash = run(site, "user", "approve-signup", "taken")
    assert clash.returncode == 1 and "exists already" in clash.stderr
    assert query(
        database(site),
        "SELECT password_hash FROM accounts JOIN actors ON actors.id = accounts.actor_id"
        " WHERE username = 'taken'",
    ) == [(None,)]
    # The follow-request commands keep their names
    assert ok(run(site, "approve", "--help")).startswith("usage: fediverse-ai approve")
