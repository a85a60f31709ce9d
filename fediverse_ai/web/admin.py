"""The admin pages: instance settings, AI backends (with a test button), custom emoji, domain
blocks, reports and moderated accounts (``admin_reports``), posts the moderation models
flagged (``admin_flags``) and the job queue."""

from __future__ import annotations

import ipaddress
import re

from quart import Quart, Response, request

from .. import custom_emoji
from ..errors import BadRequest
from ..federation import severing
from ..state import State
from ..storage import custom_emojis, jobs, reactions, settings, stats
from .admin_flags import flag_views, not_scored_line, report_assist
from .admin_reports import moderated_views, report_views
from .auth import require_admin
from .common import StateHolder, see_other
from .pages import render
from .site import EDITABLE, site_settings

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_SETTING_LIMITS = {"name": 100, "description": 2000, "rules": 5000, "contact_email": 200}


async def admin_page(state: State, *, probe: object = None, error: str | None = None) -> Response:
    c = state.config
    reports = await report_views(state)
    return await render(
        state,
        "admin.html",
        site=await site_settings(state),
        emoji=[
            (e, custom_emoji.file_url(state, e)) for e in await custom_emojis.all_emoji(state.db)
        ],
        text=c.ai_text,
        image=c.ai_image,
        config_blocks=sorted(c.federation.blocked_domains),
        blocks=await settings.domain_blocks(state.db),
        reports=reports,
        assist=await report_assist(state, reports),
        assist_on=c.ai_moderation.assist,
        moderation=c.ai_moderation,
        flags=await flag_views(state),
        not_scored=await not_scored_line(state),
        moderated=await moderated_views(state),
        job_counts=await jobs.counts(state.db),
        usage=await stats.ai_usage(state.db, now=state.now(), budget=c.ai_limits.daily_budget),
        answers=await stats.ai_answers(state.db),
        failed=await jobs.list_jobs(state.db, state="failed", limit=50),
        pending=await jobs.list_jobs(state.db, state="pending", limit=50),
        probe=probe,
        error=error,
        status=400 if error else 200,
    )


def _blockable(domain: str) -> bool:
    """A DNS name, or an IP address for servers that federate without one."""
    try:
        ipaddress.ip_address(domain)
        return True
    except ValueError:
        return bool(_DOMAIN.match(domain))


def register(app: Quart, holder: StateHolder) -> None:
    @app.get("/admin")
    async def admin() -> Response:
        require_admin()
        return await admin_page(holder.state)

    @app.post("/admin/settings")
    async def save_settings() -> Response:
        state = holder.state
        require_admin()
        form = await request.form
        values = {}
        for key in EDITABLE:
            value = form.get(key, "").strip()
            if len(value) > _SETTING_LIMITS[key]:
                return await admin_page(
                    state, error=f"{key} is limited to {_SETTING_LIMITS[key]} characters"
                )
            values[key] = value
        await settings.put(state.db, values, now=state.now())
        return see_other("/admin", 303)

    @app.post("/admin/test-backend")
    async def test_backend() -> Response:
        from ..bot.probe import probe

        state = holder.state
        require_admin()
        kind = (await request.form).get("kind", "text")
        if kind not in ("text", "image"):
            raise BadRequest("kind must be text or image")
        return await admin_page(state, probe=await probe(state, kind))

    @app.post("/admin/domain-blocks")
    async def add_block() -> Response:
        state = holder.state
        require_admin()
        form = await request.form
        domain = form.get("domain", "").strip().lower().rstrip(".")
        if not _blockable(domain) or domain == state.config.instance.host:
            return await admin_page(state, error=f"{domain!r} is not a domain you can block")
        # With the end of the follows with its accounts (federation.severing).
        await severing.block_domain(state, domain, reason=form.get("reason", "").strip()[:500])
        state.forget_blocked_domains()
        return see_other("/admin#blocks", 303)

    @app.post("/admin/domain-blocks/remove")
    async def remove_block() -> Response:
        state = holder.state
        require_admin()
        await settings.remove_domain_block(state.db, (await request.form).get("domain", ""))
        state.forget_blocked_domains()
        return see_other("/admin#blocks", 303)

    @app.post("/admin/reports/<int:report_id>/resolve")
    async def resolve_report(report_id: int) -> Response:
        state = holder.state
        require_admin()
        await reactions.resolve_report(state.db, report_id, now=state.now())
        return see_other("/admin#reports", 303)

    @app.post("/admin/jobs/retry")
    async def retry_jobs() -> Response:
        state = holder.state
        require_admin()
        await jobs.retry_failed(state.db, now=state.now())
        return see_other("/admin#jobs", 303)
