"""The files in deploy/ name commands that exist, and what can be run here is run.

Neither systemd nor Docker runs here, so the units, the Dockerfile and the compose file are
not started by the tests (README.md says so). What can rot silently is checked instead: every
command they run parses with the real CLI parser into the command it claims, the health
check asks for a route the app serves, the units pass ``systemd-analyze verify`` where it is
installed, and the nginx site (deploy/nginx.conf) passes ``nginx -t`` and serves a live
instance, WebSocket streaming included, where nginx is installed.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websocket
import yaml
from client_api.support import user_token
from support.live import LiveServer, live_server
from support.postgres import free_port

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


# --- several processes: the templated units and nginx (README "Two machines and more") -------

TEMPLATES = {"fediverse-ai-web@.service": "8001", "fediverse-ai-worker@.service": "1"}
HARDENING = {
    "NoNewPrivileges": "true",
    "ProtectSystem": "strict",
    "ProtectHome": "true",
    "PrivateTmp": "true",
    "PrivateDevices": "true",
    "RestrictSUIDSGID": "true",
    "CapabilityBoundingSet": "",
    "SystemCallFilter": "@system-service",
}


def test_the_web_template_runs_a_web_only_process_on_the_port_of_its_name() -> None:
    values = unit_values(DEPLOY / "fediverse-ai-web@.service")
    [exec_start] = values["ExecStart"]
    argv = shlex.split(exec_start.replace("%i", TEMPLATES["fediverse-ai-web@.service"]))
    assert command_of(argv) == "cmd_run"
    args = cli.build_parser().parse_args(argv[1:])
    assert args.no_worker and args.port == 8001


def test_the_worker_template_runs_a_worker() -> None:
    [exec_start] = unit_values(DEPLOY / "fediverse-ai-worker@.service")["ExecStart"]
    assert command_of(shlex.split(exec_start)) == "cmd_worker"


@pytest.mark.parametrize("unit", sorted(TEMPLATES))
def test_templates_are_hardened_restarted_and_wait_for_postgresql(unit: str) -> None:
    values = unit_values(DEPLOY / unit)
    for key, value in HARDENING.items():
        assert values.get(key) == [value], key
    assert values["Restart"] == ["on-failure"] and values["KillSignal"] == ["SIGTERM"]
    assert values["UMask"] == ["0077"]
    [after] = values["After"]
    assert "postgresql.service" in after.split()
    assert values["ReadWritePaths"] == ["/var/lib/fediverse-ai"]


def test_run_port_must_be_a_port() -> None:
    parser = cli.build_parser()
    for bad in ("0", "65536", "http"):
        with pytest.raises(SystemExit):
            parser.parse_args(["run", "--port", bad])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize(
    "unit", ["fediverse-ai.service", "fediverse-ai-worker.service", *sorted(TEMPLATES)]
)
def test_units_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    # verify wants the program to exist: the installed one stands in for /opt/fediverse-ai's.
    program = Path(sys.executable).with_name("fediverse-ai")
    assert program.is_file()
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    (tmp_path / unit).write_text(text.replace(INSTALLED_PROGRAM, str(program)))
    name = unit.replace("@.", f"@{TEMPLATES[unit]}.") if unit in TEMPLATES else unit
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"./{name}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Unknown keys and bad values are only warnings (exit 0): any output is a problem.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


INSTALLED_PROGRAM = "/opt/fediverse-ai/.venv/bin/fediverse-ai"
NGINX_SITE = DEPLOY / "nginx.conf"
needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=social.example.org",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return cert, key


def nginx_config(directory: Path, *, https_port: int, http_port: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf on loopback ports with a throw-away certificate, in an http block of
    a main config whose every path is under ``directory`` (a prefix of its own)."""
    cert, key = self_signed(directory)
    site = NGINX_SITE.read_text(encoding="utf-8")
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstreams
    )
    for old, new in {
        "    server 127.0.0.1:8001 max_fails=3 fail_timeout=10s;\n"
        "    server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;\n": servers,
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "/etc/letsencrypt/live/social.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/social.example.org/privkey.pem": str(key),
    }.items():
        assert old in site, f"deploy/nginx.conf no longer has {old!r}: update this test"
        site = site.replace(old, new)
    (directory / "site.conf").write_text(site, encoding="utf-8")
    main = directory / "nginx.conf"
    main.write_text(
        f"""
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    include {directory}/site.conf;
}}
""",
        encoding="utf-8",
    )
    return main


@needs_nginx
def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    main = nginx_config(tmp_path, https_port=free_port(), http_port=free_port(), upstreams=[8001])
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr, result.stderr


@pytest.fixture
async def through_nginx(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    """Our server behind deploy/nginx.conf (TLS on a loopback port), with a second upstream
    that is down, as a web process being restarted is: ``(server, https base URL)``."""
    async with live_server(tmp_path / "ours") as server:
        nginx_dir = tmp_path / "nginx"
        nginx_dir.mkdir()
        https_port = free_port()
        upstreams = [free_port(), server.config.server.listen_port]  # the first is down
        main = nginx_config(
            nginx_dir, https_port=https_port, http_port=free_port(), upstreams=upstreams
        )
        log = nginx_dir / "error.log"
        nginx = subprocess.Popen(
            ["nginx", "-p", str(nginx_dir), "-c", str(main), "-e", str(log), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"https://127.0.0.1:{https_port}"
            await wait_for_port(https_port, nginx, log)
            yield server, base
        finally:
            nginx.terminate()
            nginx.wait(timeout=30)


async def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {log.read_text() if log.exists() else ''}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    pytest.fail("nginx never listened")


@needs_nginx
async def test_nginx_passes_requests_and_streams_to_a_web_process_past_one_that_is_down(
    through_nginx: tuple[LiveServer, str],
) -> None:
    server, base = through_nginx
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=30) as http:
        for _ in range(4):  # round robin would hit the process that is down every other time
            response = await http.get("/healthz")
            assert response.status_code == 200, response.text
    _, token = await user_token(server, "alice")
    ws_url = base.replace("https", "wss", 1) + f"/api/v1/streaming?stream=user&access_token={token}"
    conn = await asyncio.to_thread(
        websocket.create_connection, ws_url, timeout=30, sslopt={"cert_reqs": ssl.CERT_NONE}
    )
    try:
        async with httpx.AsyncClient(base_url=base, verify=False, timeout=30) as http:
            posted = await http.post(
                "/api/v1/statuses",
                data={"status": "through the proxy"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert posted.status_code == 200, posted.text
        frame = json.loads(await asyncio.to_thread(conn.recv))
        assert frame["event"] == "update"
        assert json.loads(frame["payload"])["id"] == posted.json()["id"]
    finally:
        await asyncio.to_thread(conn.close)


def test_the_postgresql_compose_file_runs_web_only_and_worker_processes_on_one_database() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.postgresql.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "minio", "web", "worker"} <= set(services)
    web, worker = services["web"], services["worker"]
    assert command_of(web["command"]) == "cmd_run" and "--no-worker" in web["command"]
    assert command_of(worker["command"]) == "cmd_worker"
    assert web["build"]["args"]["EXTRAS"] == "postgresql,s3"
    assert "ARG EXTRAS" in [f"ARG {a.split('=')[0]}" for a in dockerfile_instructions()["ARG"]]
    assert worker["image"] == web["image"]  # built once, by the web service
    # Every process mounts the one volume with the config and the actors' keys.
    for service in (web, worker):
        assert "fediverse-ai-data:/data" in service["volumes"]
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
