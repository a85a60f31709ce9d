"""Which store ``storage.database`` names: a SQLite file (:mod:`.db`) or PostgreSQL (:mod:`.pg`).

Its own module so that :mod:`.db` and :mod:`.pg` do not import each other: :mod:`.pg` builds on
:mod:`.db`, and psycopg, an optional extra, is imported only when a URL asks for it.
"""

from __future__ import annotations

from pathlib import Path

from ..config import POSTGRESQL_SCHEMES
from .db import Database


def open_store(target: Path | str, *, pool_size: int | None = None) -> Database:
    """The store for ``target``: a ``postgresql://`` URL or a SQLite file's path.
    ``pool_size`` (``storage.pool_size``) is PostgreSQL's; SQLite has one reader."""
    if isinstance(target, str) and is_postgresql_url(target):
        from .pg import POOL_SIZE, PgDatabase

        return PgDatabase(target, pool_size=pool_size or POOL_SIZE)
    return Database(Path(target))


def is_postgresql_url(target: str) -> bool:
    return target.startswith(POSTGRESQL_SCHEMES)
