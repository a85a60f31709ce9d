"""Sign-ups by visitors (``instance.open_registrations``), approved by an admin unless
``instance.approval_required`` is off.

A pending sign-up is a row of its own, not an account: its name is neither followable nor
found by WebFinger, and no key pair is made for it, until an admin approves it. The web's
``/signup`` and ``/admin/signups`` and the CLI's ``user signups|approve-signup|reject-signup``
all come here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .accounts import check_username, ensure_account
from .errors import BadRequest, NotFound
from .models import Account
from .passwords import check_strength, hash_password
from .state import State
from .storage import actors, signups
from .storage.signups import Signup

MAX_REASON = 1000
MAX_EMAIL = 200


@dataclass(frozen=True)
class SignupForm:
    username: str
    email: str
    reason: str
    password: str


async def check(state: State, form: SignupForm) -> str:
    """The username to use, after refusing what cannot become an account."""
    username = form.username.strip().lstrip("@").lower()
    await check_username(state, username)
    if await signups.by_username(state.db, username) is not None:
        raise BadRequest(f"the username {username!r} is taken")
    email = form.email.strip()
    if len(email) > MAX_EMAIL or (email and ("@" not in email or any(c.isspace() for c in email))):
        raise BadRequest("the email address does not look like one")
    if len(form.reason.strip()) > MAX_REASON:
        raise BadRequest(f"the reason is limited to {MAX_REASON} characters")
    if state.config.instance.approval_required and not form.reason.strip():
        raise BadRequest("say in a few words why you would like to join: an admin reads it")
    problem = check_strength(form.password)
    if problem:
        raise BadRequest(problem)
    return username


async def sign_up(state: State, form: SignupForm, *, address: str) -> Account | None:
    """Sign up: the new account when no approval is needed, else None (it waits)."""
    username = await check(state, form)
    password_hash = await asyncio.to_thread(hash_password, form.password)
    if not state.config.instance.approval_required:
        account = await ensure_account(state, username, role="user")
        await actors.set_password_hash(state.db, account.actor.id, password_hash)
        await actors.set_email(state.db, account.actor.id, form.email.strip())
        return account
    added = await signups.add(
        state.db,
        username=username,
        email=form.email.strip(),
        reason=form.reason.strip(),
        password_hash=password_hash,
        address=address[:100],
        now=state.now(),
    )
    if not added:
        raise BadRequest(f"the username {username!r} is taken")
    return None


async def _find(state: State, username: str) -> Signup:
    found = await signups.by_username(state.db, username.strip().lstrip("@"))
    if found is None:
        raise NotFound(f"no sign-up by {username!r}")
    return found


async def approve(state: State, username: str) -> Account:
    """Make the account, with the password chosen at sign-up; a rejected sign-up may be
    approved after all."""
    signup = await _find(state, username)
    if await actors.local_by_username(state.db, signup.username) is not None:
        # Made meanwhile (``user add``): approving must not hand its password to the sign-up.
        raise BadRequest(f"an account {signup.username!r} exists already; reject this sign-up")
    account = await ensure_account(state, signup.username, role="user")
    await actors.set_password_hash(state.db, account.actor.id, signup.password_hash)
    await actors.set_email(state.db, account.actor.id, signup.email)
    await signups.delete(state.db, signup.id)
    return account


async def reject(state: State, username: str) -> None:
    signup = await _find(state, username)
    if not await signups.reject(state.db, signup.id, now=state.now()):
        raise BadRequest(f"the sign-up by {signup.username!r} was already rejected")
