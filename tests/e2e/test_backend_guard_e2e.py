"""Issue 17 item 2: a local AI backend no longer needs the SSRF guard switched off.

Given an instance with ``federation.allow_private_addresses = false`` (production) whose text
backend is a real llama.cpp server on 127.0.0.1, when a user mentions the AI, then it answers
through that backend; and when a peer names a loopback address (a canary server) as its key,
then nothing reaches the canary and the refusal says nothing about what is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from ai.servers import TINY_MODEL_ALIAS, TINY_WORDS, RunningServer, tiny_text_backend_toml
from support.remote import remote_server

from .harness import Instance
from .network import TLSNetwork
from .peers import cli, until
from .procs import free_port
from .test_federation_e2e import db_row

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def guarded(
    tls_network: TLSNetwork, tmp_path_factory: pytest.TempPathFactory, llama_server: RunningServer
) -> Iterator[Instance]:
    b = Instance(
        name="Guarded",
        domain="b.test",
        root=tmp_path_factory.mktemp("e2e-guard"),
        tls=tls_network.files,
        federation="allow_private_addresses = false",
        extra_toml=tiny_text_backend_toml(llama_server),
    )
    with ExitStack() as cleanup:
        cleanup.callback(tls_network.set_routes, {})
        cleanup.callback(b.close)
        tls_network.set_routes({b.domain: b.port})
        b.start()
        b.cli("user", "add", "carol")
        yield b


async def test_the_ai_answers_through_a_loopback_backend_with_the_guard_on(
    guarded: Instance,
) -> None:
    mention = (await cli(guarded, "post", "--as", "carol", "@ai say something")).stdout
    mention_uri = mention.strip().splitlines()[-1]

    reply = await until(
        lambda: db_row(guarded, "SELECT * FROM notes WHERE in_reply_to_uri = ?", (mention_uri,)),
        timeout=60,
        message="no AI reply",
    )

    content = str(reply["content"])
    assert f"openai: {TINY_MODEL_ALIAS}" in content, content
    assert any(word in content for word in TINY_WORDS), content


async def test_a_key_on_a_loopback_canary_is_never_fetched(guarded: Instance) -> None:
    async with remote_server(("canary",), ca_bundle=guarded.tls.bundle) as canary:
        inbox = f"{guarded.base_url}/inbox"
        answers = []
        # An open loopback port (the canary), and a closed one: the same refusal for both.
        for key_host in (canary.authority, f"127.0.0.1:{free_port()}"):
            actor = f"http://{key_host}/users/canary"
            like = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"http://{key_host}/likes/1",
                "type": "Like",
                "actor": actor,
                "object": f"{guarded.base_url}/users/ai",
            }
            body = json.dumps(like).encode()
            headers = canary.signed_headers(inbox, body, username="canary", key_id=f"{actor}#k")
            response = await canary.post_raw(inbox, body, headers)
            assert response.status_code == 401, response.text
            answers.append(response.json())

        assert canary.fetched == []
        assert answers[0] == answers[1] == {"error": "could not fetch the signing key"}
