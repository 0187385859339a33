"""Gunicorn entry point: `gunicorn 'wsgi:create_server()'` serves the dashboard from env config.

Environment:

- ``TXRAY_DB``: the analysis database to serve. When unset, the first existing of
  ``/data/analysis.duckdb`` (a mounted volume), ``$TXRAY_BUILTIN_DB`` (the database baked into
  the Docker image) and ``data/demo.duckdb`` (the local demo) is used.
- ``TXRAY_BIND_HOST``: the interface gunicorn listens on (default ``0.0.0.0``), used to warn when
  the instance is reachable from other machines without access control.
- ``TXRAY_AUTH_USER`` / ``TXRAY_AUTH_PASSWORD`` / ``TXRAY_AUTH_TOKEN``: optional access control
  (`txray_dash.security`); ``TXRAY_CACHE_*``: query cache (`txray_dash.app.cache_config_from_env`).

Debug mode is never switched on: gunicorn does not use Dash's dev server.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

import dash
import flask

from txray_dash import create_app
from txray_dash.security import AuthConfig, warn_if_exposed

MOUNTED_DB = Path("/data/analysis.duckdb")
LOCAL_DEMO_DB = Path("data/demo.duckdb")


def resolve_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """The database to serve: TXRAY_DB if set, else the first existing default location.

    When nothing exists the mounted-volume path is returned, so the page and `/healthz` explain
    what is missing.
    """
    env = os.environ if environ is None else environ
    if env.get("TXRAY_DB"):
        return Path(env["TXRAY_DB"])
    candidates = [MOUNTED_DB]
    if env.get("TXRAY_BUILTIN_DB"):
        candidates.append(Path(env["TXRAY_BUILTIN_DB"]))
    candidates.append(LOCAL_DEMO_DB)
    return next((p for p in candidates if p.is_file()), MOUNTED_DB)


def create_dash_app() -> dash.Dash:
    """The dashboard configured from the process environment (auth included, via create_app)."""
    db_path = resolve_db_path()
    app = create_app(db_path)
    auth = AuthConfig.from_env()
    warn_if_exposed(os.environ.get("TXRAY_BIND_HOST", "0.0.0.0"), config=auth)
    print(f"TX-Ray Explorer: serving {db_path} "
          f"(access control: {'on' if auth.enabled else 'off'})", file=sys.stderr, flush=True)
    return app


def create_server() -> flask.Flask:
    """Gunicorn application factory: the Flask server of the env-configured dashboard."""
    return create_dash_app().server
