"""Account migration (issue 13 item 9): Move received and sent, aliases, follows as CSV.

Given our server and a real peer on loopback, when a followed remote account moves to one that
names it in ``alsoKnownAs``, then our followers follow the new account and leave the old; a Move
the target does not confirm changes nothing; and our own users can alias, move, export and
import their follows the way Mastodon users do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.live import LiveServer
from support.remote import RemoteFediverse

from fediverse_ai import as2_out
from fediverse_ai.errors import BadRequest
from fediverse_ai.federation import interactions, moves, resolver
from fediverse_ai.models import Account
from fediverse_ai.storage import actors, follows


async def following(live: LiveServer, account: Account) -> set[str]:
    return {a.uri for a in await follows.following(live.state.db, account.actor.id)}


async def carol_follows_alice(live: LiveServer, remote: RemoteFediverse) -> Account:
    carol = await live.account("carol")
    alice = await resolver.fetch_actor(live.state, remote.actor_uri("alice"))
    await interactions.follow(live.state, carol, alice)
    await live.drain()
    [follow] = remote.posts(type="Follow")
    assert follow.activity is not None
    accept = remote.activity("alice", "Accept", remote.embedded(follow.activity))
    assert (await remote.send(live.inbox("carol"), accept)).status_code == 202
    await live.drain()
    assert await following(live, carol) == {alice.uri}
    return carol


async def test_a_confirmed_move_moves_our_follows(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    carol = await carol_follows_alice(live, remote)
    alice, bob = remote.actor_uri("alice"), remote.actor_uri("bob")
    remote.users["bob"].actor_extra["alsoKnownAs"] = [alice]
    move = remote.activity("alice", "Move", alice, target=bob)

    assert (await remote.send(live.shared_inbox, move)).status_code == 202
    await live.drain()

    new_follow = [p for p in remote.posts(type="Follow") if p.activity["object"] == bob]
    assert len(new_follow) == 1 and new_follow[0].verified
    [undo] = remote.posts(type="Undo")
    assert undo.activity is not None and undo.activity["object"]["object"] == alice
    assert await follows.get(live.state.db, carol.actor.id, (await actor(live, alice)).id) is None
    assert (await actor(live, alice)).moved_to == bob


async def test_a_move_the_target_does_not_confirm_changes_nothing(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    carol = await carol_follows_alice(live, remote)
    alice, bob = remote.actor_uri("alice"), remote.actor_uri("bob")
    # Bob does not name Alice: her Move is not confirmed.
    unconfirmed = remote.activity("alice", "Move", alice, target=bob)
    assert (await remote.send(live.shared_inbox, unconfirmed)).status_code == 202
    await live.drain()
    # Bob names Alice, but Bob cannot move Alice: only an account moves itself.
    remote.users["bob"].actor_extra["alsoKnownAs"] = [alice]
    someone_else = remote.activity("bob", "Move", alice, target=bob)
    assert (await remote.send(live.shared_inbox, someone_else)).status_code == 202
    await live.drain()

    assert await following(live, carol) == {alice}
    assert remote.posts(type="Undo") == []
    assert (await actor(live, alice)).moved_to is None


async def actor(live: LiveServer, uri: str) -> object:
    found = await actors.by_uri(live.state.db, uri)
    assert found is not None
    return found


async def test_our_user_aliases_then_moves_and_followers_are_told(
    live: LiveServer, remote: RemoteFediverse
) -> None:
    carol = await live.account("carol")
    follow = remote.activity("alice", "Follow", carol.actor.uri)
    assert (await remote.send(live.inbox("carol"), follow)).status_code == 202
    await live.drain()
    bob = await resolver.fetch_actor(live.state, remote.actor_uri("bob"))

    try:
        await moves.move(live.state, carol, bob)
        raise AssertionError("a move to an account that does not alias us went through")
    except BadRequest as exc:
        assert "aliases" in exc.message
    remote.users["bob"].actor_extra["alsoKnownAs"] = [carol.actor.uri]
    carol = await moves.set_aliases(live.state, carol, [bob])
    moved = await moves.move(live.state, carol, bob)
    await live.drain()

    doc = (await live.get_as2(carol.actor.uri)).json()
    assert doc["movedTo"] == bob.uri and doc["alsoKnownAs"] == [bob.uri]
    assert moved.actor.moved_to == bob.uri
    [sent] = remote.posts(type="Move")
    assert sent.verified, sent.error
    assert sent.activity == {
        **sent.activity,
        "actor": carol.actor.uri,
        "object": carol.actor.uri,
        "target": bob.uri,
    }
    assert len(remote.posts(type="Update")) == 2  # the alias, then movedTo
    assert "alsoKnownAs" in str(as2_out.CONTEXT)


async def test_follows_export_and_import_as_mastodon_csv(
    live: LiveServer, remote: RemoteFediverse, tmp_path: Path
) -> None:
    carol = await carol_follows_alice(live, remote)
    exported = await moves.export_follows(live.state, carol)
    assert exported.splitlines() == [
        "Account address,Show boosts,Notify on new posts,Languages",
        f"alice@{remote.authority},true,false,",
    ]
    dave = await live.account("dave")
    csv = exported + f"bob@{remote.authority}\nnobody@{remote.authority}\n"

    results = dict(await moves.import_follows(live.state, dave, csv))

    assert results[f"alice@{remote.authority}"] == "followed"
    assert results[f"bob@{remote.authority}"] == "followed"
    assert results[f"nobody@{remote.authority}"].startswith("not followed")
    await live.drain()
    assert {p.activity["object"] for p in remote.posts(type="Follow") if p.activity} >= {
        remote.actor_uri("alice"),
        remote.actor_uri("bob"),
    }


def test_the_cli_lists_the_move_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fediverse_ai", "user", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("alias", "move", "export-follows", "import-follows"):
        assert command in done.stdout
