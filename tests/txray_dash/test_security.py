"""Access control for shared instances: basic auth, bearer token, open /healthz, bind warning."""

from __future__ import annotations

import base64
import io

import flask
import pytest

from txray_dash.security import (
    AuthConfig,
    AuthConfigError,
    is_loopback,
    protect,
    warn_if_exposed,
)


def _basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _server(config: AuthConfig | None, **kwargs) -> tuple[flask.Flask, bool]:
    server = flask.Flask("security_test")
    server.add_url_rule("/", "page", lambda: "page")
    server.add_url_rule("/_dash-update-component", "update", lambda: "data", methods=["POST"])
    server.add_url_rule("/healthz", "healthz", lambda: "ok")
    installed = protect(server, config=config, **kwargs)
    return server, installed


def test_no_credentials_leaves_server_open():
    server, installed = _server(AuthConfig())
    client = server.test_client()
    assert installed is False
    assert client.get("/").status_code == 200
    assert client.post("/_dash-update-component").status_code == 200


def test_basic_auth_accepts_right_and_rejects_wrong_credentials():
    server, installed = _server(AuthConfig(user="ann", password="s3cret pass:with colon"))
    client = server.test_client()
    assert installed is True
    ok = client.get("/", headers=_basic("ann", "s3cret pass:with colon"))
    assert ok.status_code == 200 and ok.data == b"page"
    for headers in ({}, _basic("ann", "wrong"), _basic("bob", "s3cret pass:with colon"),
                    _basic("ann", ""), _bearer("s3cret pass:with colon"),
                    {"Authorization": "Basic not-base64!"}):
        response = client.get("/", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="TX-Ray Explorer"')
    assert client.post("/_dash-update-component", headers=_basic("ann", "no")).status_code == 401
    assert client.post("/_dash-update-component",
                       headers=_basic("ann", "s3cret pass:with colon")).status_code == 200


def test_token_auth_and_challenge_scheme():
    server, _ = _server(AuthConfig(token="t0ken-abcdefghijklmnop"))
    client = server.test_client()
    assert client.get("/", headers=_bearer("t0ken-abcdefghijklmnop")).status_code == 200
    wrong = client.get("/", headers=_bearer("t0ken-abcdefghijklmnoq"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer ")
    assert client.get("/", headers=_basic("t0ken-abcdefghijklmnop", "")).status_code == 401


def test_basic_and_token_together_accept_either():
    server, _ = _server(AuthConfig(user="ann", password="pw", token="tok"))
    client = server.test_client()
    assert client.get("/", headers=_basic("ann", "pw")).status_code == 200
    assert client.get("/", headers=_bearer("tok")).status_code == 200
    assert client.get("/", headers=_bearer("pw")).status_code == 401


def test_healthz_stays_open_and_open_paths_are_configurable():
    server, _ = _server(AuthConfig(user="ann", password="pw"))
    assert server.test_client().get("/healthz").status_code == 200
    closed, _ = _server(AuthConfig(user="ann", password="pw"), open_paths=frozenset())
    assert closed.test_client().get("/healthz").status_code == 401


def test_config_from_env_reads_variables_and_treats_empty_as_unset():
    cfg = AuthConfig.from_env({"TXRAY_AUTH_USER": "ann", "TXRAY_AUTH_PASSWORD": "pw",
                               "TXRAY_AUTH_TOKEN": ""})
    assert cfg == AuthConfig(user="ann", password="pw")
    assert cfg.basic and cfg.enabled and cfg.token is None
    assert not AuthConfig.from_env({}).enabled
    assert AuthConfig.from_env({"TXRAY_AUTH_TOKEN": "tok"}).token == "tok"


def test_config_from_env_reads_os_environ(monkeypatch):
    monkeypatch.setenv("TXRAY_AUTH_TOKEN", "from-env")
    server, installed = _server(None)
    assert installed is True
    assert server.test_client().get("/", headers=_bearer("from-env")).status_code == 200


@pytest.mark.parametrize("env", [{"TXRAY_AUTH_USER": "ann"},
                                 {"TXRAY_AUTH_PASSWORD": "pw"},
                                 {"TXRAY_AUTH_USER": "ann", "TXRAY_AUTH_PASSWORD": ""}])
def test_half_configured_basic_auth_is_an_error(env):
    with pytest.raises(AuthConfigError, match="TXRAY_AUTH_USER and TXRAY_AUTH_PASSWORD"):
        AuthConfig.from_env(env)


def test_repr_never_shows_secrets():
    text = repr(AuthConfig(user="ann", password="hunter2", token="tok-secret"))
    assert "hunter2" not in text and "tok-secret" not in text


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("unix:/run/txray.sock", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.5", False),
    ("example.org", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_warns_on_non_loopback_bind_without_auth():
    out = io.StringIO()
    assert warn_if_exposed("0.0.0.0", config=AuthConfig(), stream=out) is True
    assert "0.0.0.0" in out.getvalue() and "TXRAY_AUTH_PASSWORD" in out.getvalue()


def test_no_warning_on_loopback_or_with_auth(capsys):
    assert warn_if_exposed("127.0.0.1", config=AuthConfig()) is False
    assert warn_if_exposed("0.0.0.0", config=AuthConfig(token="tok")) is False
    assert capsys.readouterr().err == ""


def test_warning_goes_to_stderr_by_default(capsys, monkeypatch):
    monkeypatch.delenv("TXRAY_AUTH_USER", raising=False)
    monkeypatch.delenv("TXRAY_AUTH_PASSWORD", raising=False)
    monkeypatch.delenv("TXRAY_AUTH_TOKEN", raising=False)
    assert warn_if_exposed("10.0.0.7") is True
    captured = capsys.readouterr()
    assert "10.0.0.7" in captured.err and captured.out == ""
