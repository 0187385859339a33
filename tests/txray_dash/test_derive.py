"""Pure DataFrame transforms."""

from __future__ import annotations

import math

import pandas as pd

from txray_dash import derive


def _ov():
    return pd.DataFrame({
        "neuron": [0, 1, 2, 3, 4],
        "hellinger": [0.5, None, None, 0.1, 0.9],
        "len_a": [10, 0, 5, 4, 2],
        "len_b": [20, 0, 0, 2, 2],
    })


def test_summary_counts():
    s = derive.summary(_ov())
    assert s == {**s, "neurons": 5, "alive_a": 4, "alive_b": 3, "alive_both": 3, "dead_both": 1,
                 "added": 0, "removed": 1}
    assert math.isclose(s["mean_h"], 0.5)
    assert math.isclose(s["mean_len_change_pct"], (100 - 50 + 0) / 3)


def test_head_tail_ignore_ill_defined():
    head, tail = derive.head_tail(_ov(), n=2)
    assert head["neuron"].tolist() == [4, 0]
    assert tail["neuron"].tolist() == [3, 0]


def test_length_paths_direction():
    long = pd.DataFrame({"stage": ["a", "b", "a", "b", "a", "b"], "neuron": [0, 0, 1, 1, 2, 2],
                         "length": [1, 5, 5, 1, 3, 3]})
    wide = derive.length_paths(long, stages=["a", "b"])
    assert wide.set_index("neuron")["direction"].to_dict() == {0: "longer", 1: "shorter",
                                                               2: "unchanged"}


def test_sorted_masses_normalised_sums_to_one():
    df = pd.DataFrame({"stage": ["a"] * 3 + ["b"] * 2, "neuron": [0, 1, 2, 0, 1],
                       "mass": [1.0, 3.0, 0.0, 2.0, 2.0]})
    out = derive.sorted_masses(df, normalised=True)
    assert out[out["stage"] == "a"]["mass"].tolist() == [0.75, 0.25, 0.0]
    assert out[out["stage"] == "a"]["rank"].tolist() == [1, 2, 3]


def test_pos_class_mapping():
    got = derive.pos_class(pd.Series(["NNS", "VBD", ",", "XX", None]))
    assert got.tolist() == ["noun", "verb", "punctuation", "other", "untagged"]


def test_consecutive_epochs():
    stages = pd.DataFrame({"stage": ["e1", "e48", "e49", "z"], "kind": ["pretrain"] * 3 + ["zero_shot"],
                           "model": ["lm"] * 4, "epoch": [1, 48, 49, 49]})
    pairs = pd.DataFrame({"stage_a": ["e1", "e48", "e1"], "stage_b": ["e48", "e49", "e49"],
                          "mean_h": [0.9, 0.2, 0.95], "n_alive": [5, 9, 4]})
    cons = derive.consecutive_epochs(stages, pairs)
    assert cons[["stage_a", "stage_b"]].values.tolist() == [["e1", "e48"], ["e48", "e49"]]


def test_filter_selection():
    assert len(derive.filter_selection(_ov(), [1, 3])) == 2
    assert len(derive.filter_selection(_ov(), None)) == 5


def test_pos_comparison_restricts_to_top_tags():
    corpus = pd.DataFrame({"corpus": ["c"] * 3, "pos": ["NN", "DT", "XX"], "count": [6, 3, 1],
                           "freq": [0.6, 0.3, 0.1]})
    share = pd.DataFrame({"stage": ["s", "s"], "pos": ["NN", "XX"], "mass": [1.0, 1.0],
                          "share": [0.5, 0.5]})
    out = derive.pos_comparison(corpus, share, stages=["s"], corpus_of={"s": "c"}, top=2)
    assert set(out["pos"].astype(str)) == {"NN", "DT"}
    assert set(out["series"]) == {"corpus: c", "activation: s"}
