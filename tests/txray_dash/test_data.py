"""Queries of txray_dash.data against independent pandas computations on the same DB."""

from __future__ import annotations

import duckdb
import flask
import numpy as np
import pandas as pd
import pytest
from flask_caching import Cache

from txray_dash.data import AnalysisData, DatabaseError, check_database


def _raw(db, sql, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _standalone(db, cache=None) -> AnalysisData:
    if cache is None:
        cache = Cache(flask.Flask("t"), config={"CACHE_TYPE": "SimpleCache"})
    return AnalysisData(db, cache=cache)


def test_check_database_reports_missing_and_wrong_files(tmp_path):
    with pytest.raises(DatabaseError, match="no analysis database"):
        check_database(tmp_path / "missing.duckdb")
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DatabaseError, match="cannot be opened"):
        check_database(junk)
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(DatabaseError, match="not a TX-Ray analysis database"):
        check_database(other)


def test_wrong_schema_version(tmp_path):
    path = tmp_path / "v99.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    con.close()
    with pytest.raises(DatabaseError, match="schema version 99"):
        check_database(path)


def test_info(data, tiny_db):
    info = data.info()
    assert info.stage_names == ["wiki_ep1", "wiki_ep48", "wiki_ep49", "imdb_zero_shot",
                                "imdb_supervised"]
    assert set(info.variants) == {"paper", "reference"}
    assert ("wiki_ep48", "wiki_ep49") in info.pairs


def test_overview_matches_comparisons(data, tiny_db):
    df = data.overview("wiki_ep48", "wiki_ep49", "token", "paper")
    ref = _raw(tiny_db, "SELECT neuron, hellinger, len_a, len_b, shift FROM comparisons "
                        "WHERE stage_a='wiki_ep48' AND stage_b='wiki_ep49' AND "
                        "feature_kind='token' AND variant='paper' ORDER BY neuron")
    assert len(df) == data.info().n_neurons("wiki_ep48")
    pd.testing.assert_frame_equal(df[["neuron", "hellinger", "len_a", "len_b", "shift"]]
                                  .reset_index(drop=True), ref, check_dtype=False)
    top = _raw(tiny_db, "SELECT neuron, feature FROM distributions WHERE stage='wiki_ep49' "
                        "AND feature_kind='token' ORDER BY neuron, p DESC, feature")
    first = top.groupby("neuron")["feature"].first()
    got = df.set_index("neuron")["top_b"].str.split(" · ").str[0]
    assert (got.loc[first.index] == first).all()


def test_overview_of_a_reversed_pair_swaps_lengths_and_shift(data):
    fwd = data.overview("wiki_ep1", "wiki_ep48", "token", "paper").set_index("neuron")
    rev = data.overview("wiki_ep48", "wiki_ep1", "token", "paper").set_index("neuron")
    assert (rev["len_a"] == fwd["len_b"]).all() and (rev["len_b"] == fwd["len_a"]).all()
    np.testing.assert_allclose(rev["hellinger"], fwd["hellinger"])
    flip = {"longer": "shorter", "shorter": "longer", "unchanged": "unchanged"}
    assert (rev["shift"] == fwd["shift"].map(flip)).all()
    assert (rev["top_a"] == fwd["top_b"]).all()


def test_unknown_pair_raises(data):
    with pytest.raises(DatabaseError, match="not compared"):
        data.overview("wiki_ep1", "nope", "token", "paper")


def test_token_bars_dominant_pos_and_ranking(data, tiny_db):
    neuron = int(data.overview("wiki_ep48", "wiki_ep49", "token", "paper")
                 .sort_values("len_b").iloc[-1]["neuron"])
    bars = data.token_bars(neuron, ("wiki_ep49",), 5)
    fs = _raw(tiny_db, "SELECT token, pos, sum_act FROM feature_stats WHERE stage='wiki_ep49' "
                       "AND neuron = ?", [neuron])
    d = _raw(tiny_db, "SELECT feature, p FROM distributions WHERE stage='wiki_ep49' AND "
                      "feature_kind='token' AND neuron = ? ORDER BY p DESC, feature LIMIT 5",
             [neuron])
    assert bars["token"].tolist() == d["feature"].tolist()
    dominant = fs.sort_values("sum_act").groupby("token")["pos"].last()
    assert (bars.set_index("token")["pos"] == dominant.loc[bars["token"]]).all()


def test_contexts_window_surrounds_the_token(data, tiny_db):
    ctx = data.contexts(5, ("wiki_ep48",), 3)
    assert not ctx.empty and ctx["rank"].tolist() == sorted(ctx["rank"])
    row = ctx.iloc[0]
    tokens = _raw(tiny_db, "SELECT tokens FROM sequences WHERE corpus='wikitext-2' AND seq_id=?",
                  [int(row["seq_id"])])["tokens"].iloc[0]
    pos = int(row["position"])
    assert tokens[pos] == row["token"]
    assert row["left_text"] == " ".join(tokens[max(0, pos - 8):pos])
    assert row["right_text"] == " ".join(tokens[pos + 1:pos + 9])


def test_neuron_numbers_and_comparisons(data, tiny_db):
    nums = data.neuron_numbers(2)
    assert set(nums["stage"]) == set(data.info().stage_names)
    tok = nums[nums["feature_kind"] == "token"]
    shares = _raw(tiny_db, "SELECT stage, mass / sum(mass) OVER (PARTITION BY stage) AS s, neuron "
                           "FROM neuron_stats WHERE feature_kind='token'")
    ref = shares[shares["neuron"] == 2].set_index("stage")["s"]
    np.testing.assert_allclose(tok.set_index("stage")["mass_share"].loc[ref.index], ref)
    comps = data.neuron_comparisons(2, "token", "paper")
    assert len(comps) == len(data.info().pairs)


def test_supervision_added_is_dead_then_alive(data, tiny_db):
    df = data.supervision_added("imdb_zero_shot", "imdb_supervised", weighted=False)
    ns = _raw(tiny_db, "SELECT stage, neuron, alive, mass FROM neuron_stats "
                       "WHERE feature_kind='token'")
    z = ns[ns["stage"] == "imdb_zero_shot"].set_index("neuron")["alive"]
    s = ns[ns["stage"] == "imdb_supervised"].set_index("neuron")
    expected = s[s["alive"] & ~z.loc[s.index]].sort_values("mass", ascending=False)
    assert len(expected) > 0
    assert df["neuron"].tolist() == expected.index.tolist()
    weighted = data.supervision_added("imdb_zero_shot", "imdb_supervised", weighted=True)
    assert set(weighted["neuron"]) == set(df["neuron"])


def test_neurons_with_token_ranked_and_parameterised(data, tiny_db):
    hits = data.neurons_with_token("wiki_ep48", "token", "the")
    assert not hits.empty and (np.diff(hits["p"].to_numpy()) <= 0).all()
    assert data.neurons_with_token("wiki_ep48", "token", "x' OR '1'='1").empty


def test_model_level_queries(data):
    assert set(data.masses("token")["stage"]) == set(data.info().stage_names)
    share = data.pos_share()
    np.testing.assert_allclose(share.groupby("stage")["share"].sum(), 1.0)
    freq = data.corpus_pos()
    np.testing.assert_allclose(freq.groupby("corpus")["freq"].sum(), 1.0)
    assert set(data.pruning()["experiment"]) == {"A", "B", "C", "D"}
    assert {"lstm_lm", "lstm_clf"} <= set(data.training_log()["model"])
    conv = data.convergence("token", "paper")
    assert len(conv) == len(data.info().pairs)


def test_results_are_memoised(tiny_db, monkeypatch):
    d = _standalone(tiny_db)
    first = d.overview("wiki_ep48", "wiki_ep49", "token", "paper")

    def boom(*a, **k):
        raise AssertionError("query ran again instead of hitting the cache")

    monkeypatch.setattr(d, "_df", boom)
    again = d.overview("wiki_ep48", "wiki_ep49", "token", "paper")
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(AssertionError, match="query ran again"):
        d.overview("wiki_ep48", "wiki_ep49", "pos", "paper")


def test_cache_key_includes_the_database(tiny_db, tiny_db_b):
    cache = Cache(flask.Flask("shared"), config={"CACHE_TYPE": "SimpleCache"})
    a, b = _standalone(tiny_db, cache), _standalone(tiny_db_b, cache)
    ha = a.overview("wiki_ep48", "wiki_ep49", "token", "paper")["hellinger"]
    hb = b.overview("wiki_ep48", "wiki_ep49", "token", "paper")["hellinger"]
    assert not ha.equals(hb)


def test_replaced_database_is_reopened_with_fresh_cache_keys(tmp_path, tiny_db, tiny_db_b):
    import os
    import shutil

    path = tmp_path / "live.duckdb"
    shutil.copy(tiny_db, path)
    d = _standalone(path)
    before = d.overview("wiki_ep48", "wiki_ep49", "token", "paper")["hellinger"]
    tmp = tmp_path / ".live.tmp"
    shutil.copy(tiny_db_b, tmp)
    os.utime(tmp, ns=(1, 1))  # a different mtime even on coarse clocks
    os.replace(tmp, path)
    d.info()  # any query notices the new file
    after = d.overview("wiki_ep48", "wiki_ep49", "token", "paper")["hellinger"]
    ref = _raw(tiny_db_b, "SELECT hellinger FROM comparisons WHERE stage_a='wiki_ep48' AND "
                          "stage_b='wiki_ep49' AND feature_kind='token' AND variant='paper' "
                          "ORDER BY neuron")["hellinger"]
    assert not before.equals(after)
    np.testing.assert_allclose(after.to_numpy(dtype=float), ref.to_numpy(dtype=float))


def test_pairs_fall_back_to_comparisons_without_meta(tmp_path, tiny_db):
    import shutil

    path = tmp_path / "nometa.duckdb"
    shutil.copy(tiny_db, path)
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM meta WHERE key IN ('pairs', 'variants')")
    con.close()
    info = check_database(path)
    assert ("wiki_ep48", "wiki_ep49") in info.pairs and set(info.variants) == {"paper", "reference"}


def test_context_windows_clip_to_the_sequence():
    import pyarrow as pa

    from txray_dash.data import CorpusTokens

    seqs = CorpusTokens(seq_ids=np.array([3, 7]), offsets=np.array([0, 4, 6]),
                        values=pa.array(["a", "b", "c", "d", "x", "y"]),
                        labels=np.array([1.0, 0.0]))
    left, right, label = seqs.windows(np.array([3, 7, 3, 5]), np.array([0, 1, 2, 0]), 2)
    assert left.tolist() == ["", "x", "a b", ""]
    assert right.tolist() == ["b c", "", "d", ""]
    assert label[:3].tolist() == [1.0, 0.0, 1.0] and np.isnan(label[3])


def test_token_search_falls_back_to_case_insensitive(data):
    exact = data.neurons_with_token("wiki_ep48", "token", "the")
    upper = data.neurons_with_token("wiki_ep48", "token", "THE")
    assert not exact.empty and upper["neuron"].tolist() == exact["neuron"].tolist()
    assert set(upper["feature"]) == {"the"}
