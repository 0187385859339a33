"""Fixtures for the dashboard tests: a tiny synthetic analysis DB built once per session, the
app on it, and (for browser tests) the app served in a background thread + headless Chromium."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from benchmarks.synthetic_db import generate
from txray_dash import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dashdb") / "tiny.duckdb"
    return generate(path, scale="tiny", seed=3, progress=False)


@pytest.fixture(scope="session")
def tiny_db_b(tmp_path_factory) -> Path:
    """A second, different database (other seed) to check cache keys per DB."""
    path = tmp_path_factory.mktemp("dashdb_b") / "tiny_b.duckdb"
    return generate(path, scale="tiny", seed=11, progress=False)


@pytest.fixture()
def app(tiny_db):
    return create_app(tiny_db)


@pytest.fixture()
def data(app):
    return app.server.extensions["txray_data"]


@pytest.fixture(scope="session")
def served(tiny_db) -> Iterator[str]:
    """Base URL of the app on the tiny DB, served by werkzeug in a background thread."""
    app = create_app(tiny_db)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("TXRAY_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser):
    """A fresh page that records console errors and uncaught page errors in `page.errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
          if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()
