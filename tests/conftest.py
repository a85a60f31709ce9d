"""Session fixtures shared by several test packages (the AI, web and browser tests)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from ai.servers import (
    LLAMA_API_KEY,
    RunningServer,
    free_port,
    llama_server_command,
    require_llama_cpp,
    running,
    write_tiny_gguf,
)
from support.live import LiveServer, live_server
from support.postgres import SUITE_URL_ENV, Cluster, postgres_cluster
from support.remote import RemoteFediverse, remote_server
from support.s3 import moto_s3, new_bucket, store_toml

STORE_ENV = "FEDIVERSE_AI_TEST_STORE"


def pytest_configure(config: pytest.Config) -> None:
    """A pass run in the background of a script (scripts/run-tests.sh) starts with SIGINT
    ignored, and so would every server it starts, which some tests stop with SIGINT: give
    Ctrl-C its meaning back, and let SIGTERM end the run as Ctrl-C does, so that the fixtures
    still stop their servers."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the PostgreSQL pass of ``make test``, leave out the tests that take the ``store``
    fixture: the SQLite pass has already run each of them on both stores."""
    if os.environ.get(STORE_ENV) != "postgresql":
        return
    done = [i for i in items if "store" in getattr(getattr(i, "callspec", None), "params", {})]
    if done:
        config.hook.pytest_deselected(items=done)
        items[:] = [i for i in items if i not in set(done)]


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_llama_cpp()
    path = tmp_path_factory.mktemp("llama") / "tiny-llama.gguf"
    write_tiny_gguf(path)
    return path


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path) -> Iterator[RunningServer]:
    """``python -m llama_cpp.server`` with the tiny model, requiring ``LLAMA_API_KEY``."""
    port = free_port()
    with running(
        llama_server_command(tiny_gguf, port, api_key=LLAMA_API_KEY),
        port=port,
        ready_path="/v1/models",
        headers={"Authorization": f"Bearer {LLAMA_API_KEY}"},
        log_path=tiny_gguf.with_name(f"llama-server-{port}.log"),
        startup_s=120,
    ) as server:
        yield server


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on loopback, for every test that keeps media in a bucket."""
    with moto_s3(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


def _store_toml(request: pytest.FixtureRequest, kind: str) -> str:
    if kind == "local":
        return ""
    endpoint = request.getfixturevalue("s3_endpoint")
    return store_toml(new_bucket(endpoint), endpoint)


@pytest.fixture(params=["local", "s3"])
def both_stores(request: pytest.FixtureRequest) -> str:
    """The ``[media_store]`` TOML of each store in turn (none: the media directory; a fresh
    bucket of moto's S3 server), for tests that start ``live_server`` themselves."""
    return _store_toml(request, request.param)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throw-away PostgreSQL 15 cluster for the session (tests/support/postgres.py)."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """What ``storage.database`` names, once per backend: a SQLite file under the test's
    temporary directory, or a ``postgresql://`` URL of a fresh schema in the session cluster."""
    if request.param == "sqlite":
        return tmp_path / "fediverse-ai.sqlite3"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.url(cluster.new_schema())


@pytest.fixture(scope="session", autouse=True)
def suite_store(request: pytest.FixtureRequest) -> Iterator[None]:
    """``FEDIVERSE_AI_TEST_STORE=postgresql``: every ``live_server`` left at the default database
    runs on PostgreSQL instead (how the rest of the suite is brought over, issue 15)."""
    if os.environ.get(STORE_ENV) != "postgresql":
        yield
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    os.environ[SUITE_URL_ENV] = cluster.url()
    try:
        yield
    finally:
        os.environ.pop(SUITE_URL_ENV, None)


@pytest.fixture
async def live(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    """Our server on a loopback port, its data under the test's temporary directory; its
    media in a fresh bucket of moto's S3 server when parametrised so
    (``@pytest.mark.parametrize("live", ["local", "s3"], indirect=True)``)."""
    extra = _store_toml(request, getattr(request, "param", "local"))
    async with live_server(tmp_path / "ours", extra_toml=extra) as server:
        yield server


@pytest.fixture
async def remote() -> AsyncIterator[RemoteFediverse]:
    """A signed stand-in peer (users alice and bob) on a loopback port."""
    async with remote_server() as server:
        yield server
