"""`create_app()`: the Dash application factory (layout, callbacks, cache, /healthz)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dash
import flask
from flask_caching import Cache

from txray_dash import callbacks, layout
from txray_dash.data import AnalysisData, DatabaseError, check_database
from txray_dash.security import protect

ASSETS = Path(__file__).resolve().parent.parent / "assets"

DEFAULT_CACHE_CONFIG: dict[str, Any] = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 0,
                                        "CACHE_THRESHOLD": 2000}


def cache_config_from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Cache settings from TXRAY_CACHE_* environment variables (only those that are set).

    TXRAY_CACHE_TYPE (e.g. FileSystemCache so gunicorn workers share entries), TXRAY_CACHE_DIR,
    TXRAY_CACHE_TIMEOUT (seconds, 0 = never expire), TXRAY_CACHE_THRESHOLD (max entries),
    TXRAY_CACHE_REDIS_URL.
    """
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    if env.get("TXRAY_CACHE_TYPE"):
        out["CACHE_TYPE"] = env["TXRAY_CACHE_TYPE"]
    if env.get("TXRAY_CACHE_DIR"):
        out["CACHE_DIR"] = env["TXRAY_CACHE_DIR"]
    if env.get("TXRAY_CACHE_REDIS_URL"):
        out["CACHE_REDIS_URL"] = env["TXRAY_CACHE_REDIS_URL"]
    for key in ("TIMEOUT", "THRESHOLD"):
        value = env.get(f"TXRAY_CACHE_{key}")
        if value:
            try:
                out["CACHE_DEFAULT_TIMEOUT" if key == "TIMEOUT" else "CACHE_THRESHOLD"] = int(value)
            except ValueError:
                raise ValueError(f"TXRAY_CACHE_{key} must be an integer, got {value!r}") from None
    if out.get("CACHE_TYPE") == "FileSystemCache" and "CACHE_DIR" not in out:
        raise ValueError("TXRAY_CACHE_TYPE=FileSystemCache needs TXRAY_CACHE_DIR (a shared folder)")
    return out


def resolve_cache_config(cache_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, overridden by TXRAY_CACHE_* env vars, overridden by an explicit config."""
    return {**DEFAULT_CACHE_CONFIG, **cache_config_from_env(), **(cache_config or {})}


def create_app(db_path: str | Path, *, cache_config: dict | None = None) -> dash.Dash:
    """Build the dashboard for the analysis database at `db_path` (opened read-only).

    A missing or invalid database does not raise: the page explains the problem and
    `/healthz` answers 503 with the reason. Debug mode is never switched on here.
    """
    db_path = Path(db_path)
    app = dash.Dash(
        __name__,
        title="TX-Ray Explorer",
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        update_title=None,
    )
    server = app.server
    protect(server)
    server.config["TXRAY_DB"] = str(db_path)
    cache = Cache(server, config=resolve_cache_config(cache_config))
    data = AnalysisData(db_path, cache=cache)
    server.extensions["txray_data"] = data
    server.extensions["txray_cache"] = cache

    @server.get("/healthz")
    def healthz() -> tuple[flask.Response, int]:
        try:
            info = check_database(db_path)
        except DatabaseError as e:
            return flask.jsonify(status="error", reason=str(e), db=str(db_path)), 503
        return flask.jsonify(status="ok", schema_version=info.schema_version, db=str(db_path),
                             stages=info.stage_names), 200

    app.layout = lambda: layout.serve_layout(data)
    callbacks.register(app, data)
    return app
