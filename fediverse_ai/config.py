"""The one configuration file, read into frozen dataclasses.

Validation collects every problem before failing so that an operator fixes the
file in one go; each problem names its key (``instance.domain: ...``). Relative
paths are resolved against the directory of the config file, so that a config
works the same whatever the current directory of the process.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_ai import (
    AIBehaviourConfig,
    AIForYouConfig,
    AIImageConfig,
    AILimitsConfig,
    AIModerationConfig,
    AITextConfig,
    validate_ai,
    validate_foryou,
)
from .config_media import MediaStoreConfig, validate_media_store
from .config_ops import MetricsConfig, RetentionConfig, validate_metrics, validate_retention
from .errors import ConfigError

CONFIG_ENV = "FEDIVERSE_AI_CONFIG"
DEFAULT_CONFIG_PATH = "config.toml"
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
# Past this, one process holds more connections than it has threads to use them.
MAX_POOL_SIZE = 100

USERNAME_RE = re.compile(r"^[a-z0-9_]+([.-]+[a-z0-9_]+)*$")
_HOST_RE = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


@dataclass(frozen=True)
class InstanceConfig:
    domain: str = "localhost:8000"
    scheme: str = "http"
    name: str = "fediverse-ai"
    description: str = "A small fediverse server with an AI actor."
    contact_email: str = ""
    open_registrations: bool = False
    approval_required: bool = True

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        """The domain without a port, as used in handles (``ai@host``)."""
        return split_host_port(self.domain)[0]


@dataclass(frozen=True)
class ServerConfig:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8000
    trusted_proxy: bool = False
    embedded_worker: bool = True
    access_log: bool = False


@dataclass(frozen=True)
class StorageConfig:
    # A SQLite file, or a postgresql:// URL (str) for the PostgreSQL store (storage/pg.py).
    database: Path | str = Path("data/fediverse-ai.sqlite3")
    media_dir: Path = Path("data/media")
    keys_dir: Path = Path("keys")
    # PostgreSQL only: the most pooled connections a process opens for reads and `write()`
    # blocks; the writer's own connection comes on top (storage/pg.py).
    pool_size: int = 4
    # PostgreSQL: NOTIFY wakes idle workers and stream readers; they still look this often.
    notify_fallback_seconds: float = 30.0

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None on PostgreSQL (no file to back up or to sit beside)."""
        return self.database if isinstance(self.database, Path) else None

    @property
    def data_dir(self) -> Path:
        """Where server-side files live beside the data (exports): the database's folder."""
        return self.sqlite_path.parent if self.sqlite_path else self.media_dir.parent


@dataclass(frozen=True)
class AIActorConfig(AIBehaviourConfig):
    """The AI actor's profile, plus how it answers (fields of AIBehaviourConfig)."""

    username: str = "ai"
    display_name: str = "AI"
    bio: str = (
        "I am an AI. Mention me with a question and I reply; ask me to draw something and I "
        "reply with an image. My replies are machine-generated and may be wrong."
    )


@dataclass(frozen=True)
class FederationConfig:
    allow_private_addresses: bool = False
    blocked_domains: tuple[str, ...] = ()
    signature_max_skew_seconds: int = 3600
    actor_cache_seconds: int = 86400
    max_inbox_bytes: int = 1_048_576
    authorized_fetch: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 8
    poll_interval_seconds: float = 1.0
    lease_seconds: float = 120.0


@dataclass(frozen=True)
class WebConfig:
    require_alt_text: bool = True
    session_days: int = 30
    # Client API calls per token (per address without one) in 5 minutes; Mastodon's 300.
    api_requests_per_five_minutes: int = 300


@dataclass(frozen=True)
class AccountsConfig:
    """Local accounts' own data: how long a deleted account's rows and key outlive it."""

    deletion_grace_days: int = 30


@dataclass(frozen=True)
class Config:
    instance: InstanceConfig = field(default_factory=InstanceConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    ai: AIActorConfig = field(default_factory=AIActorConfig)
    ai_text: AITextConfig = field(default_factory=AITextConfig)
    ai_image: AIImageConfig = field(default_factory=AIImageConfig)
    ai_limits: AILimitsConfig = field(default_factory=AILimitsConfig)
    ai_moderation: AIModerationConfig = field(default_factory=AIModerationConfig)
    ai_foryou: AIForYouConfig = field(default_factory=AIForYouConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    web: WebConfig = field(default_factory=WebConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    media_store: MediaStoreConfig = field(default_factory=MediaStoreConfig)
    path: Path | None = None


SECTIONS: dict[str, type[Any]] = {
    "instance": InstanceConfig,
    "server": ServerConfig,
    "storage": StorageConfig,
    "media_store": MediaStoreConfig,
    "ai": AIActorConfig,
    "ai.text": AITextConfig,
    "ai.image": AIImageConfig,
    "ai.limits": AILimitsConfig,
    "ai.moderation": AIModerationConfig,
    "ai.foryou": AIForYouConfig,
    "federation": FederationConfig,
    "worker": WorkerConfig,
    "web": WebConfig,
    "retention": RetentionConfig,
    "metrics": MetricsConfig,
    "accounts": AccountsConfig,
}


def split_host_port(domain: str) -> tuple[str, int | None]:
    if domain.startswith("["):
        host, _, rest = domain[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = domain.rpartition(":")
    if sep and port.isdigit() and host:
        return host, int(port)
    return domain, None


def is_local_development_host(host: str) -> bool:
    """Hosts for which plain http is acceptable: never reachable from the fediverse."""
    if host == "localhost" or host.endswith((".localhost", ".test")):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: file not found (run `fediverse-ai init` to create it)"]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(raw, base_dir=path.resolve().parent, path=path.resolve())


def parse_config(raw: dict[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for key in raw:
        if key not in SECTIONS:
            problems.append(f"{key}: unknown section")
    for name, cls in SECTIONS.items():
        table: Any = raw
        for part in name.split("."):
            # A parent that is not a table was reported already: no problem per sub-table.
            table = table.get(part, {}) if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            problems.append(f"{name}: must be a table")
            table = {}
        # Sub-tables ([ai.text] inside [ai]) are sections of their own.
        table = {k: v for k, v in table.items() if f"{name}.{k}" not in SECTIONS}
        sections[name.replace(".", "_")] = _build_section(name, cls, table, base_dir, problems)
    config = resolve_paths(Config(**sections, path=path), base_dir)
    problems.extend(_validate(config))
    if problems:
        raise ConfigError(problems)
    return config


def _build_section(
    name: str, cls: type[Any], table: dict[str, Any], base_dir: Path, problems: list[str]
) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            problems.append(f"{name}.{key}: unknown key")
            continue
        default = getattr(defaults, key)
        converted = _convert(value, default, base_dir)
        if converted is None:
            problems.append(f"{name}.{key}: expected {_type_name(default)}, got {value!r}")
            continue
        values[key] = converted
    return cls(**values)


def _type_name(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, tuple):
        return "a list of strings"
    if isinstance(default, Path):
        return "a path string"
    return {int: "an integer", float: "a number", str: "a string"}.get(type(default), "a value")


def _convert(value: Any, default: Any, base_dir: Path) -> Any:
    """Return ``value`` converted to the default's type, or None when it does not fit."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else None
    if isinstance(default, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else None
    if isinstance(default, str):
        return value if isinstance(value, str) else None
    if isinstance(default, Path):
        if not isinstance(value, str) or not value:
            return None
        if value.startswith(POSTGRESQL_SCHEMES):
            return value  # storage.database: a PostgreSQL URL, not a path
        p = Path(value).expanduser()
        return p if p.is_absolute() else base_dir / p
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return None
    return None


def _storage_problems(s: StorageConfig) -> list[str]:
    problems = [
        f"storage.{key}: a directory path, not a URL"
        for key in ("media_dir", "keys_dir")
        if isinstance(getattr(s, key), str)
    ]
    if isinstance(s.database, str) and importlib.util.find_spec("psycopg_pool") is None:
        problems.append(
            "storage.database: a postgresql:// URL needs psycopg:"
            " pip install 'fediverse-ai[postgresql]'"
        )
    if not 1 <= s.pool_size <= MAX_POOL_SIZE:
        problems.append(f"storage.pool_size: between 1 and {MAX_POOL_SIZE}")
    return problems


def resolve_paths(config: Config, base_dir: Path) -> Config:
    """Make the default (relative) storage and model paths absolute against ``base_dir``."""
    s = config.storage
    relative: dict[str, Any] = {
        f.name: base_dir / v
        for f in dataclasses.fields(s)
        if isinstance(v := getattr(s, f.name), Path) and not v.is_absolute()
    }
    fixed = dataclasses.replace(s, **relative)
    text = config.ai_text
    model_path = text.offline_model_path
    if not model_path.is_absolute():
        text = dataclasses.replace(text, offline_model_path=base_dir / model_path)
    return dataclasses.replace(config, storage=fixed, ai_text=text)


def _validate(c: Config) -> list[str]:
    problems: list[str] = []
    problems += _storage_problems(c.storage)
    domain = c.instance.domain
    host, port = split_host_port(domain)
    if domain != domain.lower():
        problems.append("instance.domain: must be lower case (ids are compared byte for byte)")
    elif not (_HOST_RE.match(host) or _is_ip(host)):
        problems.append(f"instance.domain: {domain!r} is not a host name (optionally with :port)")
    if domain.endswith("/") or "://" in domain:
        problems.append("instance.domain: give the bare host, e.g. social.example.org")
    if c.instance.scheme not in ("https", "http"):
        problems.append("instance.scheme: must be 'https' (or 'http' for local development)")
    elif c.instance.scheme == "http" and not is_local_development_host(host):
        problems.append(
            "instance.scheme: 'http' is only allowed for local development hosts "
            "(localhost, *.localhost, *.test, loopback addresses); use https in production"
        )
    if port is not None and not 0 < port < 65536:
        problems.append("instance.domain: port out of range")
    if not 0 < c.server.listen_port < 65536:
        problems.append("server.listen_port: must be between 1 and 65535")
    if not USERNAME_RE.match(c.ai.username):
        problems.append("ai.username: lower-case letters, digits, '_', '.', '-' only")
    for i, d in enumerate(c.federation.blocked_domains):
        if not _HOST_RE.match(d.lower()):
            problems.append(f"federation.blocked_domains[{i}]: {d!r} is not a domain")
    if c.federation.signature_max_skew_seconds < 30:
        problems.append("federation.signature_max_skew_seconds: must be at least 30")
    if c.federation.max_inbox_bytes < 1024:
        problems.append("federation.max_inbox_bytes: must be at least 1024")
    problems.extend(validate_ai(c.ai, c.ai_text, c.ai_image, c.ai_limits, c.ai_moderation))
    problems.extend(validate_foryou(c.ai_foryou))
    if c.worker.concurrency < 1:
        problems.append("worker.concurrency: must be at least 1")
    if not 1 <= c.web.session_days <= 365:
        problems.append("web.session_days: between 1 and 365")
    if c.web.api_requests_per_five_minutes < 0:
        problems.append("web.api_requests_per_five_minutes: 0 (no limit) or more")
    if c.storage.notify_fallback_seconds <= 0:
        problems.append("storage.notify_fallback_seconds: must be positive")
    if c.worker.poll_interval_seconds <= 0:
        problems.append("worker.poll_interval_seconds: must be positive")
    if not 2.0 <= c.worker.lease_seconds <= 3600.0:
        problems.append("worker.lease_seconds: between 2 and 3600")
    problems.extend(validate_retention(c.retention, c.federation.signature_max_skew_seconds))
    problems.extend(validate_metrics(c.metrics))
    problems.extend(validate_media_store(c.media_store))
    if not 0 <= c.accounts.deletion_grace_days <= 3650:
        problems.append("accounts.deletion_grace_days: between 0 and 3650")
    return problems


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
