"""Where local objects live: one place that knows our URL layout."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

_NOTE_PAGE = re.compile(r"/@([^/@]+)/(\d+)/?")


@dataclass(frozen=True)
class Urls:
    base: str  # scheme://domain, no trailing slash

    def actor(self, username: str) -> str:
        return f"{self.base}/users/{username}"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    def key_id(self, actor_uri: str) -> str:
        return f"{actor_uri}#main-key"

    def profile(self, username: str) -> str:
        return f"{self.base}/@{username}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    def actor_urls(self, username: str, *, instance: bool = False) -> dict[str, str]:
        uri = self.instance_actor if instance else self.actor(username)
        return {
            "uri": uri,
            "url": f"{self.base}/about" if instance else self.profile(username),
            "inbox": f"{uri}/inbox",
            "shared_inbox": self.shared_inbox,
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "following": f"{uri}/following",
            "featured": f"{uri}/collections/featured",
            "key_id": self.key_id(uri),
        }

    def note(self, username: str, status_id: str) -> str:
        return f"{self.actor(username)}/statuses/{status_id}"

    def note_html(self, username: str, status_id: str) -> str:
        return f"{self.profile(username)}/{status_id}"

    def note_for_page(self, url: str) -> str | None:
        """The id of a local note from the address of its page (``/@name/ID``, what a browser
        shows and people copy), or None for any other URL."""
        if not self.is_local(url):
            return None
        match = _NOTE_PAGE.fullmatch(url[len(self.base) :].split("#")[0].split("?")[0])
        return self.note(match[1], match[2]) if match else None

    def activity(self) -> str:
        return f"{self.base}/activities/{secrets.token_hex(16)}"

    def media(self, file_name: str) -> str:
        return f"{self.base}/media/{file_name}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{quote(name.lower())}"

    def is_local(self, uri: str | None) -> bool:
        return bool(uri) and (uri == self.base or str(uri).startswith(self.base + "/"))


def new_status_id(now: float | None = None) -> str:
    """Time-ordered, unguessable: milliseconds since the epoch then 16 random bits."""
    ms = int((now if now is not None else time.time()) * 1000)
    return str((ms << 16) | secrets.randbits(16))
