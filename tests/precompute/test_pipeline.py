"""The precompute pipeline end to end on slices of the real WikiText-2 and IMDB (tiny models)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from precompute import cli, pipeline
from precompute.presets import build_config
from precompute.store import TABLES
from tests.precompute.archives import real_data_dir

TINY = ["--vocab-size", "2000", "--emb-dim", "16", "--hidden", "24", "--lm-epochs", "3",
        "--snapshots", "1", "2", "3", "--lm-train-tokens", "15000", "--lm-valid-tokens", "4000",
        "--record-tokens", "2500", "--clf-train-reviews", "300", "--clf-dev-reviews", "40",
        "--clf-test-reviews", "200", "--f1-train-reviews", "100", "--clf-epochs", "2",
        "--clf-target-f1", "0.99", "--prune-k", "4", "--prune-seeds", "5",
        "--prune-train-reviews", "80", "--prune-test-reviews", "80", "--max-review-tokens", "60",
        "--lm-batch-size", "16", "--contexts-per-neuron", "3"]
STAGES = ["wiki_ep1", "wiki_ep2", "wiki_ep3", "imdb_zero_shot", "imdb_supervised"]


def _run(tmp: Path, out: Path, run_dir: Path, *extra: str) -> int:
    return cli.main(["run", "--preset", "demo", "--data-dir", str(real_data_dir()),
                     "--no-download", "--cache-dir", str(tmp / "cache"), "--out", str(out),
                     "--run-dir", str(run_dir), *TINY, *extra])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    assert _run(tmp, tmp / "a.duckdb", tmp / "run_a", "--raw-rows", str(tmp / "raw")) == 0
    return tmp


def _con(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def _dump(path: Path, table: str, order: str) -> list:
    with _con(path) as con:
        return con.sql(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


@pytest.mark.slow
def test_every_table_is_filled_from_real_data(built):
    with _con(built / "a.duckdb") as con:
        for table in TABLES:
            assert con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] > 0, table
        stages = con.sql("SELECT stage, kind, corpus, epoch, layer, n_tokens, has_pos, has_labels, "
                         "n_neurons FROM stages ORDER BY ord").fetchall()
        assert [s[0] for s in stages] == STAGES
        assert [s[1] for s in stages] == ["pretrain"] * 3 + ["zero_shot", "supervised"]
        assert [s[2] for s in stages] == ["wikitext-2"] * 3 + ["imdb"] * 2
        assert all(s[4] == "rnn" and s[5] == 2500 and s[6] and s[8] == 24 for s in stages)
        assert [s[7] for s in stages] == [False] * 4 + [True]
        # Task-weighted sums exist only for the supervised stage.
        weighted = dict(con.sql("SELECT stage, count(sum_act_weighted) > 0 FROM feature_stats "
                                "GROUP BY stage").fetchall())
        assert weighted == {s: s == "imdb_supervised" for s in STAGES}
        # Every ordered stage pair, both variants, both feature kinds, every neuron.
        n = con.sql("SELECT count(*) FROM (SELECT DISTINCT stage_a, stage_b, variant, "
                    "feature_kind FROM comparisons)").fetchall()[0][0]
        assert n == 10 * 2 * 2
        assert con.sql("SELECT count(*) FROM comparisons").fetchall()[0][0] == 10 * 2 * 2 * 24
        # H is NULL exactly where the neuron is dead on either side.
        bad = con.sql("SELECT count(*) FROM comparisons WHERE (hellinger IS NULL) "
                      "<> (len_a = 0 OR len_b = 0)").fetchall()[0][0]
        assert bad == 0
        # POS frequencies count every recorded token once per corpus.
        pos = dict(con.sql("SELECT corpus, sum(count) FROM corpus_pos GROUP BY corpus").fetchall())
        assert pos == {"wikitext-2": 2500, "imdb": 2500}
        # Contexts point at the stored sequences: the token at that position is the context token.
        mismatched = con.sql(
            "SELECT count(*) FROM contexts c JOIN stages s USING (stage) "
            "JOIN sequences q ON q.corpus = s.corpus AND q.seq_id = c.seq_id "
            "WHERE q.tokens[c.position + 1] <> c.token").fetchall()[0][0]
        n_ctx = con.sql("SELECT count(*) FROM contexts").fetchall()[0][0]
        assert n_ctx > 0 and mismatched == 0
        assert con.sql("SELECT count(label) FROM sequences WHERE corpus = 'imdb'").fetchall()[0][0] \
            == con.sql("SELECT count(*) FROM sequences WHERE corpus = 'imdb'").fetchall()[0][0]
        log = con.sql("SELECT model, epoch, valid_ppl, train_f1, test_f1 FROM training_log "
                      "ORDER BY model, epoch").fetchall()
        assert [(r[0], r[1]) for r in log] == [("classifier", 1), ("classifier", 2),
                                              ("lm", 1), ("lm", 2), ("lm", 3)]
        assert all(r[2] > 1 for r in log if r[0] == "lm")
        assert all(0 <= r[3] <= 1 and 0 <= r[4] <= 1 for r in log if r[0] == "classifier")
        pr = con.sql("SELECT experiment, n, len(neurons), random_seeds, base_f1_test "
                     "FROM pruning ORDER BY experiment").fetchall()
        assert [r[0] for r in pr] == ["A", "B", "C", "D"]
        assert all(r[1] == r[2] for r in pr)
        assert all(r[3] == 5 for r in pr if r[1] > 0)
        config = json.loads(con.sql("SELECT value FROM meta WHERE key = 'config'").fetchall()[0][0])
    assert config == build_config("demo", overrides=pipeline.overrides_from_args(
        _parse_tiny())).to_dict()


def _parse_tiny():
    return cli.build_parser().parse_args(["run", *TINY])


@pytest.mark.slow
def test_deterministic_and_resumable(built):
    tmp = built
    assert _run(tmp, tmp / "b.duckdb", tmp / "run_b") == 0          # fresh, same seed
    assert _run(tmp, tmp / "c.duckdb", tmp / "run_a", "--resume") == 0  # every phase reused
    for other in ("b.duckdb", "c.duckdb"):
        for table, order in [("feature_stats", "stage, neuron, token, pos"),
                             ("pruning", "experiment"), ("contexts", "stage, neuron, rank")]:
            assert _dump(tmp / "a.duckdb", table, order) == _dump(tmp / other, table, order), table
    lm = "SELECT train_loss, valid_loss FROM training_log WHERE model = 'lm' ORDER BY epoch"
    with _con(tmp / "a.duckdb") as a, _con(tmp / "b.duckdb") as b:
        assert a.sql(lm).fetchall() == b.sql(lm).fetchall()


@pytest.mark.slow
def test_refuses_to_overwrite_and_an_interrupt_leaves_no_database(built, monkeypatch, capsys):
    tmp = built
    before = (tmp / "a.duckdb").read_bytes()
    assert _run(tmp, tmp / "a.duckdb", tmp / "run_a", "--resume") == 2
    assert "already exists" in capsys.readouterr().err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "collect_figures", interrupted)
    assert _run(tmp, tmp / "d.duckdb", tmp / "run_a", "--resume") == 130
    assert _run(tmp, tmp / "a.duckdb", tmp / "run_a", "--resume", "--force") == 130
    assert not (tmp / "d.duckdb").exists()
    assert (tmp / "a.duckdb").read_bytes() == before
    assert not list(tmp.glob(".*.tmp*"))


def test_resume_with_a_different_config_is_refused(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"hidden": 7}))
    code = cli.main(["run", "--out", str(tmp_path / "x.duckdb"), "--run-dir",
                     str(tmp_path / "run"), "--resume", "--data-dir", str(tmp_path)])
    assert code == 2
    assert "different configuration" in capsys.readouterr().err


def test_missing_data_says_what_and_how(tmp_path, capsys):
    code = cli.main(["run", "--data-dir", str(tmp_path / "nothing"), "--no-download",
                     "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "x.duckdb"),
                     "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "WikiText-2" in err or "wikitext" in err.lower()
    assert "--data-dir" in err and "TXRAY_DATA_DIR" in err
    assert not (tmp_path / "x.duckdb").exists()


def test_summary_lists_stages_pairs_f1_pruning_and_times(built, capsys):
    assert _run(built, built / "e.duckdb", built / "run_a", "--resume") == 0
    out = capsys.readouterr().out
    for needle in ["wiki_ep1", "imdb_supervised", "consecutive late", "early vs late",
                   "zero-shot vs supervised", "Classifier F1", "Pruning", "pretrain", "total"]:
        assert needle in out, needle


def test_raw_rows_round_trip_through_import_records(built, tmp_path):
    assert sorted(p.name for p in (built / "raw").iterdir()) == sorted(f"{s}.parquet" for s in STAGES)
    out = tmp_path / "imported.duckdb"
    assert cli.main(["import-records", str(built / "raw"), "--out", str(out)]) == 0
    q = ("SELECT stage_a, stage_b, neuron, feature_kind, hellinger, len_union FROM comparisons "
         "WHERE variant = 'paper' AND neuron < (SELECT min(n_neurons) FROM stages) ORDER BY ALL")
    # Files are read in name order, so pairs may come reversed: H and the union are symmetric.
    def by_pair(rows):
        return {(*sorted(r[:2]), *r[2:4]): r[4:] for r in rows}

    imported = by_pair(_con(out).sql(q).fetchall())
    original = by_pair(_con(built / "a.duckdb").sql(q).fetchall())
    assert imported and set(imported) <= set(original)
    for key, (h, n_union) in imported.items():
        h0, n0 = original[key]
        assert n_union == n0
        assert (h is None and h0 is None) or h == pytest.approx(h0, abs=1e-9)
    labels = dict(_con(out).sql("SELECT stage, has_labels FROM stages").fetchall())
    assert labels == {s: s == "imdb_supervised" for s in STAGES}
