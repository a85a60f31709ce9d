"""Whether the AI actor answers a mention: consent, blocks, loops, rate limits, budget.

The decision is recorded in ``ai_replies`` in the same transaction that charges the rate
buckets and the daily budget. Until it is recorded, every attempt of the job checks again,
so a failure in the middle of a check can never let a later attempt skip it, and a check run
twice (a lease that expired under a slow worker) charges once.
"""

from __future__ import annotations

import contextlib
import ipaddress
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from ..ai.consent import opted_out
from ..models import Actor, Note
from ..netguard import is_blocked_domain
from ..state import State
from ..storage import actors, ai_replies
from ..storage.ai_replies import Bucket, Limits

ACCOUNT_LIMITED = "rate limit for this account"
DOMAIN_LIMITED = "rate limit for this domain"


@cache
def _suffixes() -> PublicSuffixList:
    # ICANN section only: the private section lists services where anyone mints subdomains
    # for free (dynamic DNS, page hosts), and each of those would be a fresh domain bucket.
    # Built on first use (it parses the bundled list), not at import.
    return PublicSuffixList(only_icann=True)


def rate_domain(actor_uri: str) -> str:
    """The key of the per-domain limit: the registrable domain of the actor's host.

    ``a.evil.example`` and ``b.evil.example`` are one domain, as wildcard DNS would otherwise
    give an attacker unlimited domains. IPv4 addresses count alone; IPv6 addresses by /64,
    the block one host is usually given.
    """
    try:
        host = (urlsplit(actor_uri).hostname or "").rstrip(".")
    except ValueError:
        host = ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)
    with contextlib.suppress(UnicodeError):  # not a valid IDN: it is its own key
        host = host.encode("idna").decode("ascii")
    return _suffixes().privatesuffix(host) or host


async def standing_refusal(state: State, author: Actor) -> str | None:
    """Reasons that hold whatever the mention says: bots, consent, blocked domains."""
    if author.is_bot:
        return "author is a bot"
    if opted_out(f"{author.display_name} {author.summary}", author.fields):
        return "author opted out (#nobot/#noai/#nollm)"
    host = urlsplit(author.uri).hostname or ""
    if is_blocked_domain(host, await state.blocked_domains()):
        return "domain blocked"
    return None


async def _buckets(state: State, author: Actor) -> list[Bucket] | str:
    """The rate buckets a remote author's answer charges, or the reason it cannot be had."""
    limits = state.config.ai_limits
    now = state.now()
    # Dated by when we first stored the account, never by the `published` it claims: a
    # fresh account could claim to be ten years old.
    seen = await actors.first_seen(state.db, author.id)
    young = seen is None or now - seen < limits.new_account_days * 86400
    per_hour = limits.new_account_per_hour if young else limits.per_account_per_hour
    if per_hour == 0:
        return ACCOUNT_LIMITED
    if limits.per_domain_per_hour == 0:
        return DOMAIN_LIMITED
    per_domain = limits.per_domain_per_hour
    return [
        Bucket(f"account:{author.uri}", per_hour, per_hour / 3600, ACCOUNT_LIMITED),
        Bucket(f"domain:{rate_domain(author.uri)}", per_domain, per_domain / 3600, DOMAIN_LIMITED),
    ]


async def decide(state: State, mention: Note, author: Actor) -> str | None:
    """None when the AI answers ``mention``; else why it stays silent. Recorded either way."""
    now = state.now()
    refusal = await standing_refusal(state, author)
    buckets: list[Bucket] = []
    if refusal is None and not author.local:
        found = await _buckets(state, author)
        if isinstance(found, str):
            refusal = found
        else:
            buckets = found
    limits = Limits(
        thread_uri=await ai_replies.thread_of(state.db, mention.uri, mention.in_reply_to_uri),
        thread_cap=state.config.ai.max_replies_per_thread,
        buckets=buckets,
        day=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d"),
        budget=state.config.ai_limits.daily_budget,
    )
    decision = await ai_replies.decide(state.db, mention.uri, limits, now=now, refusal=refusal)
    return None if decision.answer else (decision.reason or "not answered")
