"""What a newcomer typed from the README and the CLI refused (issue 20 item 5), through the
real entry point as a subprocess, against real files."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import test_cli
from PIL import Image
from test_cli import cli, database, ok, query, run

from fediverse_ai.cli import build_parser
from fediverse_ai.config import CONFIG_ENV

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "docs" / "sample.png"
README = (ROOT / "README.md").read_text(encoding="utf-8")
# test_cli's fixtures: one `init` per module, a copy of its files per test.
initialised = test_cli.initialised
site = test_cli.site


def with_stdin(site: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    command = [sys.executable, "-m", "fediverse_ai", "--config", str(site), *args]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=site.parent,
        env=environ,
        timeout=120,
    )


def test_config_may_follow_the_command_at_any_depth(site: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # no config.toml here: only the option can find it
    ok(cli("user", "add", "bob", "--config", str(site), config=None, cwd=elsewhere))
    listed = ok(cli("user", "list", "--config", str(site), config=None, cwd=elsewhere))
    assert re.search(r"^bob\tuser\t", listed, re.M)
    assert "OK" in ok(cli("check-config", "--config", str(site), config=None, cwd=elsewhere))
    # Given both, the one after the command wins, as it is the one typed last.
    missing = cli(
        "check-config", "--config", str(tmp_path / "nope.toml"), config=site, cwd=tmp_path
    )
    assert missing.returncode == 1 and "nope.toml" in missing.stderr


def test_password_for_an_unknown_account_says_so_first(site: Path) -> None:
    # Neither typed (no prompt happens at all) nor from stdin, where a short one was the
    # complaint before "no such account".
    result = run(site, "user", "password", "nobody")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no user account 'nobody'"
    piped = with_stdin(site, "x\n", "user", "password", "nobody", "--password-stdin")
    assert piped.returncode == 1
    assert piped.stderr.strip() == "error: no user account 'nobody'"
    ok(run(site, "user", "add", "carol"))
    short = with_stdin(site, "x\n", "user", "password", "carol", "--password-stdin")
    assert short.returncode == 1 and "no user account" not in short.stderr


def test_note_commands_take_the_address_the_browser_shows(site: Path) -> None:
    ok(run(site, "user", "add", "alice"))
    ok(run(site, "user", "add", "bob"))
    uri = ok(run(site, "post", "--as", "bob", "hello from bob")).strip()
    status_id = uri.rsplit("/", 1)[1]
    page = f"http://localhost:8123/@bob/{status_id}"
    ok(run(site, "like", "--as", "alice", page))
    ok(run(site, "boost", "--as", "alice", page))
    reply = ok(run(site, "post", "--as", "alice", "@bob hi", "--reply-to", page)).strip()
    ok(run(site, "edit", "--as", "bob", page + "/", "hello again"))
    db = database(site)
    assert query(db, "SELECT in_reply_to_uri FROM notes WHERE uri = ?", (reply,)) == [(uri,)]
    [(likes,)] = query(
        db,
        "SELECT count(*) FROM reactions r JOIN notes n ON n.id = r.note_id WHERE n.uri = ?",
        (uri,),
    )
    assert likes >= 1
    ok(run(site, "delete", "--as", "bob", page))
    assert query(db, "SELECT count(*) FROM notes WHERE uri = ?", (uri,)) == [(0,)]
    # A page of ours that is no note is still refused, clearly and without a fetch.
    gone = run(site, "like", "--as", "alice", page)
    assert gone.returncode == 1 and "no such post on this server" in gone.stderr


def test_follow_a_local_account_by_its_short_handle(site: Path) -> None:
    ok(run(site, "user", "add", "alice"))
    ok(run(site, "user", "add", "dora", "--locked"))
    ok(run(site, "user", "add", "bob"))
    assert "follow: http://localhost:8123/users/bob" in ok(
        run(site, "follow", "--as", "alice", "@bob")
    )
    ok(run(site, "follow", "--as", "alice", "dora"))
    ok(run(site, "follow", "--as", "bob", "@dora"))
    db = database(site)
    pairs = query(
        db,
        "SELECT a.username, b.username, f.state FROM follows f JOIN actors a ON a.id ="
        " f.follower_id JOIN actors b ON b.id = f.followee_id ORDER BY 1, 2",
    )
    assert pairs == [
        ("alice", "bob", "accepted"),
        ("alice", "dora", "pending"),
        ("bob", "dora", "pending"),
    ]
    # The follow-request commands, as the README now documents them.
    waiting = ok(run(site, "requests", "--as", "dora"))
    assert "http://localhost:8123/users/alice" in waiting and "users/bob" in waiting
    ok(run(site, "approve", "--as", "dora", "@alice"))
    ok(run(site, "reject", "--as", "dora", "@bob"))
    assert ok(run(site, "requests", "--as", "dora")) == ""
    assert query(
        db,
        "SELECT f.state FROM follows f JOIN actors a ON a.id = f.follower_id"
        " WHERE a.username IN ('alice', 'bob') AND f.followee_id ="
        " (SELECT id FROM actors WHERE username = 'dora' AND local = 1)",
    ) == [("accepted",)]
    unknown = run(site, "follow", "--as", "alice", "@nobody")
    assert unknown.returncode == 1 and "no local account nobody" in unknown.stderr


def test_images_need_alt_text_on_the_command_line_too(site: Path, tmp_path: Path) -> None:
    ok(run(site, "user", "add", "bob"))
    refused = run(site, "post", "--as", "bob", "look", "--attach", str(SAMPLE))
    assert refused.returncode == 1
    assert "needs a description" in refused.stderr and "--alt" in refused.stderr
    blank = run(site, "post", "--as", "bob", "look", "--attach", str(SAMPLE), "--alt", "  ")
    assert blank.returncode == 1
    assert query(database(site), "SELECT count(*) FROM notes") == [(0,)]
    relaxed = site.read_text(encoding="utf-8") + "\n[web]\nrequire_alt_text = false\n"
    site.write_text(relaxed, encoding="utf-8")
    ok(run(site, "post", "--as", "bob", "look", "--attach", str(SAMPLE)))


def test_the_quickstart_sample_image_posts_as_the_readme_shows(site: Path) -> None:
    with Image.open(SAMPLE) as image:
        assert image.format == "PNG" and image.width >= 200
    assert SAMPLE.stat().st_size < 10_000
    line = next(ln for ln in README.splitlines() if "--attach docs/sample.png" in ln)
    alt = re.search(r'--alt "([^"]+)"', line)
    assert alt is not None
    # The README line, run from the repository root as the quickstart does.
    uri = ok(
        cli(
            "post",
            "--as",
            "ai",
            "A picture",
            "--attach",
            "docs/sample.png",
            "--alt",
            alt[1],
            config=site,
            cwd=ROOT,
        )
    ).strip()
    assert query(
        database(site),
        "SELECT m.description FROM media m JOIN notes n ON n.id = m.note_id WHERE n.uri = ?",
        (uri,),
    ) == [(alt[1],)]


def test_every_command_is_in_the_readme() -> None:
    section = README[README.index("## The command line") : README.index("## Configuration")]
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [name for name in sub.choices if f"`{name}" not in section]
    assert not missing, f"commands not in the README's command table: {missing}"
