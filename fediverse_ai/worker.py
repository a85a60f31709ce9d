"""The background worker: claims durable jobs and runs their handlers.

Jobs survive restarts because they are rows; a job whose worker died keeps its
lease until ``locked_until`` and is then claimed again. Handlers are idempotent.

A live worker renews the leases of the jobs it runs (one UPDATE per heartbeat, however
many jobs it holds), so a slow AI answer or a long purge is not claimed a second time
while it runs. Should a lease lapse anyway (the process stalled past it), the job's new
holder owns the outcome: this worker's completion or retry then changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import random
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from . import maintenance, media_cache, uploads
from .bot import alt_text, replier
from .errors import BadRequest, DeliveryError, FediverseError
from .federation import (
    delivery,
    feedback,
    inbox,
    polls,
    publish,
    quotes,
    remote_totals,
    severing,
    trigger,
)
from .foryou import embedding
from .modassist import reports as mod_reports
from .modassist import scoring
from .models import Job
from .retry import MAX_ATTEMPTS, next_run
from .state import State
from .storage import jobs, remote_files
from .userdata import archive, deletion
from .vocab import host_of
from .wakeups import Wakeups

log = logging.getLogger(__name__)

Handler = Callable[[State, dict[str, Any]], Awaitable[None]]
DEFAULT_HANDLERS: Mapping[str, Handler] = {
    delivery.DELIVER: delivery.deliver,
    inbox.INBOX: inbox.process,
    trigger.AI_REPLY: replier.handle,
    maintenance.PURGE: maintenance.purge,
    remote_files.CACHE_JOB: media_cache.fetch,
    alt_text.DESCRIBE_JOB: alt_text.describe,
    publish.FEDERATE: publish.federate,
    polls.UPDATE_JOB: polls.send_update,
    polls.CLOSE_JOB: polls.close,
    quotes.QUOTE_RESOLVE: quotes.resolve,
    embedding.EMBED_JOB: embedding.embed_note,
    uploads.EXPIRE_JOB: uploads.expire,
    deletion.DELETED_JOB: deletion.on_deleted,
    deletion.PURGE_JOB: deletion.purge,
    archive.EXPORT_JOB: archive.build,
    scoring.SCORE_JOB: scoring.score_note,
    mod_reports.REPORT_JOB: mod_reports.summarise_report,
    severing.SEVER: severing.sever,
    feedback.FEEDBACK_JOB: feedback.classify_reply,
    remote_totals.TOTALS_JOB: remote_totals.fetch_totals,
}
# Inbox processing fails mostly on fetches from a peer that is down; a day of retries is plenty.
ATTEMPTS: Mapping[str, int] = {
    delivery.DELIVER: MAX_ATTEMPTS,
    inbox.INBOX: 10,
    remote_files.CACHE_JOB: media_cache.ATTEMPTS,
    alt_text.DESCRIBE_JOB: alt_text.ATTEMPTS,
    quotes.QUOTE_RESOLVE: quotes.ATTEMPTS,
}
# Four renewals per lease: one may wait out a busy writer (busy_timeout is 10 s) or a
# stalled event loop and the lease still holds.
HEARTBEATS_PER_LEASE = 4


class Worker:
    def __init__(
        self,
        state: State,
        handlers: Mapping[str, Handler] | None = None,
        *,
        jitter: Callable[[], float] = random.random,
        lease_seconds: float | None = None,
    ) -> None:
        self.state = state
        self.handlers = dict(handlers or DEFAULT_HANDLERS)
        self.jitter = jitter
        self.lease_seconds = lease_seconds or state.config.worker.lease_seconds  # tests: their own
        self.wakeups = Wakeups(state.config)
        # host:pid tells release_orphans whose jobs these are; the suffix tells two workers of
        # one process apart, so that neither renews nor finishes a job the other took over.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._renewers = 0  # callers that need the heartbeat running (run, run_once)
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.attempts = {**ATTEMPTS, trigger.AI_REPLY: state.config.ai_limits.attempts}
        self._in_flight: set[int] = set()
        # Kinds with fewer slots than the worker has loops: a loop must not take a job that
        # would only wait for a slot (the AI answers `ai.limits.concurrency` at a time), or
        # a burst of mentions holds every loop while inbox work waits.
        self.slots = {
            trigger.AI_REPLY: state.config.ai_limits.concurrency,
            scoring.SCORE_JOB: scoring.CONCURRENCY,
            mod_reports.REPORT_JOB: mod_reports.CONCURRENCY,
        }
        self._running: collections.Counter[str] = collections.Counter()
        # One picture described at a time: OCR and the classifier are CPU-bound (BENCHMARKS.md).
        self.slots[alt_text.DESCRIBE_JOB] = 1
        # Finished jobs whose "done" is recorded by the loop's next claim (one trip for both).
        self._finished: set[int] = set()

    def wake(self, jobs: int = 1) -> None:
        """New work was enqueued in this process: up to ``jobs`` idle loops stop waiting for
        their poll."""
        self.wakeups.wake(jobs)

    async def run_once(self) -> bool:
        """Claim and run one due job; False when none is due."""
        job = await self._claim(None)
        if job is None:
            return False
        async with self._leases_renewed():
            if await self._run(job):
                await self._complete(job)
                self._finished.discard(job.id)
        return True

    async def _complete(self, job: Job) -> None:
        if not await jobs.complete(
            self.state.db, job.id, now=self.state.now(), locked_by=self.worker_id
        ):
            log.warning("job %s (%s) finished after another worker took it over", job.id, job.kind)

    async def _claim(self, finished: int | None) -> Job | None:
        """The next due job; ``finished`` (a job this loop ran) is marked done in the same
        transaction."""
        while True:
            full = [kind for kind, slots in self.slots.items() if self._running[kind] >= slots]
            job = await jobs.claim(
                self.state.db,
                now=self.state.now(),
                lease_seconds=self.lease_seconds,
                locked_by=self.worker_id,
                complete=finished,
                skip_kinds=full,
            )
            if finished is not None:
                self._finished.discard(finished)
                finished = None
            if job is None:
                return None
            cap = self.slots.get(job.kind)
            if cap is None or self._running[job.kind] < cap:
                self._running[job.kind] += 1  # given back by _run
                return job
            # Another loop took the last slot while this claim was on its way (claims are not
            # serialised: a lock around them cost fan-out 15 %): hand it back, take other work.
            await jobs.release(
                self.state.db, [job.id], now=self.state.now(), locked_by=self.worker_id
            )

    async def drain(self, *, max_jobs: int = 100_000) -> int:
        """Run due jobs until none is left (tests and the CLI use this)."""
        done = 0
        while done < max_jobs and await self.run_once():
            done += 1
        return done

    async def _run(self, job: Job) -> bool:
        """Run one claimed job; True when it succeeded and is still to be marked done."""
        try:
            return await self._run_counted(job)
        finally:
            self._running[job.kind] -= 1

    async def _run_counted(self, job: Job) -> bool:
        handler = self.handlers.get(job.kind)
        db, now = self.state.db, self.state.now
        if handler is None:
            error = f"no handler for {job.kind}"
            await jobs.fail(db, job.id, error=error, now=now(), locked_by=self.worker_id)
            return False
        self._in_flight.add(job.id)
        try:
            # Handlers that must know which attempt this is (the AI's last-attempt apology) read it.
            await handler(self.state, {**job.payload, "_attempt": job.attempts})
        except FediverseError as exc:
            await self._after_failure(job, exc)
        except Exception as exc:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            await self._after_failure(job, exc)
        else:
            if job.kind == delivery.DELIVER:
                self.state.metrics.inc("deliveries", result="sent")
            self._finished.add(job.id)
            self._in_flight.discard(job.id)
            return True
        # Not in a finally: a cancelled job stays in flight so that run() releases it.
        self._in_flight.discard(job.id)
        return False

    async def _after_failure(self, job: Job, exc: Exception) -> None:
        db, now = self.state.db, self.state.now()
        message = exc.message if isinstance(exc, FediverseError) else f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, BadRequest) or (
            isinstance(exc, DeliveryError) and exc.permanent
        )
        retry_after = None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            retry_after = timedelta(seconds=exc.retry_after)
        when = None
        if not permanent and job.attempts < self.attempts.get(job.kind, MAX_ATTEMPTS):
            when = next_run(
                job.attempts,
                now=datetime.fromtimestamp(now, UTC),
                jitter=self.jitter(),
                retry_after=retry_after,
            )
        held_by = self.worker_id
        if job.kind == delivery.DELIVER:
            _log_delivery_failure(self.state, job, exc, when)
        elif when is None:
            log.warning("job %s (%s) failed for good: %s", job.id, job.kind, message)
        else:
            log.info("job %s (%s) will retry at %s: %s", job.id, job.kind, when, message)
        if when is None:
            ours = await jobs.fail(db, job.id, error=message, now=now, locked_by=held_by)
        else:
            ours = await jobs.reschedule(
                db, job.id, run_after=when.timestamp(), error=message, now=now, locked_by=held_by
            )
        if not ours:
            log.warning("job %s (%s) failed after another worker took it over", job.id, job.kind)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, with ``worker.concurrency`` jobs at a time."""
        count = self.state.config.worker.concurrency
        released = await jobs.release_orphans(
            self.state.db, host=socket.gethostname(), alive=_pid_alive, now=self.state.now()
        )
        if released:
            log.info("took back %d jobs of a process that stopped without finishing them", released)
        self.state.metrics.beat()
        async with self._leases_renewed():
            tasks = [asyncio.create_task(self._loop(stop)) for _ in range(count)]
            if self.state.db.notifies:  # PostgreSQL: other processes' enqueues wake us
                tasks.append(asyncio.create_task(self.wakeups.listen(self.state.db)))
            if maintenance.PURGE in self.handlers:  # not in tests that bring their own
                tasks.append(asyncio.create_task(self._offer_purges()))
            self.state.wakers.append(self.wake)
            try:
                await stop.wait()
            finally:
                self.state.metrics.worker_beat = None  # /healthz: no worker any more
                self.state.wakers.remove(self.wake)
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await self._hand_back()

    async def _hand_back(self) -> None:
        """At a clean stop: record what finished, give back what was interrupted."""
        db, now, held_by = self.state.db, self.state.now(), self.worker_id
        if self._finished:
            await jobs.complete_many(db, sorted(self._finished), now=now, locked_by=held_by)
            self._finished.clear()
        if self._in_flight:
            # A clean stop should not make these wait for their lease to expire.
            await jobs.release(db, sorted(self._in_flight), now=now, locked_by=held_by)
            self._in_flight.clear()

    @contextlib.asynccontextmanager
    async def _leases_renewed(self) -> AsyncIterator[None]:
        """Keep the heartbeat running for as long as any caller is inside."""
        self._renewers += 1
        if self._heartbeat_task is None:
            self._heartbeat_task = asyncio.create_task(self._heartbeat())
        try:
            yield
        finally:
            self._renewers -= 1
            if self._renewers == 0 and self._heartbeat_task is not None:
                task, self._heartbeat_task = self._heartbeat_task, None
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _heartbeat(self) -> None:
        """Extend the leases of the jobs this worker holds, several times per lease."""
        while True:
            await asyncio.sleep(self.lease_seconds / HEARTBEATS_PER_LEASE)
            self.state.metrics.beat()  # alive even while every loop is busy with a long job
            # Finished jobs not yet recorded as done are still held: their lease must not
            # lapse either, or another worker would run them again.
            held = self._in_flight | self._finished
            if not held:
                continue
            try:
                renewed = await jobs.renew(
                    self.state.db,
                    locked_by=self.worker_id,
                    now=self.state.now(),
                    lease_seconds=self.lease_seconds,
                )
            except Exception:
                log.exception("could not renew the leases of running jobs")
                continue
            lost = (held & (self._in_flight | self._finished)) - renewed
            if lost:
                log.warning("lost the lease of jobs %s: another worker took them over", lost)

    async def _offer_purges(self) -> None:
        """Queue the retention purge once per period (the dedupe key names the period)."""
        while True:
            try:
                if await maintenance.offer_purge(self.state):
                    self.wake()
            except Exception:
                log.exception("could not queue the retention purge")
            interval = self.state.config.retention.interval_minutes * 60
            if not interval:
                return
            # Wake just after the next period starts; a clock the tests pin waits a period.
            await asyncio.sleep(interval - self.state.now() % interval + 1)

    async def _loop(self, stop: asyncio.Event) -> None:
        finished: int | None = None
        chained = False  # woken by another process's enqueue: pass it on on finding a job
        while not stop.is_set():
            self.state.metrics.beat()
            wakes = self.wakeups.count
            try:
                job = await self._claim(finished)
                finished = None
                ran = job is not None
                if job is not None and chained:
                    self.wakeups.wake(1, chain=True)
                chained = False
                if job is not None and await self._run(job):
                    finished = job.id
            except Exception:
                log.exception("worker loop error")
                ran = False
            if not ran and wakes == self.wakeups.count:
                chained = await self.wakeups.idle(self.state.db, self.state.now())


def _log_delivery_failure(state: State, job: Job, exc: Exception, when: datetime | None) -> None:
    """One line per failed delivery attempt, and its count for /metrics."""
    host = host_of(str(job.payload.get("inbox", ""))) or "?"
    status = exc.http_status if isinstance(exc, DeliveryError) else None
    reason = exc.message if isinstance(exc, FediverseError) else type(exc).__name__
    state.metrics.inc("deliveries", result="failed" if when is not None else "given_up")
    log.warning(
        "delivery to %s failed: status=%s attempt=%d next_retry=%s (%s)",
        host,
        status if status is not None else "-",
        job.attempts,
        when.isoformat(timespec="seconds") if when is not None else "none, given up",
        reason,
    )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own earlier run: this process has no job in flight yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
