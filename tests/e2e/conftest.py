"""Fixtures for the end-to-end tests: a TLS network (package) and two instances (module).

``tls_network`` is started once for tests/e2e: a throw-away CA, ``a.test``/``b.test`` on their own
loopback addresses in /etc/hosts, and one nginx terminating TLS for them. ``two_instances``
starts two fresh servers for a test module and routes the hosts to them::

    def test_something(two_instances):
        a, b = two_instances
        a.cli("post", "--as", "ai", "hello")
        with b.client() as http:
            ...

These tests need root, nginx and openssl (``bash scripts/install-test-deps.sh``). Without
them they are skipped, except under CI (env var ``CI`` set), where they fail instead so that
CI never passes by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from .harness import Instance, cli_available, live_instances, missing_requirements
from .network import DEFAULT_HOSTS, LOCK_TIMEOUT_SECONDS, TLSNetwork

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = True
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if first:  # its setup may wait for the other store's run to free port 443
                item.add_marker(pytest.mark.timeout(300 + LOCK_TIMEOUT_SECONDS))
                first = False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failing e2e test, attach the server logs of the running instances to the report."""
    report = yield
    if report.failed and HERE in item.path.parents:
        for instance in live_instances():
            report.sections.append((f"e2e server log {instance.domain}", instance.log_tail(80)))
    return report


def require_e2e_environment() -> None:
    """Skip (locally) or fail (under CI) when this machine cannot run e2e tests."""
    problem = missing_requirements()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"e2e tests cannot run under CI: {problem}", pytrace=False)
    pytest.skip(f"e2e tests need root, nginx and openssl: {problem}")


def require_cli() -> None:
    """Skip only while the package has no CLI module yet (it is what starts a server)."""
    if not cli_available():
        pytest.skip("fediverse_ai.cli does not exist yet")


@pytest.fixture(scope="session")
def e2e_hosts() -> dict[str, str]:
    """Test host name -> loopback address; override to add hosts."""
    return dict(DEFAULT_HOSTS)


# Per package, not per session: `make test` runs the suite on SQLite and on PostgreSQL at once,
# and the other run waits for port 443 only while this one is in tests/e2e.
@pytest.fixture(scope="package")
def tls_network(
    tmp_path_factory: pytest.TempPathFactory, e2e_hosts: dict[str, str]
) -> Iterator[TLSNetwork]:
    require_e2e_environment()
    network = TLSNetwork(tmp_path_factory.mktemp("e2e-network"), e2e_hosts)
    try:
        network.start()
        yield network
    finally:
        network.close()


@pytest.fixture(scope="module")
def two_instances(
    tls_network: TLSNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Instance, Instance]]:
    """Instance A at https://a.test and B at https://b.test, started fresh for the module."""
    require_cli()
    root = tmp_path_factory.mktemp("e2e-instances")
    domain_a, domain_b = list(tls_network.hosts)[:2]
    a = Instance(name="Instance A", domain=domain_a, root=root, tls=tls_network.files)
    b = Instance(name="Instance B", domain=domain_b, root=root, tls=tls_network.files)
    with ExitStack() as cleanup:  # every step runs even when one before it fails
        cleanup.callback(tls_network.set_routes, {})
        cleanup.callback(b.close)
        cleanup.callback(a.close)
        tls_network.set_routes({a.domain: a.port, b.domain: b.port})
        a.start()
        b.start()
        yield a, b
