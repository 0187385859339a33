"""The Flask/Dash server: /healthz, the layout endpoint, a callback POST, cache config."""

from __future__ import annotations

import json

import pytest

from txray_dash import create_app
from txray_dash.app import cache_config_from_env, resolve_cache_config


def test_healthz_ok(app, tiny_db):
    r = app.server.test_client().get("/healthz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok" and body["schema_version"] == 1 and body["db"] == str(tiny_db)


def test_healthz_missing_db(tmp_path):
    app = create_app(tmp_path / "absent.duckdb")
    r = app.server.test_client().get("/healthz")
    assert r.status_code == 503
    assert "no analysis database" in r.get_json()["reason"]


def test_missing_db_page_explains(tmp_path):
    app = create_app(tmp_path / "absent.duckdb")
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "error-page" in layout and "python -m precompute run --preset demo" in layout


def test_layout_endpoint(app):
    r = app.server.test_client().get("/_dash-layout")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    for cid in ("overview-graph", "stage-a", "stage-b", "detail", "model-tabs", "url"):
        assert f'"{cid}"' in text
    assert "tiny.duckdb" in text


def test_debug_is_off(app):
    assert not app.server.debug


def test_callback_post_overview(app):
    outputs = [("overview-graph", "figure"), ("summary", "children"), ("head-list", "children"),
               ("tail-list", "children"), ("overview-title", "children")]
    view = {"stage_a": "wiki_ep48", "stage_b": "wiki_ep49", "kind": "token", "x": "union",
            "variant": "paper", "neuron": None}
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "view", "property": "data", "value": view}],
        "changedPropIds": ["view.data"], "state": [],
    }
    client = app.server.test_client()
    client.get("/")
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    resp = json.loads(r.get_data(as_text=True))["response"]
    fig = resp["overview-graph"]["figure"]
    assert fig["data"][0]["type"] == "scattergl"
    assert "wiki_ep48 → wiki_ep49" in resp["overview-title"]["children"]


def test_callback_post_router_rejects_bad_url(app):
    ids = ["url.search", "stage-a.value", "stage-b.value", "kind.value", "x-measure.value",
           "variant.value", "view.data", "messages.children"]
    inputs = [{"id": "url", "property": "search", "value": "?stage_a=bogus&neuron=-3"}] + [
        {"id": i, "property": "value", "value": None}
        for i in ("stage-a", "stage-b", "kind", "x-measure", "variant")] + [
        {"id": "swap", "property": "n_clicks", "value": None},
        {"id": "overview-graph", "property": "clickData", "value": None},
        [], {"id": "neuron-go", "property": "n_clicks", "value": None},
        {"id": "neuron-input", "property": "value", "value": None}]
    body = {
        "output": ".." + "...".join(ids) + "..",
        "outputs": [{"id": i.split(".")[0], "property": i.split(".")[1]} for i in ids],
        "inputs": inputs, "changedPropIds": ["url.search"],
        "state": [{"id": "view", "property": "data", "value": None}],
    }
    r = app.server.test_client().post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    resp = json.loads(r.get_data(as_text=True))["response"]
    assert "bogus" in json.dumps(resp["messages"]["children"])
    assert resp["view"]["data"]["neuron"] is None
    assert resp["url"]["search"].startswith("?stage_a=wiki_ep1")


def test_cache_config_from_env(tmp_path, monkeypatch):
    env = {"TXRAY_CACHE_TYPE": "FileSystemCache", "TXRAY_CACHE_DIR": str(tmp_path),
           "TXRAY_CACHE_TIMEOUT": "60"}
    assert cache_config_from_env(env) == {"CACHE_TYPE": "FileSystemCache",
                                          "CACHE_DIR": str(tmp_path), "CACHE_DEFAULT_TIMEOUT": 60}
    with pytest.raises(ValueError, match="TXRAY_CACHE_DIR"):
        cache_config_from_env({"TXRAY_CACHE_TYPE": "FileSystemCache"})
    with pytest.raises(ValueError, match="integer"):
        cache_config_from_env({"TXRAY_CACHE_TIMEOUT": "soon"})
    monkeypatch.setenv("TXRAY_CACHE_TYPE", "NullCache")
    assert resolve_cache_config()["CACHE_TYPE"] == "NullCache"
    assert resolve_cache_config({"CACHE_TYPE": "SimpleCache"})["CACHE_TYPE"] == "SimpleCache"
    monkeypatch.delenv("TXRAY_CACHE_TYPE")
    assert resolve_cache_config()["CACHE_TYPE"] == "SimpleCache"


def test_filesystem_cache_shared_between_apps(tiny_db, tmp_path):
    config = {"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": str(tmp_path / "cache")}
    first = create_app(tiny_db, cache_config=config).server.extensions["txray_data"]
    df = first.overview("wiki_ep48", "wiki_ep49", "token", "paper")
    assert any((tmp_path / "cache").iterdir())
    second = create_app(tiny_db, cache_config=config).server.extensions["txray_data"]
    second._df = None  # any real query would fail: the answer must come from the shared cache
    assert second.overview("wiki_ep48", "wiki_ep49", "token", "paper").equals(df)


def test_env_timeout_reaches_the_memoised_queries(tiny_db, monkeypatch):
    monkeypatch.setenv("TXRAY_CACHE_TIMEOUT", "123")
    app = create_app(tiny_db)
    data = app.server.extensions["txray_data"]
    data.pruning()
    backend = app.server.extensions["cache"][app.server.extensions["txray_cache"]]
    expiries = [exp for exp, _ in backend._cache.values()]
    assert expiries and all(exp > 0 for exp in expiries)
