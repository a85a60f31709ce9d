"""``fediverse-ai media copy``: move an instance's files between the media directory and a
bucket (issue 15 item 4).

Resumable and idempotent: a file the target holds already with the same MD5 is left alone,
so a copy that was stopped, or run again after the switch to catch what was written in
between, sends only what is missing. Every file written is read back (its MD5, which S3 gives
as the ETag) and both sides end with a checksum over every key and MD5, printed and compared.
Nothing is deleted from the source: the admin does that once the instance runs on the target.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .media_store import MediaStore, MediaStoreError, StoredFile

log = logging.getLogger(__name__)
WORKERS = 8  # S3 calls wait on the network: a few in flight hide the latency


@dataclass
class CopyReport:
    listed: int = 0
    copied: int = 0
    present: int = 0
    failed: int = 0
    vanished: int = 0  # deleted from the source while the copy ran
    bytes_copied: int = 0
    source_md5: dict[str, str] = field(default_factory=dict)
    target_md5: dict[str, str] = field(default_factory=dict)

    @property
    def source_checksum(self) -> str:
        return checksum(self.source_md5)

    @property
    def target_checksum(self) -> str:
        return checksum(self.target_md5)

    @property
    def ok(self) -> bool:
        return not self.failed and self.source_checksum == self.target_checksum


def checksum(md5s: dict[str, str]) -> str:
    """One SHA-256 over every ``key md5`` line, sorted: equal on both sides iff every file is."""
    digest = hashlib.sha256()
    for key in sorted(md5s):
        digest.update(f"{key} {md5s[key]}\n".encode())
    return digest.hexdigest()


def _copy_one(source: MediaStore, target: MediaStore, item: StoredFile) -> tuple[str, str, str]:
    """``(outcome, source md5, target md5)`` for one file."""
    try:
        source_md5 = source.md5(item.key)
        if source_md5 is None:
            return "vanished", "", ""
        if target.md5(item.key) == source_md5:
            return "present", source_md5, source_md5
        data = source.get(item.key)
        if data is None:
            return "vanished", "", ""
        source_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()  # what we send
        target.put(item.key, data)
        written = target.md5(item.key) or ""
        return ("copied" if written == source_md5 else "failed"), source_md5, written
    except (MediaStoreError, OSError) as exc:
        log.warning("media copy: %s failed: %s", item.key, exc)
        return "failed", "", ""


def copy_media(
    source: MediaStore,
    target: MediaStore,
    *,
    workers: int = WORKERS,
    progress: Callable[[CopyReport], None] | None = None,
) -> CopyReport:
    """Copy every file of ``source`` that ``target`` lacks or holds otherwise."""
    report = CopyReport()

    def one(item: StoredFile) -> tuple[StoredFile, tuple[str, str, str]]:
        return item, _copy_one(source, target, item)

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        for item, (outcome, source_md5, target_md5) in pool.map(one, list(source.list())):
            report.listed += 1
            if outcome == "vanished":
                report.vanished += 1
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            if source_md5:
                report.source_md5[item.key] = source_md5
            if target_md5:
                report.target_md5[item.key] = target_md5
            if outcome == "copied":
                report.bytes_copied += item.size
            if progress is not None and report.listed % 500 == 0:
                progress(report)
    return report
