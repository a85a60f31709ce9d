import json
from .harness import wait_until


def test_scratch(two_instances):
    a, b = two_instances
    print(a.cli("user", "add", "alice").stdout)
    print(a.cli("follow", "--as", "alice", "ai@b.test").stdout)
    def followers():
        with b.client() as http:
            r = http.get("/users/ai/followers", headers={"Accept": "application/activity+json"})
            print(r.status_code, r.text[:300])
            return r.json().get("totalItems")
    wait_until(followers, timeout=10, message="follow arrives")
    print(b.log_tail(30)); print(a.log_tail(30))
