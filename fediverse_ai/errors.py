"""Every exception fediverse-ai raises on purpose.

Each error carries an HTTP ``status`` and a ``message`` that is safe to show to a
remote peer or a user; details that might leak internals go to logs and to a
job's ``last_error`` instead.

    FediverseError
    ├── ConfigError                 configuration file missing or invalid (all problems at once)
    ├── StorageError                database unusable (migration failure, corrupt file)
    ├── BadRequest (400)            malformed input: JSON, headers, AS2 shape
    │   ├── MalformedSignature      a Signature/Signature-Input header we cannot parse
    │   ├── RemoteGone              an inbox job's fetch answered 404/410: retrying cannot help
    │   └── NotFollowable (422)     a remote actor without an inbox: a Follow could never arrive
    ├── SignatureError (401)        signature missing, wrong, stale, or key not resolvable
    ├── LoginRequired (401)         a web page or form that needs a logged-in account
    │   └── LoginFailed             wrong username or password
    ├── Forbidden (403)             blocked domain, origin mismatch, not allowed
    │   └── OriginMismatch          object or key owner on another host than the actor
    ├── NotFound (404)
    ├── Gone (410)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMedia (415)      an image or document we refuse to process
    ├── TooManyRequests (429)       a rate limit (login attempts, drafting help)
    ├── FetchError (502)            a remote fetch failed (network, status, content type, size)
    │   └── UnsafeURL               the SSRF guard refused a URL or a redirect
    ├── DeliveryError               an outgoing POST failed; ``permanent`` says whether to retry
    └── TransportError              the delivery client's connection failed below HTTP
        └── InvalidURL              an inbox URL the delivery client cannot send to
"""

from __future__ import annotations


class FediverseError(Exception):
    """Base class; ``status`` and ``message`` are safe to send to the client."""

    status: int = 500
    default_message: str = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ConfigError(FediverseError):
    """The configuration is invalid; ``problems`` lists every problem with its key."""

    default_message = "invalid configuration"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class StorageError(FediverseError):
    default_message = "storage error"


class BadRequest(FediverseError):
    status = 400
    default_message = "bad request"


class MalformedSignature(BadRequest):
    default_message = "malformed signature header"


class SignatureError(FediverseError):
    status = 401
    default_message = "signature verification failed"


class Forbidden(FediverseError):
    status = 403
    default_message = "forbidden"


class OriginMismatch(Forbidden):
    default_message = "origin mismatch"


class RemoteGone(BadRequest):
    """What an inbox job needed is gone from its server (404 or 410): the job ends, with this
    as its reason, as a delivery to a gone inbox does. A BadRequest, so never retried."""

    default_message = "the remote object is gone"


class NotFollowable(BadRequest):
    """The remote actor published no inbox, so a Follow could never be delivered. A BadRequest
    (never retried) answered 422, as Mastodon answers a follow it refuses to validate."""

    status = 422
    default_message = "this account has no inbox and cannot be followed"


class NotFound(FediverseError):
    status = 404
    default_message = "not found"


class Gone(FediverseError):
    status = 410
    default_message = "gone"


class PayloadTooLarge(FediverseError):
    status = 413
    default_message = "payload too large"


class UnsupportedMedia(FediverseError):
    status = 415
    default_message = "unsupported media"


class FetchError(FediverseError):
    """A remote fetch failed. ``http_status`` is the remote status when there was one."""

    status = 502
    default_message = "remote fetch failed"

    def __init__(self, message: str | None = None, *, http_status: int | None = None) -> None:
        self.http_status = http_status
        super().__init__(message)


class UnsafeURL(FetchError):
    status = 400
    default_message = "refusing to fetch this URL"


class DeliveryError(FediverseError):
    """An outgoing delivery failed.

    ``permanent`` failures are not retried; ``retry_after`` (seconds) is the
    peer's own hint from a Retry-After header, when it gave one.
    """

    default_message = "delivery failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        permanent: bool = False,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.permanent = permanent
        self.http_status = http_status
        self.retry_after = retry_after
        super().__init__(message)


class TransportError(FediverseError):
    """The delivery client's exchange failed below HTTP; ``message`` is a short safe reason."""

    default_message = "network error"


class InvalidURL(TransportError):
    default_message = "invalid URL"


class LoginRequired(FediverseError):
    status = 401
    default_message = "log in first"


class LoginFailed(LoginRequired):
    default_message = "wrong username or password"


class TooManyRequests(FediverseError):
    status = 429
    default_message = "too many requests; wait a minute and try again"
