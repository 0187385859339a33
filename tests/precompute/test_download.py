"""Download path against a local HTTP server serving archives in the official layouts."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from precompute import corpora
from precompute.download import IMDB, WIKITEXT2, ChecksumError, fetch, sha256_of
from tests.precompute.archives import (imdb_rows, real_data_dir, wikitext_slice,
                                       write_acl_tarball, write_wikitext_zip)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A static HTTP server on 127.0.0.1 serving ``tmp_path/www``; records request paths."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    httpd.root = root
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def real_data() -> Path:
    return real_data_dir()


@pytest.fixture(scope="module")
def imdb_slice(real_data) -> dict[str, list[dict[str, str]]]:
    return imdb_rows(real_data, 4)


@pytest.fixture
def no_data_dir(monkeypatch):
    monkeypatch.delenv("TXRAY_DATA_DIR", raising=False)


@pytest.fixture
def wikitext_served(real_data, server, monkeypatch, no_data_dir):
    files = wikitext_slice(real_data, 60)
    archive = write_wikitext_zip(server.root / WIKITEXT2.filename, files)
    monkeypatch.setenv(WIKITEXT2.url_env, f"{server.base}/{WIKITEXT2.filename}")
    monkeypatch.setenv(WIKITEXT2.sha256_env, sha256_of(archive))
    return files


@pytest.fixture
def imdb_served(imdb_slice, server, monkeypatch, no_data_dir):
    rows = imdb_slice
    archive = write_acl_tarball(server.root / IMDB.filename, rows)
    monkeypatch.setenv(IMDB.url_env, f"{server.base}/{IMDB.filename}")
    monkeypatch.setenv(IMDB.sha256_env, sha256_of(archive))
    return rows


def test_official_checksums_are_sha256_hex():
    for spec in (WIKITEXT2, IMDB):
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
        assert spec.url.startswith("https://") and spec.url.endswith(spec.filename)


def test_wikitext_download_extract_load_then_cache_hit(server, wikitext_served, tmp_path):
    cache = tmp_path / "cache"
    got = corpora.load_wikitext2(cache_dir=cache)
    for s, data in wikitext_served.items():
        expected = [line.split() for line in data.decode("utf-8").splitlines() if line.strip()]
        assert got[s] == expected and len(expected) > 20
    assert server.requests == [f"/{WIKITEXT2.filename}"]
    assert sha256_of(cache / WIKITEXT2.filename) == sha256_of(server.root / WIKITEXT2.filename)
    assert sorted(p.name for p in (cache / "wikitext-2").iterdir()) == [
        "wiki.test.tokens", "wiki.train.tokens", "wiki.valid.tokens"]
    assert not list(cache.rglob("*.part"))

    (server.root / WIKITEXT2.filename).unlink()
    assert corpora.load_wikitext2(cache_dir=cache, download=False) == got
    assert corpora.load_wikitext2(cache_dir=cache) == got
    assert len(server.requests) == 1


def test_fetch_is_cached_without_contacting_the_server(server, wikitext_served, tmp_path):
    first = fetch(WIKITEXT2, tmp_path / "c")
    second = fetch(WIKITEXT2, tmp_path / "c")
    assert first == second and first.read_bytes() == (server.root / WIKITEXT2.filename).read_bytes()
    assert len(server.requests) == 1


def test_imdb_download_extract_load_then_cache_hit(server, imdb_served, tmp_path):
    cache = tmp_path / "cache"
    got = corpora.load_imdb(cache_dir=cache)
    for s, rows in imdb_served.items():
        assert got[s].texts == [r["text"] for r in rows]
        assert got[s].labels.dtype == np.int8
        assert got[s].labels.tolist() == [int(r["label"]) for r in rows]
    assert sorted(p.name for p in (cache / "imdb").iterdir()) == ["test.csv.gz", "train.csv.gz"]
    assert server.requests == [f"/{IMDB.filename}"]

    again = corpora.load_imdb(cache_dir=cache)
    assert len(server.requests) == 1
    for s in got:
        assert again[s].texts == got[s].texts
        assert np.array_equal(again[s].labels, got[s].labels)


def test_checksum_mismatch_raises_and_deletes_partial_file(server, wikitext_served, tmp_path,
                                                           monkeypatch):
    wrong = hashlib.sha256(b"not the archive").hexdigest()
    monkeypatch.setenv(WIKITEXT2.sha256_env, wrong)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=f"expected sha256 {wrong}") as e:
        corpora.load_wikitext2(cache_dir=cache)
    assert sha256_of(server.root / WIKITEXT2.filename) in str(e.value)
    assert WIKITEXT2.sha256_env in str(e.value)
    assert isinstance(e.value, corpora.DataNotFoundError)
    assert list(cache.iterdir()) == []


def test_official_checksum_is_used_when_only_the_url_is_overridden(server, wikitext_served,
                                                                    tmp_path, monkeypatch):
    monkeypatch.delenv(WIKITEXT2.sha256_env)
    with pytest.raises(ChecksumError, match=WIKITEXT2.sha256):
        fetch(WIKITEXT2, tmp_path)


def test_missing_data_without_download_explains_both_ways(tmp_path, no_data_dir):
    cache = tmp_path / "empty-cache"
    with pytest.raises(corpora.DataNotFoundError) as e:
        corpora.load_wikitext2(cache_dir=cache, download=False)
    msg = str(e.value)
    for part in ("--data-dir", "TXRAY_DATA_DIR", "wikitext-2/wiki.{train,valid,test}.tokens",
                 str(cache), WIKITEXT2.url, "downloading is disabled", "internet"):
        assert part in msg, part
    with pytest.raises(corpora.DataNotFoundError, match="imdb/aclImdb_v1.tar.gz"):
        corpora.load_imdb(cache_dir=cache, download=False)
    assert not cache.exists()


def test_unreachable_server_is_data_not_found(server, tmp_path, monkeypatch, no_data_dir):
    monkeypatch.setenv(IMDB.url_env, f"{server.base}/no-such-file.tar.gz")
    with pytest.raises(corpora.DataNotFoundError, match="Downloading failed.*404"):
        corpora.load_imdb(cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.part"))
