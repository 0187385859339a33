"""`python -m precompute import-records`: formats, defaults and one-line errors."""

from __future__ import annotations

import gzip

import duckdb
import pandas as pd
import pytest

from precompute.cli import main

GOOD = "stage,token,neuron,activation,pos,seq_id,position\n" \
       "A,the,0,0.8,DT,0,0\nA,the,0,0.6,DT,0,1\nA,cat,0,0.2,NN,0,2\n" \
       "B,the,0,0.5,DT,1,0\nB,dog,0,0.5,NN,1,1\nC,dog,1,0.4,NN,2,0\n"


def _run(tmp_path, text: str, *extra: str, name: str = "r.csv"):
    src = tmp_path / name
    src.write_text(text)
    out = tmp_path / "out.duckdb"
    return main(["import-records", str(src), "--out", str(out), *extra]), out


def test_default_compares_every_ordered_pair(tmp_path, capsys):
    code, out = _run(tmp_path, GOOD)
    assert code == 0 and out.exists()
    con = duckdb.connect(str(out), read_only=True)
    pairs = con.execute("SELECT DISTINCT stage_a, stage_b FROM comparisons ORDER BY ALL").fetchall()
    assert pairs == [("A", "B"), ("A", "C"), ("B", "C")]
    h = con.execute("SELECT hellinger FROM comparisons WHERE stage_a='A' AND stage_b='B' "
                    "AND neuron=0 AND feature_kind='token'").fetchall()[0][0]
    assert h == pytest.approx(0.61351, abs=1e-5)
    assert con.execute("SELECT count(*) FROM contexts").fetchall()[0][0] == 6
    assert "3 stages" in capsys.readouterr().out


def test_explicit_compare_and_variants(tmp_path):
    code, out = _run(tmp_path, GOOD, "--compare", "B:A", "--variant", "paper",
                     "--variant", "reference")
    assert code == 0
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT DISTINCT stage_a, stage_b, variant FROM comparisons ORDER BY ALL"
                       ).fetchall() == [("B", "A", "paper"), ("B", "A", "reference")]


def test_parquet_and_folder_input(tmp_path):
    df = pd.read_csv(pd.io.common.StringIO(GOOD))
    folder = tmp_path / "recs"
    folder.mkdir()
    df[df.stage == "A"].to_parquet(folder / "a.parquet")
    with gzip.open(folder / "b.csv.gz", "wt") as f:
        df[df.stage != "A"].to_csv(f, index=False)
    out = tmp_path / "out.duckdb"
    assert main(["import-records", str(folder), "--out", str(out)]) == 0
    stages = duckdb.connect(str(out), read_only=True).execute(
        "SELECT stage FROM stages ORDER BY ord").fetchall()
    assert stages == [("A",), ("B",), ("C",)]


@pytest.mark.parametrize("text, message", [
    ("stage,token,neuron\nA,x,0\n", "missing required column 'activation'"),
    ("stage,token,neuron,activation\nA,x,0,0.5\nA,y,1,abc\n",
     "row 2: column 'activation' is 'abc', expected a finite number"),
    ("stage,token,neuron,activation\nA,x,-1,0.5\n",
     "row 1: column 'neuron' is '-1', expected a non-negative integer"),
    ("stage,token,neuron,activation\n", "no records (empty input)"),
    ("stage,token,neuron,activation,y_hat,y\nA,x,0,0.5,1.5,1\n", "column 'y_hat' is '1.5'"),
    ("stage,token,neuron,activation\n,x,0,0.5\n", "row 1: column 'stage' is empty"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, text, message):
    code, out = _run(tmp_path, text)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_unknown_compare_stage_and_existing_output(tmp_path, capsys):
    code, _ = _run(tmp_path, GOOD, "--compare", "A:Z")
    assert code == 2 and "unknown stage 'Z'" in capsys.readouterr().err
    assert _run(tmp_path, GOOD)[0] == 0
    code, _ = _run(tmp_path, GOOD)
    assert code == 2 and "--force" in capsys.readouterr().err
    assert _run(tmp_path, GOOD, "--force")[0] == 0


def test_missing_input_path(tmp_path, capsys):
    assert main(["import-records", str(tmp_path / "nope.csv"), "--out",
                 str(tmp_path / "o.duckdb")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_files_may_differ_in_optional_columns(tmp_path):
    folder = tmp_path / "recs"
    folder.mkdir()
    (folder / "a.csv").write_text("stage,token,neuron,activation\nA,x,0,0.5\nA,y,1,0.7\n")
    (folder / "b.csv").write_text("stage,token,neuron,activation,y_hat,y\n"
                                  "B,x,0,0.5,0.9,1\nB,y,0,0.5,0.9,0\n")
    out = tmp_path / "out.duckdb"
    assert main(["import-records", str(folder), "--out", str(out)]) == 0
    con = duckdb.connect(str(out), read_only=True)
    assert con.execute("SELECT stage, has_labels FROM stages ORDER BY ord").fetchall() == [
        ("A", False), ("B", True)]
    weighted = dict(con.execute("SELECT token, sum_act_weighted FROM feature_stats "
                                "WHERE stage = 'B'").fetchall())
    assert weighted == pytest.approx({"x": 0.5 * 0.9, "y": 0.5 * 0.1})


def test_a_file_with_only_y_hat_is_rejected(tmp_path, capsys):
    code, out = _run(tmp_path, "stage,token,neuron,activation,y_hat\nA,x,0,0.5,0.4\n")
    assert code == 2 and "only one of 'y_hat' and 'y'" in capsys.readouterr().err
    assert not out.exists()
