"""`python app.py`: argument handling and the missing-database paths (no server started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import app as entry

REPO = Path(__file__).resolve().parent.parent


def test_missing_non_default_db_exits_2(tmp_path):
    r = subprocess.run([sys.executable, "app.py", "--db", str(tmp_path / "x.duckdb")], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "no analysis database" in r.stderr and "--preset demo" in r.stderr


def test_defaults():
    args = entry.build_parser().parse_args([])
    assert (args.db, args.host, args.port) == (entry.DEFAULT_DB, "127.0.0.1", 8050)


def test_default_db_is_built_with_the_demo_preset(monkeypatch, tmp_path):
    calls = []

    def fake_call(cmd):
        calls.append(cmd)
        Path(cmd[-1]).write_bytes(b"")
        return 0

    target = tmp_path / "demo.duckdb"
    monkeypatch.setattr(entry, "DEFAULT_DB", target)
    monkeypatch.setattr(entry.subprocess, "call", fake_call)
    assert entry.ensure_database(target) == 0
    assert calls == [[sys.executable, "-m", "precompute", "run", "--preset", "demo", "--out",
                      str(target)]]


def test_failed_demo_build_is_reported(monkeypatch, tmp_path, capsys):
    target = tmp_path / "demo.duckdb"
    monkeypatch.setattr(entry, "DEFAULT_DB", target)
    monkeypatch.setattr(entry.subprocess, "call", lambda cmd: 3)
    assert entry.ensure_database(target) == 3
    assert "building the demo database failed" in capsys.readouterr().err
