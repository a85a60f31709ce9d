"""The production-shaped network for the HTTP benchmarks: the e2e TLS front (nginx with a
throw-away CA, loopback host names in /etc/hosts) with our instance at ``a.test`` and the
remote actors at ``b.test``. It holds the e2e lock file while up: keep it up only while
measuring."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.network import DEFAULT_HOSTS, TLSNetwork, nginx_config

from . import serve
from .common import WORK, Proc, free_port, start_server
from .load import RemoteKeys, make_keys

REMOTE_HOST = "b.test"
BOVINE_HOST = "bovine.test"  # the bovine-herd peer, measured beside us (bench/bovine.py)
HOSTS = {**DEFAULT_HOSTS, BOVINE_HOST: "127.0.10.4"}


class TimedTLSNetwork(TLSNetwork):
    """The e2e network, with nginx logging each request's time (the latency we report:
    wrk's own histogram would mix in its probes)."""

    def _write_config(self) -> None:
        text = nginx_config(self.prefix, self.files, self.hosts, self.routes)
        log = f"access_log {self.prefix}/logs/access.log;"
        timed = (
            "log_format bench '$request_method $status $request_time';\n"
            f"    access_log {self.access_log} bench;"
        )
        self.conf.write_text(text.replace(log, timed))

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "timed.log"

    def clear_log(self) -> None:
        self.access_log.write_text("")  # nginx appends (O_APPEND): truncating is safe

    def post_latencies_ms(self) -> list[float]:
        out = []
        for line in self.access_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "POST":
                out.append(float(parts[2]) * 1000)
        return out


@dataclass
class Net:
    tls: TimedTLSNetwork
    keys: RemoteKeys
    remote: Proc
    remote_port: int

    def route(self, a_port: int | None, *, bovine_port: int | None = None) -> None:
        routes = {REMOTE_HOST: self.remote_port}
        if a_port is not None:
            routes["a.test"] = a_port
        if bovine_port is not None:
            routes[BOVINE_HOST] = bovine_port
        self.tls.set_routes(routes)

    @property
    def ssl_env(self) -> dict[str, str]:
        return {"SSL_CERT_FILE": str(self.tls.files.bundle)}


def fast_server() -> str:
    """uvicorn with uvloop+httptools when they are installed for the bench, else plain."""
    return "uvicorn-uvloop" if (serve.BENCH_SITE / "uvloop").is_dir() else "uvicorn"


@contextmanager
def network(actors: int) -> Iterator[Net]:
    WORK.mkdir(parents=True, exist_ok=True)
    keys = make_keys(REMOTE_HOST, actors)
    public = keys.write_public(WORK / "actors.json")
    port = free_port()
    env = {
        **serve.env_for(fast_server()),
        "BENCH_ACTORS": str(public),
        "BENCH_REMOTE_HOST": REMOTE_HOST,
    }
    env.pop("SSL_CERT_DIR", None)
    tls = TimedTLSNetwork(WORK / "net", HOSTS)
    tls.start()
    remote = None
    try:
        argv = serve.command(fast_server(), "bench.apps:remote", port)
        remote = start_server("remote-actors", argv, env, port)
        net = Net(tls, keys, remote, port)
        net.route(None)
        yield net
    finally:
        if remote is not None:
            remote.stop()
        tls.close()
