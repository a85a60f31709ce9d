"""The files in deploy/ name commands that exist.

Neither systemd nor Docker runs here, so the units, the Dockerfile and the compose file are
not started by the tests (README.md says so). What can rot silently is checked instead: every
command they run parses with the real CLI parser into the command it claims, and the health
check asks for a route the app serves.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from fediverse_ai import cli
from fediverse_ai.app import create_app
from fediverse_ai.config import Config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
ROOT = DEPLOY.parent


def unit_values(path: Path) -> dict[str, list[str]]:
    """Key -> values of a systemd unit file (keys may repeat)."""
    values: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not key=value: {line!r}"
        values.setdefault(key.strip(), []).append(value.strip())
    return values


def command_of(argv: list[str]) -> str:
    """The CLI function ``argv`` (starting with the program) runs, as the real parser sees it."""
    assert Path(argv[0]).name == "fediverse-ai", argv
    args = cli.build_parser().parse_args(argv[1:])
    return str(args.func.__name__)


def dockerfile_instructions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    joined = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


@pytest.mark.parametrize(
    ("unit", "command"),
    [("fediverse-ai.service", "cmd_run"), ("fediverse-ai-worker.service", "cmd_worker")],
)
def test_systemd_units_start_real_commands(unit: str, command: str) -> None:
    values = unit_values(DEPLOY / unit)
    [exec_start] = values["ExecStart"]
    argv = shlex.split(exec_start)
    assert Path(argv[0]).is_absolute()  # systemd wants an absolute path
    assert command_of(argv) == command
    [config_env] = values["Environment"]
    assert config_env.startswith("FEDIVERSE_AI_CONFIG=")
    assert values["KillSignal"] == ["SIGTERM"]  # what the server and worker stop cleanly on
    assert values["UMask"] == ["0077"]


def test_dockerfile_runs_a_real_command_and_checks_a_real_route() -> None:
    found = dockerfile_instructions()
    [cmd] = found["CMD"]
    assert command_of(json.loads(cmd)) == "cmd_run"
    [healthcheck] = found["HEALTHCHECK"]
    assert "/healthz" in healthcheck
    routes = {rule.rule for rule in create_app(Config()).url_map.iter_rules()}
    assert "/healthz" in routes
    for copied in found["COPY"]:  # the build copies files that exist
        for source in copied.split()[:-1]:
            assert (ROOT / source).exists(), source
    assert found["USER"] != ["root"]


def test_compose_file_builds_the_dockerfile_and_runs_a_real_command() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    [service] = compose["services"].values()
    assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert command_of(service["command"]) == "cmd_run"
    assert any(v.endswith(":/data") for v in service["volumes"])
