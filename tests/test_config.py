"""The configuration file: the example documents every key, validation reports every problem."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fediverse_ai.config import SECTIONS, Config, load_config, parse_config
from fediverse_ai.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
_SECTION_LINE = re.compile(r"^\[([a-z_.]+)\]\s*$")
_KEY_LINE = re.compile(r"^([a-z_]+)\s*=")


def example_layout() -> dict[str, list[tuple[str, bool]]]:
    """For each section of the example, its keys in order, each with whether it is documented.

    A key is documented when a comment line sits directly above it, or above the run of
    consecutive key lines it belongs to (``listen_host`` and ``listen_port`` share one).
    """
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    layout: dict[str, list[tuple[str, bool]]] = {}
    section = None
    for i, line in enumerate(lines):
        if m := _SECTION_LINE.match(line):
            section = m.group(1)
            layout[section] = []
        elif (m := _KEY_LINE.match(line)) and section is not None:
            j = i - 1
            while j >= 0 and _KEY_LINE.match(lines[j]):
                j -= 1
            documented = j >= 0 and lines[j].lstrip().startswith("#")
            layout[section].append((m.group(1), documented))
    return layout


def example_table(section: str) -> dict[str, Any]:
    """The example's table for ``section``; dotted sections ([ai.text]) are nested tables."""
    table: dict[str, Any] = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for part in section.split("."):
        table = table[part]
    return table


def problems_of(raw: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, base_dir=tmp_path)
    return info.value.problems


def has_problem(problems: list[str], key: str, text: str = "") -> bool:
    return any(p.startswith(f"{key}:") and text in p for p in problems)


# --- the example file ------------------------------------------------------------------------


def test_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert isinstance(config, Config)
    assert config.path == EXAMPLE
    assert config.instance.base_url == "http://localhost:8000"


def test_example_has_every_section_and_no_other() -> None:
    assert list(example_layout()) == list(SECTIONS)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_example_lists_and_documents_every_key(section: str) -> None:
    keys = dict(example_layout()[section])
    fields = [f.name for f in dataclasses.fields(SECTIONS[section])]
    assert sorted(keys) == sorted(fields), f"[{section}] keys differ from the dataclass fields"
    undocumented = [k for k, documented in keys.items() if not documented]
    assert not undocumented, f"[{section}] keys without a comment above them: {undocumented}"


@pytest.mark.parametrize("section", list(SECTIONS))
def test_example_values_are_the_defaults(section: str) -> None:
    raw = example_table(section)
    defaults = SECTIONS[section]()
    for f in dataclasses.fields(defaults):
        default = getattr(defaults, f.name)
        value = raw[f.name]
        if isinstance(default, Path):
            assert value == str(default), f"{section}.{f.name}"
        elif isinstance(default, tuple):
            assert tuple(value) == default, f"{section}.{f.name}"
        else:
            assert type(value) is type(default), f"{section}.{f.name}: {value!r}"
            assert value == default, f"{section}.{f.name}"


def test_empty_config_is_the_defaults(tmp_path: Path) -> None:
    config = parse_config({}, base_dir=tmp_path)
    assert config.instance == SECTIONS["instance"]()
    assert config.federation == SECTIONS["federation"]()
    assert config.storage.database == tmp_path / "data/fediverse-ai.sqlite3"


# --- validation -------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    raw = {
        "bogus": {"x": 1},
        "instance": {"domain": "social.example.org", "scheme": "http", "colour": "red"},
        "server": {"listen_port": 70000, "trusted_proxy": "yes"},
        "storage": {"database": 5},
        "ai": {"username": "Not Valid!"},
        "federation": {"blocked_domains": ["ok.example", "not a domain"], "max_inbox_bytes": 10},
        "worker": {"concurrency": 0, "poll_interval_seconds": "fast"},
    }
    problems = problems_of(raw, tmp_path)
    expected = [
        ("bogus", "unknown section"),
        ("instance.colour", "unknown key"),
        ("instance.scheme", "'http' is only allowed"),
        ("server.listen_port", "between 1 and 65535"),
        ("server.trusted_proxy", "expected true or false, got 'yes'"),
        ("storage.database", "expected a path string, got 5"),
        ("ai.username", "lower-case letters"),
        ("federation.blocked_domains[1]", "'not a domain' is not a domain"),
        ("federation.max_inbox_bytes", "at least 1024"),
        ("worker.concurrency", "at least 1"),
        ("worker.poll_interval_seconds", "expected a number, got 'fast'"),
    ]
    missing = [(k, t) for k, t in expected if not has_problem(problems, k, t)]
    assert not missing, f"not reported: {missing}\nreported: {problems}"
    assert len(problems) == len(expected)


def test_error_message_lists_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {"listen_port": 0}, "ai": {"username": ""}}, base_dir=tmp_path)
    assert "server.listen_port" in info.value.message
    assert "ai.username" in info.value.message
    assert str(info.value) == info.value.message


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("instance", "domain", 8000, "a string"),
        ("instance", "open_registrations", 1, "true or false"),
        ("server", "listen_port", "8000", "an integer"),
        ("server", "listen_port", True, "an integer"),
        ("server", "listen_port", 80.5, "an integer"),
        ("worker", "poll_interval_seconds", False, "a number"),
        ("federation", "blocked_domains", "evil.example", "a list of strings"),
        ("federation", "blocked_domains", ["ok.example", 3], "a list of strings"),
        ("storage", "media_dir", "", "a path string"),
    ],
)
def test_wrong_types_name_the_key(
    tmp_path: Path, section: str, key: str, value: object, expected: str
) -> None:
    problems = problems_of({section: {key: value}}, tmp_path)
    assert problems == [f"{section}.{key}: expected {expected}, got {value!r}"]


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    assert problems_of({"server": 8000}, tmp_path) == ["server: must be a table"]


def test_sub_tables_name_their_keys_in_full(tmp_path: Path) -> None:
    raw = {"ai": {"unknown": {}, "text": {"bogus": 1, "max_tokens": "many"}}}
    assert problems_of(raw, tmp_path) == [
        "ai.unknown: unknown key",
        "ai.text.bogus: unknown key",
        "ai.text.max_tokens: expected an integer, got 'many'",
    ]


def test_a_parent_that_is_not_a_table_is_one_problem(tmp_path: Path) -> None:
    assert problems_of({"ai": 5}, tmp_path) == ["ai: must be a table"]
    assert problems_of({"ai": {"text": 5}}, tmp_path) == ["ai.text: must be a table"]


def test_int_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    config = parse_config({"worker": {"poll_interval_seconds": 2}}, base_dir=tmp_path)
    assert config.worker.poll_interval_seconds == 2.0
    assert isinstance(config.worker.poll_interval_seconds, float)


@pytest.mark.parametrize(
    "domain",
    ["localhost", "localhost:8123", "dev.localhost", "a.test:8443", "127.0.0.1:8000", "[::1]:80"],
)
def test_http_is_allowed_for_local_development_hosts(tmp_path: Path, domain: str) -> None:
    config = parse_config({"instance": {"domain": domain, "scheme": "http"}}, base_dir=tmp_path)
    assert config.instance.base_url == f"http://{domain}"


@pytest.mark.parametrize("domain", ["social.example.org", "10.0.0.5", "localhost.example.org"])
def test_http_is_refused_for_public_hosts(tmp_path: Path, domain: str) -> None:
    problems = problems_of({"instance": {"domain": domain, "scheme": "http"}}, tmp_path)
    assert len(problems) == 1
    assert has_problem(problems, "instance.scheme", "use https in production")


def test_https_with_public_domain_is_fine(tmp_path: Path) -> None:
    raw = {"instance": {"domain": "social.example.org", "scheme": "https"}}
    config = parse_config(raw, base_dir=tmp_path)
    assert config.instance.base_url == "https://social.example.org"
    assert config.instance.host == "social.example.org"


def test_unknown_scheme(tmp_path: Path) -> None:
    problems = problems_of({"instance": {"scheme": "gopher"}}, tmp_path)
    assert has_problem(problems, "instance.scheme", "must be 'https'")


@pytest.mark.parametrize(
    ("domain", "text"),
    [
        ("Social.Example.org", "lower case"),
        ("bad domain.org", "is not a host name"),
        ("under_score.example", "is not a host name"),
        ("-lead.example", "is not a host name"),
        ("https://social.example.org", "give the bare host"),
        ("social.example.org/", "give the bare host"),
        ("", "is not a host name"),
    ],
)
def test_bad_domain(tmp_path: Path, domain: str, text: str) -> None:
    problems = problems_of({"instance": {"domain": domain, "scheme": "https"}}, tmp_path)
    assert has_problem(problems, "instance.domain", text), problems


@pytest.mark.parametrize("domain", ["localhost:0", "localhost:65536", "localhost:99999"])
def test_domain_port_out_of_range(tmp_path: Path, domain: str) -> None:
    problems = problems_of({"instance": {"domain": domain}}, tmp_path)
    assert problems == ["instance.domain: port out of range"]


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_listen_port_out_of_range(tmp_path: Path, port: int) -> None:
    problems = problems_of({"server": {"listen_port": port}}, tmp_path)
    assert problems == ["server.listen_port: must be between 1 and 65535"]


@pytest.mark.parametrize("username", ["", "AI", "a b", "bot!", ".ai", "ai.", "ai@host", "é"])
def test_bad_ai_username(tmp_path: Path, username: str) -> None:
    problems = problems_of({"ai": {"username": username}}, tmp_path)
    assert has_problem(problems, "ai.username"), problems


@pytest.mark.parametrize("username", ["ai", "helper_bot", "gpt-4", "claude.bot", "x1"])
def test_good_ai_username(tmp_path: Path, username: str) -> None:
    assert parse_config({"ai": {"username": username}}, base_dir=tmp_path).ai.username == username


def test_lower_bounds(tmp_path: Path) -> None:
    raw = {
        "federation": {"signature_max_skew_seconds": 29},
        "worker": {"poll_interval_seconds": 0, "lease_seconds": 1.5},
    }
    problems = problems_of(raw, tmp_path)
    assert has_problem(problems, "federation.signature_max_skew_seconds", "at least 30")
    assert has_problem(problems, "worker.poll_interval_seconds", "must be positive")
    assert has_problem(problems, "worker.lease_seconds", "between 2 and 3600")
    assert len(problems) == 3


# --- paths and loading ------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc" / "fediverse-ai"
    conf_dir.mkdir(parents=True)
    path = conf_dir / "config.toml"
    path.write_text(
        '[storage]\ndatabase = "db/main.sqlite3"\nmedia_dir = "../media"\n', encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("../etc/fediverse-ai/config.toml"))
    assert config.path == path
    assert config.storage.database == conf_dir / "db" / "main.sqlite3"
    assert config.storage.media_dir == conf_dir / "../media"
    # keys_dir was not given: its default is relative too, and resolves the same way
    assert config.storage.keys_dir == conf_dir / "keys"
    assert all(p.is_absolute() for p in (config.storage.database, config.storage.keys_dir))


def test_absolute_and_home_paths_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    raw = {"storage": {"database": str(tmp_path / "abs.sqlite3"), "keys_dir": "~/keys"}}
    config = parse_config(raw, base_dir=tmp_path / "conf")
    assert config.storage.database == tmp_path / "abs.sqlite3"
    assert config.storage.keys_dir == tmp_path / "home" / "keys"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: file not found (run `fediverse-ai init` to create it)"]


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[instance]\ndomain = "unterminated\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in problem


def test_file_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[instance]\ndomain = "social.example.org"\nscheme = "http"\n'
        "[server]\nlisten_port = 0\n[extra]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = info.value.problems
    assert has_problem(problems, "extra", "unknown section")
    assert has_problem(problems, "instance.scheme")
    assert has_problem(problems, "server.listen_port")
    assert len(problems) == 3


def test_a_postgresql_url_is_kept_as_a_url_and_only_for_the_database(tmp_path: Path) -> None:
    url = "postgresql://fediverse@db.internal/fediverse_ai"
    config = parse_config(
        {
            "instance": {"domain": "social.example.org", "scheme": "https"},
            "storage": {"database": url},
        },
        base_dir=tmp_path,
    )
    assert config.storage.database == url and config.storage.sqlite_path is None
    assert config.storage.data_dir == tmp_path / "data"  # exports sit beside the media
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "instance": {"domain": "social.example.org", "scheme": "https"},
                "storage": {"media_dir": url},
            },
            base_dir=tmp_path,
        )
    assert has_problem(info.value.problems, "storage.media_dir", "not a URL")


@pytest.mark.parametrize("size", [0, -1, 101])
def test_pool_size_out_of_range(tmp_path: Path, size: int) -> None:
    problems = problems_of({"storage": {"pool_size": size}}, tmp_path)
    assert problems == ["storage.pool_size: between 1 and 100"]


def test_pool_size_is_an_integer_kept_as_given(tmp_path: Path) -> None:
    assert parse_config({"storage": {"pool_size": 12}}, base_dir=tmp_path).storage.pool_size == 12
    problems = problems_of({"storage": {"pool_size": "12"}}, tmp_path)
    assert has_problem(problems, "storage.pool_size", "an integer")
