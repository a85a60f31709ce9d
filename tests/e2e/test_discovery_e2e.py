"""Discovery through the production-shaped front: WebFinger and the AI actor over https."""

from __future__ import annotations

import pytest

from .harness import Instance, wait_until

pytestmark = pytest.mark.e2e

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def test_webfinger_finds_the_ai_actor(two_instances: tuple[Instance, Instance]) -> None:
    a, _ = two_instances
    with a.client() as http:
        response = http.get("/.well-known/webfinger", params={"resource": f"acct:{a.handle()}"})

    assert response.status_code == 200, response.text
    links = response.json()["links"]
    self_links = [link for link in links if link.get("rel") == "self"]
    assert [link["href"] for link in self_links] == ["https://a.test/users/ai"]
    assert self_links[0]["type"] in (
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    )


def test_ai_actor_document_has_an_https_id(two_instances: tuple[Instance, Instance]) -> None:
    a, _ = two_instances
    with a.client() as http:
        response = http.get("https://a.test/users/ai", headers={"Accept": AP_ACCEPT})

    assert response.status_code == 200, response.text
    actor = response.json()
    assert actor["id"] == "https://a.test/users/ai"
    assert actor["type"] == "Service"
    assert actor["inbox"].startswith("https://a.test/")


def test_each_instance_answers_for_its_own_host(two_instances: tuple[Instance, Instance]) -> None:
    for instance in two_instances:
        with instance.client() as http:
            response = http.get(instance.actor_url(), headers={"Accept": AP_ACCEPT})
        assert response.status_code == 200, response.text
        assert response.json()["id"] == f"{instance.base_url}/users/ai"


def test_instances_reach_each_other_over_https(two_instances: tuple[Instance, Instance]) -> None:
    """Each server trusts the other's certificate through SSL_CERT_FILE: A's CLI resolves
    ai@b.test, and B verifies A's signed Follow by fetching alice's key from https://a.test."""
    a, b = two_instances
    a.cli("user", "add", "alice")

    followed = a.cli("follow", "--as", "alice", b.handle()).stdout

    assert b.actor_url() in followed

    def followers_of_b_ai() -> int:
        with b.client() as http:
            response = http.get(f"{b.actor_url()}/followers", headers={"Accept": AP_ACCEPT})
        return int(response.json()["totalItems"])

    wait_until(followers_of_b_ai, message="B never counted alice@a.test as a follower of ai")
