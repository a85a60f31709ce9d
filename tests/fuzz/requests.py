"""One fuzz request: what is sent, how to print it, and the seed that rebuilds it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_PRINTED_BODY = 600


def rng_for(seed: int, index: int, what: str = "") -> random.Random:
    """The generator of request ``index``: each request depends on the seed and its index
    alone, so ``FUZZ_ONLY=index`` rebuilds exactly that request without the others."""
    return random.Random(f"{seed}:{index}:{what}")


@dataclass
class FuzzRequest:
    """An HTTP request the fuzzer sends, with a note of how it was made."""

    index: int
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    notes: list[str] = field(default_factory=list)
    raw: bool = False  # sent over a bare socket: headers the HTTP client would refuse
    sender: str = ""  # web requests: whose session sends it
    route: str = ""  # web requests: the route template, for the figures by route

    def describe(self, seed: int, rerun: str) -> str:
        """The request as a failure report prints it, and how to send only it again."""
        lines = [f"fuzz request #{self.index} (seed {seed}): {'; '.join(self.notes)}"]
        lines.append(f"  {self.method} {self.url}" + (f" as {self.sender}" if self.sender else ""))
        for name, value in self.headers:
            lines.append(f"  {name}: {_short(value.encode('utf-8', 'replace'))}")
        lines.append(f"  body ({len(self.body)} bytes): {_short(self.body)}")
        lines.append(f"  re-run just this one: FUZZ_SEED={seed} FUZZ_ONLY={self.index} {rerun}")
        return "\n".join(lines)


def _short(data: bytes) -> str:
    text = repr(data[:MAX_PRINTED_BODY])
    return text + (f" ... ({len(data) - MAX_PRINTED_BODY} more bytes)" if len(data) > 600 else "")
