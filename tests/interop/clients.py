"""Real Mastodon client libraries as a local user of https://a.test drives them, for the
interop tests: Mastodon.py in this process, masto.js and megalodon through
``tests/client_api/js/remote.mjs``, one step per run (the test acts on the peer between steps).

Every app answers the same small dicts, so one test covers the three: ``follow`` gives
``{"account": {id, acct, uri}, "relationship": {id, following, requested}}``, ``following``
and ``unfollow`` ``{"relationship"}``, ``home`` ``{"status": {id, uri, acct, content}}``,
``favourite`` ``{"found": <that status>, "status": {id, favourited, favourites_count}}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any, Protocol

import requests
from client_api.support import user_token
from e2e.harness import Instance, wait_until
from mastodon import Mastodon
from web.support import PASSWORD

JS = Path(__file__).parent.parent / "client_api" / "js"
LIBRARIES = ("mastodon.py", "masto", "megalodon")
STEP_TIMEOUT_S = 120.0
# Generous: eight test runs may share two cores, and a federated post takes several hops.
WAIT_S = 60.0


class App(Protocol):
    def step(self, name: str, arg: str) -> dict[str, Any]: ...


def js_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    for package in ("masto", "megalodon"):
        if not (JS / "node_modules" / package).is_dir():
            return f"tests/client_api/js/node_modules/{package} is missing: run make test-deps"
    return None


def logged_in_user(ours: Instance, username: str) -> str:
    """A new local account with a web password, and an access token for it through the
    whole OAuth flow (app, login, consent, PKCE code exchange) over the test TLS."""
    ours.cli("user", "add", username, "--password-stdin", stdin=PASSWORD + "\n")
    verify = ssl.create_default_context(cafile=str(ours.tls.bundle))
    _, token = asyncio.run(user_token(ours, username, new_user=False, verify=verify))
    return token


def _relation(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(doc["id"]), "following": doc["following"], "requested": doc["requested"]}


def _brief(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(status["id"]),
        "uri": status["uri"],
        "acct": status["account"]["acct"],
        "content": status["content"],
    }


class MastodonPyApp:
    """Mastodon.py (synchronous, in this process), trusting the test CA."""

    def __init__(self, ours: Instance, token: str) -> None:
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, wins over ``verify``
        session.verify = str(ours.tls.bundle)
        self.ours = ours
        self.api = Mastodon(access_token=token, api_base_url=ours.base_url, session=session)
        # Read now, loudly: when it fails later, Mastodon.py 2.3.3 recurses until the stack ends.
        self.api.retrieve_mastodon_version(fail_hard=True)

    def _poll(self, what: str, get: Any) -> Any:
        return wait_until(
            get, timeout=WAIT_S, message=f"mastodon.py: {what}", instances=[self.ours]
        )

    def step(self, name: str, arg: str) -> dict[str, Any]:
        api = self.api
        if name == "follow":
            found = api.search_v2(arg, resolve=True, result_type="accounts")
            assert found["accounts"], f"no account found for {arg}: {found}"
            account = found["accounts"][0]
            relation = _relation(api.account_follow(account["id"]))
            brief = {"id": str(account["id"]), "acct": account["acct"], "uri": account["uri"]}
            return {"account": brief, "relationship": relation}
        if name == "following":
            found = self._poll(
                f"following {arg}",
                lambda: [r for r in api.account_relationships(arg) if r["following"]],
            )
            return {"relationship": _relation(found[0])}
        if name == "home":
            found = self._poll(
                f"{arg} in the home timeline",
                lambda: [s for s in api.timeline_home(limit=40) if s["uri"] == arg],
            )
            return {"status": _brief(found[0])}
        if name == "unfollow":
            return {"relationship": _relation(api.account_unfollow(arg))}
        if name == "favourite":
            found = api.search_v2(arg, resolve=True, result_type="statuses")
            assert found["statuses"], f"no status found for {arg}: {found}"
            liked = api.status_favourite(found["statuses"][0]["id"])
            counts = {
                "favourited": liked["favourited"],
                "favourites_count": liked["favourites_count"],
            }
            return {
                "found": _brief(found["statuses"][0]),
                "status": {"id": str(liked["id"]), **counts},
            }
        raise ValueError(f"unknown step {name}")


class JsApp:
    """masto.js or megalodon under node, one ``remote.mjs`` run per step."""

    def __init__(self, ours: Instance, token: str, library: str) -> None:
        self.ours = ours
        self.token = token
        self.library = library

    def step(self, name: str, arg: str) -> dict[str, Any]:
        env = dict(
            os.environ,
            NODE_EXTRA_CA_CERTS=str(self.ours.tls.ca_cert),
            NODE_NO_WARNINGS="1",
            REMOTE_WAIT_MS=str(int(WAIT_S * 1000)),
        )
        argv = ["node", str(JS / "remote.mjs"), self.library, self.ours.base_url, self.token]
        try:
            ran = subprocess.run(
                [*argv, name, arg],
                cwd=JS,
                env=env,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.library} {name} {arg}: no answer in {STEP_TIMEOUT_S}s"
            ) from None
        lines = [line for line in ran.stdout.splitlines() if line.startswith("{")]
        doc: dict[str, Any] = json.loads(lines[-1]) if lines else {"event": "none"}
        assert doc["event"] == "done", (
            f"{self.library} {name} {arg}: {doc}\n--- stderr ---\n{ran.stderr[-3000:]}\n"
            f"{self.ours.log_tail(40)}"
        )
        return doc


def make_app(ours: Instance, library: str, token: str) -> App:
    if library == "mastodon.py":
        return MastodonPyApp(ours, token)
    return JsApp(ours, token, library)
