"""Discovery: WebFinger, host-meta, NodeInfo (interop checklist §1)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from quart import Quart, Response, request

from .. import __version__, as2_out
from ..errors import BadRequest, NotFound
from ..models import Actor
from ..storage import actors, notes
from .common import StateHolder, json_response

JRD = "application/jrd+json"


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/.well-known/webfinger")
    async def webfinger() -> Response:
        state = holder.state
        resource = request.args.get("resource", "").strip()
        if not resource:
            raise BadRequest("resource parameter required")
        actor = await _lookup(holder, resource)
        if actor is None:
            raise NotFound("no such account here")
        host = state.config.instance.host
        doc = as2_out.webfinger(
            subject=f"acct:{actor.username}@{host}",
            actor_uri=actor.uri,
            profile_url=actor.url or actor.uri,
            subscribe=f"{state.config.instance.base_url}/authorize_interaction?uri={{uri}}",
        )
        return json_response(doc, content_type=JRD)

    @app.get("/.well-known/host-meta")
    async def host_meta() -> Response:
        base = escape(holder.state.config.instance.base_url)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
            f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
            "</XRD>\n"
        )
        return Response(body, content_type="application/xrd+xml; charset=utf-8")

    @app.get("/.well-known/nodeinfo")
    async def nodeinfo_links() -> Response:
        base = holder.state.config.instance.base_url
        links = [
            {
                "rel": f"http://nodeinfo.diaspora.software/ns/schema/{v}",
                "href": f"{base}/nodeinfo/{v}",
            }
            for v in ("2.0", "2.1")
        ]
        return json_response({"links": links})

    @app.get("/nodeinfo/<version>")
    async def nodeinfo(version: str) -> Response:
        if version not in ("2.0", "2.1"):
            raise NotFound("unknown NodeInfo version")
        state = holder.state
        inst = state.config.instance
        doc = as2_out.nodeinfo(
            version,
            software_version=__version__,
            open_registrations=inst.open_registrations,
            users=await actors.count_users(state.db),
            local_posts=await notes.count_local(state.db),
            node_name=inst.name,
            node_description=inst.description,
        )
        profile = f"http://nodeinfo.diaspora.software/ns/schema/{version}#"
        return json_response(doc, content_type=f'application/json; profile="{profile}"')


async def _lookup(holder: StateHolder, resource: str) -> Actor | None:
    state = holder.state
    inst = state.config.instance
    if resource.startswith(("https://", "http://")):
        if not state.urls.is_local(resource):
            return None
        found = await actors.by_uri(state.db, resource)
        if found is None and "/@" in resource:
            username = resource.rsplit("/@", 1)[1].split("/")[0]
            found = await actors.local_by_username(state.db, username)
        return found if found is not None and found.local else None
    acct = resource.removeprefix("acct:").lstrip("@")
    username, _, domain = acct.rpartition("@")
    if domain.lower() not in (inst.domain, inst.host) or not username:
        return None
    return await actors.local_by_username(state.db, username.lower())
