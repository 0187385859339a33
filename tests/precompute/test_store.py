"""The atomic writer and the read-only opener."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from precompute.store import (SCHEMA_VERSION, TABLES, AnalysisWriter, DatabaseExistsError,
                              open_read_only)


def _fs(rows):
    return pd.DataFrame(rows, columns=["neuron", "token", "pos", "n", "sum_act", "sum_act_weighted"])


def _write(path, **kw):
    with AnalysisWriter(path, **kw) as w:
        w.add_stage("a", kind="pretrain", n_neurons=3, n_tokens=4, n_silent=1,
                    feature_stats=_fs([(0, "x", "NN", 2, 1.0, None), (1, "y", None, 1, 0.5, None)]))
        w.add_stage("b", kind="zero_shot", n_neurons=3, n_tokens=2, n_silent=0,
                    feature_stats=_fs([(0, "y", "VB", 2, 1.0, None)]))
    return path


def test_schema_and_meta(tmp_path):
    con = open_read_only(_write(tmp_path / "x.duckdb"))
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables == set(TABLES)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert int(meta["schema_version"]) == SCHEMA_VERSION
    assert meta["pairs"] == '[["a", "b"]]'
    n = con.execute("SELECT count(*) FROM neuron_stats WHERE feature_kind = 'token'").fetchall()
    assert n == [(6,)]  # every neuron of every stage, dead ones included


def test_refuses_overwrite_without_force(tmp_path):
    p = _write(tmp_path / "x.duckdb")
    with pytest.raises(DatabaseExistsError, match="--force"):
        AnalysisWriter(p)
    _write(p, force=True)


def test_crash_leaves_no_partial_file_and_keeps_old_db(tmp_path):
    p = _write(tmp_path / "x.duckdb")
    before = p.read_bytes()
    with pytest.raises(RuntimeError):
        with AnalysisWriter(p, force=True) as w:
            w.add_stage("only", kind="pretrain", n_neurons=1, n_tokens=1, n_silent=0,
                        feature_stats=_fs([(0, "x", None, 1, 1.0, None)]))
            raise RuntimeError("simulated crash")
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["x.duckdb"]
    fresh = tmp_path / "new.duckdb"
    with pytest.raises(KeyboardInterrupt):
        with AnalysisWriter(fresh):
            raise KeyboardInterrupt
    assert not fresh.exists()


def test_many_readers_share_the_file(tmp_path):
    p = _write(tmp_path / "x.duckdb")
    cons = [open_read_only(p) for _ in range(3)]
    assert {c.execute("SELECT count(*) FROM stages").fetchall()[0][0] for c in cons} == {2}


def test_open_read_only_rejects_foreign_and_old_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no analysis database"):
        open_read_only(tmp_path / "missing.duckdb")
    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).execute("CREATE TABLE t (x INT)").fetchall()
    with pytest.raises(ValueError, match="not a TX-Ray analysis database"):
        open_read_only(foreign)
    old = _write(tmp_path / "old.duckdb")
    con = duckdb.connect(str(old))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'").fetchall()
    con.close()
    with pytest.raises(ValueError, match="schema version 0, expected"):
        open_read_only(old)


def test_bad_stage_arguments(tmp_path):
    with AnalysisWriter(tmp_path / "x.duckdb") as w:
        with pytest.raises(ValueError, match="stage kind"):
            w.add_stage("a", kind="epoch", n_neurons=1, n_tokens=1, n_silent=0,
                        feature_stats=_fs([]))
        w.add_stage("a", kind="pretrain", n_neurons=1, n_tokens=1, n_silent=0,
                    feature_stats=_fs([(0, "x", None, 1, 1.0, None)]))
        with pytest.raises(ValueError, match="unknown stage 'zz'"):
            w.compute_measures([("a", "zz")])
        with pytest.raises(ValueError, match="no column"):
            w.add_rows("corpus_pos", pd.DataFrame({"corpus": ["c"], "tag": ["NN"], "count": [1]}))
