"""Web form and page requests from :data:`fuzz.routes.ROUTES`, built from a seed.

Each request picks a route, who sends it (anonymous, a user, the admin, or a throwaway session
that logs in and out), fills the path and fields with plausible or hostile values, and sends a
valid CSRF token and Origin most of the time, so that the handlers run and not only the check.
"""

from __future__ import annotations

import random
import re
from urllib.parse import quote

from .mutate import HOSTILE_TEXT
from .requests import FuzzRequest, rng_for
from .routes import ROUTES, Route
from .web_values import uploads, value

_PARAM = re.compile(r"\{(\w+)\}")
ACTIVITY_JSON = "application/activity+json"
#: Who may send each kind of route, and how often each sender is picked.
SENDERS = {
    "anon": (("anon", 1.0),),
    "user": (("user", 0.85), ("anon", 0.1), ("admin", 0.05)),
    "admin": (("admin", 0.8), ("user", 0.1), ("anon", 0.1)),
    "any": (("anon", 0.4), ("user", 0.4), ("admin", 0.2)),
    # The client API's bearer-token routes: the web fuzz test must then hold a "token" client.
    "token": (("token", 0.85), ("anon", 0.1), ("user", 0.05)),
}
#: Logging in and out changes a session: those requests use a session of their own.
SESSION_CHANGING = {"/login", "/logout"}
#: Stands for the throwaway session's token, which changes as it logs in and out: the sender
#: reads the current one just before sending and puts it in place of this.
THROWAWAY_CSRF = "__throwaway_csrf__"


def _encode(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _form_body(fields: dict[str, str]) -> bytes:
    pairs = (f"{_encode(k)}={_encode(v)}" for k, v in fields.items())
    return "&".join(pairs).encode("ascii")


def _multipart(
    fields: dict[str, str], files: dict[str, tuple[str, str, bytes]], boundary: str
) -> bytes:
    """A multipart/form-data body written by hand, so file names and values go as made."""
    out = []
    for name, text in fields.items():
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + text.encode("utf-8", "surrogatepass")
            + b"\r\n"
        )
    for name, (file_name, content_type, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}";'
            f' filename="{file_name.replace(chr(34), "%22")}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        out.append(head.encode("utf-8", "surrogatepass") + data + b"\r\n")
    return b"".join(out) + f"--{boundary}--\r\n".encode()


class WebRequests:
    """Builds web request ``index`` of a run; ``extra`` holds ids and handles that exist."""

    def __init__(
        self,
        seed: int,
        base_url: str,
        csrf: dict[str, str],
        extra: dict[str, tuple[str, ...]],
        routes: tuple[Route, ...] = ROUTES,
    ) -> None:
        self.seed = seed
        self.base_url = base_url
        self.csrf = csrf  # sender -> its token (the throwaway session fetches its own)
        self.extra = extra
        self.routes = routes
        self.weights = [r.weight for r in routes]

    def build(self, index: int) -> FuzzRequest:
        """Request ``index``; its ``sender`` names the session (client) that sends it."""
        rng = rng_for(self.seed, index, "web")
        route = rng.choices(self.routes, weights=self.weights)[0]
        options = SENDERS[route.auth]
        sender = rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]
        if route.path in SESSION_CHANGING:
            sender = "throwaway"
        notes = [f"{route.method} {route.path} as {sender}"]
        path = _PARAM.sub(lambda m: _encode(value(m.group(1), rng, self.extra)), route.path)
        fields = {
            name: value(kind, rng, self.extra)
            for name, kind in route.fields.items()
            if rng.random() < 0.9  # now and then a field is missing
        }
        if rng.random() < 0.1:
            fields[rng.choice(["extra", "csrf2", "\x00", "a" * 300])] = rng.choice(HOSTILE_TEXT)
        accept = rng.choice(["text/html", "*/*", "x/y", ACTIVITY_JSON, "application/json"])
        headers: list[tuple[str, str]] = [("Accept", accept)]
        if route.method == "GET":
            pairs = [f"{_encode(k)}={_encode(v)}" for k, v in fields.items()]
            if pairs and rng.random() < 0.1:
                pairs.append(rng.choice(pairs))  # a parameter given twice
            query = "&".join(pairs)
            url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
            # Now and then another method than the route's: HEAD and OPTIONS, or a POST to a page.
            method = (
                rng.choice(["HEAD", "OPTIONS", "POST", "PUT"]) if rng.random() < 0.05 else "GET"
            )
            return FuzzRequest(
                index, method, url, headers, b"", notes, sender=sender, route=f"GET {route.path}"
            )
        self._csrf(fields, sender, rng, notes)
        origin = self.base_url if rng.random() < 0.9 else rng.choice(["", "null", "http://x.test"])
        if origin:
            headers.append(("Origin", origin))
        if route.files and rng.random() < 0.7:
            boundary = f"fuzz{rng.randrange(10**9)}"
            files = {}
            for name in route.files:
                if rng.random() < 0.4:
                    file_name, content_type, data = rng.choice(uploads())
                    if rng.random() < 0.15:
                        content_type = rng.choice(["image/png", "text/html", "", "image/x-x"])
                    files[name] = (file_name, content_type, data)
            body = _multipart(fields, files, boundary)
            content_type = f"multipart/form-data; boundary={boundary}"
            notes.append(f"files: {sorted((n, f[0]) for n, f in files.items())}")
        else:
            body = _form_body(fields)
            content_type = "application/x-www-form-urlencoded"
        if rng.random() < 0.05:
            content_type = rng.choice(["text/plain", "application/json", "multipart/form-data"])
            notes.append("wrong content type")
        headers.append(("Content-Type", content_type))
        url = f"{self.base_url}{path}"
        return FuzzRequest(
            index,
            route.method,
            url,
            headers,
            body,
            notes,
            sender=sender,
            route=f"{route.method} {route.path}",
        )

    def _csrf(
        self, fields: dict[str, str], sender: str, rng: random.Random, notes: list[str]
    ) -> None:
        """A valid token mostly; else none, an empty one, another sender's, or garbage."""
        roll = rng.random()
        if roll < 0.85:
            fields["csrf"] = self.csrf.get(sender, THROWAWAY_CSRF)
            if sender == "throwaway":
                notes.append("csrf of the throwaway session")
        elif roll < 0.9:
            notes.append("no csrf")
        else:
            fields["csrf"] = rng.choice(["", "x" * 32, *self.csrf.values(), "\ud800"])
            notes.append("wrong csrf")
