"""Gunicorn entry point: database resolution, auth from env, exposure warning."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import wsgi

AUTH_VARS = ("TXRAY_AUTH_USER", "TXRAY_AUTH_PASSWORD", "TXRAY_AUTH_TOKEN")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No TXRAY_* settings, no default databases, cwd in an empty folder."""
    for var in (*AUTH_VARS, "TXRAY_DB", "TXRAY_BUILTIN_DB", "TXRAY_BIND_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(wsgi, "MOUNTED_DB", tmp_path / "data-volume" / "analysis.duckdb")
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_explicit_db_wins(clean_env, tmp_path):
    _touch(wsgi.MOUNTED_DB)
    assert wsgi.resolve_db_path({"TXRAY_DB": "/x/my.duckdb"}) == Path("/x/my.duckdb")


def test_mounted_volume_before_builtin_before_local_demo(clean_env, tmp_path):
    builtin = _touch(tmp_path / "image" / "analysis.duckdb")
    env = {"TXRAY_DB": "", "TXRAY_BUILTIN_DB": str(builtin)}
    _touch(tmp_path / wsgi.LOCAL_DEMO_DB)
    assert wsgi.resolve_db_path(env) == builtin
    _touch(wsgi.MOUNTED_DB)
    assert wsgi.resolve_db_path(env) == wsgi.MOUNTED_DB
    assert wsgi.resolve_db_path({}) == wsgi.MOUNTED_DB
    wsgi.MOUNTED_DB.unlink()
    assert wsgi.resolve_db_path({}) == wsgi.LOCAL_DEMO_DB


def test_nothing_found_points_at_the_volume(clean_env):
    assert wsgi.resolve_db_path({}) == wsgi.MOUNTED_DB


def test_server_from_env_is_protected_and_healthz_explains_missing_db(clean_env, tmp_path, capsys):
    clean_env.setenv("TXRAY_DB", str(tmp_path / "missing.duckdb"))
    clean_env.setenv("TXRAY_AUTH_TOKEN", "tok-123")
    client = wsgi.create_server().test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "missing.duckdb" in health.get_json()["reason"]
    assert client.get("/").status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer tok-123"}).status_code == 200
    err = capsys.readouterr().err
    assert "warning:" not in err and "access control: on" in err


def test_server_without_auth_warns_when_exposed(clean_env, capsys):
    clean_env.setenv("TXRAY_AUTH_USER", "")
    server = wsgi.create_server()
    assert server.test_client().get("/").status_code == 200
    assert server.debug is False
    err = capsys.readouterr().err
    assert "warning:" in err and "0.0.0.0" in err


def test_no_warning_on_loopback_bind(clean_env, capsys):
    clean_env.setenv("TXRAY_BIND_HOST", "127.0.0.1")
    wsgi.create_server()
    assert "warning:" not in capsys.readouterr().err


def test_basic_auth_from_env(clean_env):
    clean_env.setenv("TXRAY_AUTH_USER", "ann")
    clean_env.setenv("TXRAY_AUTH_PASSWORD", "pw")
    client = wsgi.create_server().test_client()
    good = base64.b64encode(b"ann:pw").decode()
    bad = base64.b64encode(b"ann:px").decode()
    assert client.get("/", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/", headers={"Authorization": f"Basic {bad}"}).status_code == 401
