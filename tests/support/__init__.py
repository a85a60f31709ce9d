"""Test support: our server and a stand-in remote server, both real HTTP on loopback.

``live.live_server`` serves fediverse-ai with uvicorn in the test's event loop and hands
the test a second ``State`` on the same SQLite file; ``remote.RemoteFediverse`` is a
small ActivityPub peer that serves actors, notes and WebFinger, and records (and
verifies) every POST it receives.
"""
