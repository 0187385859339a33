"""Optional access control for shared instances: HTTP basic auth and/or a bearer token.

Configured by environment variables (unset or empty = off):

- ``TXRAY_AUTH_USER`` + ``TXRAY_AUTH_PASSWORD``: HTTP basic auth (browsers show a login prompt);
- ``TXRAY_AUTH_TOKEN``: ``Authorization: Bearer <token>`` (scripts, reverse proxies).

When both are set either one is accepted. Credentials are compared in constant time. The health
endpoint stays open so a container ``HEALTHCHECK`` works without credentials.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys
from dataclasses import dataclass
from typing import Mapping, TextIO

import flask
from werkzeug.datastructures import Authorization

ENV_USER = "TXRAY_AUTH_USER"
ENV_PASSWORD = "TXRAY_AUTH_PASSWORD"
ENV_TOKEN = "TXRAY_AUTH_TOKEN"
OPEN_PATHS: frozenset[str] = frozenset({"/healthz"})
REALM = "TX-Ray Explorer"


class AuthConfigError(ValueError):
    """The auth environment variables are inconsistent; the message says how to fix them."""


@dataclass(frozen=True, repr=False)
class AuthConfig:
    """Credentials a request must present; all None means access control is off."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        if (self.user is None) != (self.password is None):
            missing = ENV_PASSWORD if self.password is None else ENV_USER
            raise AuthConfigError(
                f"HTTP basic auth needs both {ENV_USER} and {ENV_PASSWORD}: set {missing} too, "
                f"or unset both to turn basic auth off"
            )

    def __repr__(self) -> str:
        return f"AuthConfig(basic={self.basic}, token={self.token is not None})"

    @property
    def basic(self) -> bool:
        return self.user is not None

    @property
    def enabled(self) -> bool:
        return self.basic or self.token is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig:
        """Read TXRAY_AUTH_USER / TXRAY_AUTH_PASSWORD / TXRAY_AUTH_TOKEN (empty = unset)."""
        env = os.environ if environ is None else environ
        return cls(user=env.get(ENV_USER) or None, password=env.get(ENV_PASSWORD) or None,
                   token=env.get(ENV_TOKEN) or None)


def _same(given: str | None, expected: str) -> bool:
    """Constant-time string equality (the time does not depend on where they differ)."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def is_authorized(config: AuthConfig, authorization: Authorization | None) -> bool:
    """Whether the parsed ``Authorization`` header satisfies `config` (always True when off)."""
    if not config.enabled:
        return True
    if authorization is None:
        return False
    if authorization.type == "basic" and config.basic:
        user_ok = _same(authorization.username, config.user or "")
        password_ok = _same(authorization.password, config.password or "")
        return user_ok and password_ok
    if authorization.type == "bearer" and config.token is not None:
        return _same(authorization.token, config.token)
    return False


def _challenge(config: AuthConfig) -> flask.Response:
    scheme = "Basic" if config.basic else "Bearer"
    response = flask.Response("401 Unauthorized: this TX-Ray Explorer instance needs credentials\n",
                              status=401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = f'{scheme} realm="{REALM}", charset="UTF-8"'
    return response


def protect(server: flask.Flask, *, config: AuthConfig | None = None,
            open_paths: frozenset[str] = OPEN_PATHS) -> bool:
    """Require credentials on every route of `server` except `open_paths`.

    `config` defaults to the environment (`AuthConfig.from_env`). Returns whether a check was
    installed (False when no credentials are configured: the server stays open).
    """
    cfg = AuthConfig.from_env() if config is None else config
    if not cfg.enabled:
        return False

    def require_auth() -> flask.Response | None:
        if flask.request.path in open_paths or is_authorized(cfg, flask.request.authorization):
            return None
        return _challenge(cfg)

    server.before_request(require_auth)
    return True


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.startswith("unix:"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def warn_if_exposed(host: str, *, config: AuthConfig | None = None,
                    stream: TextIO | None = None) -> bool:
    """Print a warning on stderr when `host` is not loopback and no auth is configured.

    Returns whether it warned.
    """
    cfg = AuthConfig.from_env() if config is None else config
    if is_loopback(host) or cfg.enabled:
        return False
    print(
        f"warning: TX-Ray Explorer listens on {host or 'all interfaces'}, reachable from other "
        f"machines, without access control. Anyone who can reach the port can read the analysis. "
        f"Set {ENV_USER} and {ENV_PASSWORD} (HTTP basic auth) or {ENV_TOKEN} (bearer token), "
        f"or bind to 127.0.0.1.",
        file=sys.stderr if stream is None else stream, flush=True,
    )
    return True
