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


def test_demo_command_uses_the_demo_preset(tmp_path):
    target = tmp_path / "demo.duckdb"
    assert entry.demo_command(target) == [sys.executable, "-m", "precompute", "run", "--preset",
                                          "demo", "--out", str(target)]


def test_missing_default_db_is_built_then_served(monkeypatch, tmp_path, capfd):
    target = tmp_path / "demo.duckdb"
    monkeypatch.setattr(entry, "DEFAULT_DB", target)
    build = [sys.executable, "-c",
             f"print('building...', flush=True); open({str(target)!r}, 'w').close()"]
    assert entry.ensure_database(target, build=build) == 0
    assert target.exists() and "building..." in capfd.readouterr().out
    assert entry.ensure_database(target, build=[sys.executable, "-c", "raise SystemExit(9)"]) == 0


def test_failed_demo_build_is_reported(monkeypatch, tmp_path, capsys):
    target = tmp_path / "demo.duckdb"
    monkeypatch.setattr(entry, "DEFAULT_DB", target)
    assert entry.ensure_database(target, build=[sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert "building the demo database failed" in capsys.readouterr().err
