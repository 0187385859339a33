"""Figure builders are pure DataFrame -> go.Figure functions."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from txray_dash import derive, figures


def _ov():
    return pd.DataFrame({
        "neuron": [0, 1, 2, 3], "hellinger": [0.2, None, 0.7, 0.4], "len_a": [5, 0, 9, 3],
        "len_b": [8, 4, 2, 3], "len_union": [10, 4, 10, 4],
        "shift": ["longer", "longer", "shorter", "unchanged"],
        "top_a": ["a", "", "b", "c"], "top_b": ["x", "y", "z", "w"],
    })


def test_figures_module_never_imports_dash():
    tree = ast.parse(Path(figures.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(n and n.split(".")[0] == "dash" for n in names)


def test_scatter_is_webgl_log_x_coloured_by_shift():
    fig = figures.hellinger_scatter(_ov(), x="len_union", stage_a="A", stage_b="B", selected=2)
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    assert fig.layout.xaxis.type == "log"
    by_name = {t.name: t for t in fig.data}
    assert by_name["longer in B (1)"].marker.color == figures.SHIFT_COLORS["longer"]
    assert list(by_name["longer in B (1)"].customdata[:, 0]) == [0]
    assert sum(len(t.x) for t in fig.data if t.name != "neuron 2") == 3  # neuron 1 is ill-defined
    assert "neuron 2" in by_name and "top B" in by_name["shorter in B (1)"].hovertemplate


def test_scatter_x_measure():
    fig = figures.hellinger_scatter(_ov(), x="len_a", stage_a="A", stage_b="B")
    assert sorted(np.concatenate([t.x for t in fig.data])) == [3, 5, 9]


def test_scatter_without_alive_neurons_explains():
    df = _ov().assign(hellinger=None)
    fig = figures.hellinger_scatter(df, stage_a="A", stage_b="B")
    assert "No neuron is alive" in fig.layout.annotations[0].text


def test_length_slope_one_polyline_per_neuron():
    long = pd.DataFrame({"stage": list("abcabc"), "neuron": [0, 0, 0, 1, 1, 1],
                         "length": [1, 2, 3, 3, 2, 1]})
    wide = derive.length_paths(long, stages=list("abc"))
    fig = figures.length_slope(wide, stages=list("abc"))
    longer = next(t for t in fig.data if t.name.startswith("longer"))
    assert list(longer.y[:3]) == [1, 2, 3] and np.isnan(longer.y[3])
    assert 0 < longer.opacity <= 0.8


def test_mass_curves_one_line_per_stage():
    df = derive.sorted_masses(pd.DataFrame({"stage": ["a", "a", "b"], "neuron": [0, 1, 0],
                                            "mass": [1.0, 2.0, 3.0]}), normalised=False)
    fig = figures.mass_curves(df, normalised=False, stage_order=["a", "b"])
    assert [t.name for t in fig.data] == ["a", "b"] and list(fig.data[0].y) == [2.0, 1.0]


def test_token_bars_grouped_by_pos_class_per_stage():
    df = pd.DataFrame({"stage": ["A", "A", "A", "B"], "rank": [1, 2, 3, 1],
                       "token": ["cat", "ran", "dog", "the"], "pos": ["NN", "VBD", "NN", "DT"],
                       "p": [0.5, 0.3, 0.2, 1.0], "mu": [1.0] * 4, "mass": [1.0] * 4, "n": [1] * 4})
    fig = figures.token_bars(df, stages=["A", "B", "C"], neuron=7)
    a, b = fig.data
    assert (a.xaxis, b.xaxis) == ("x", "x2")
    # classes in order (noun first, at the top = last category), by P inside a class
    assert [t.strip() for t in a.y] == ["ran", "dog", "cat"]
    assert list(a.text) == ["VBD", "NN", "NN"]
    assert list(a.marker.color) == [figures.POS_COLORS["verb"]] + [figures.POS_COLORS["noun"]] * 2
    assert b.marker.color[0] == figures.POS_COLORS["determiner"]
    assert "dead" in fig.layout.annotations[2].text and fig.layout.xaxis3.visible is False


def test_convergence_and_pos_share_and_pos_distribution():
    cons = pd.DataFrame({"stage_a": ["e1"], "stage_b": ["e2"], "epoch_b": [2], "mean_h": [0.3],
                         "n_alive": [10]})
    log = pd.DataFrame({"model": ["lm", "lm"], "epoch": [1, 2], "valid_ppl": [300.0, 200.0]})
    fig = figures.convergence(cons, log)
    assert len(fig.data) == 2 and fig.data[1].yaxis == "y2"
    share = pd.DataFrame({"series": ["corpus: c", "activation: s"], "pos": ["NN", "NN"],
                          "value": [0.3, 0.4]})
    assert len(figures.pos_share_bars(share).data) == 2
    pos = pd.DataFrame({"stage": ["A", "B"], "pos": ["NN", "DT"], "p": [1.0, 0.5],
                        "mass": [1.0, 1.0]})
    fig = figures.pos_distribution(pos, stages=["A", "B"], neuron=1)
    assert list(fig.data[0].y) == [1.0, 0.0]


def test_message_figure():
    fig = figures.message_figure("hello")
    assert fig.layout.annotations[0].text == "hello"


def test_length_slope_log_scale():
    long = pd.DataFrame({"stage": list("abab"), "neuron": [0, 0, 1, 1], "length": [1, 20, 5, 0]})
    wide = derive.length_paths(long, stages=["a", "b"])
    assert figures.length_slope(wide, stages=["a", "b"], log_y=True).layout.yaxis.type == "log"
    assert figures.length_slope(wide, stages=["a", "b"]).layout.yaxis.type == "linear"


def test_length_slope_samples_many_neurons():
    n = 50
    long = pd.DataFrame({"stage": ["a"] * n + ["b"] * n, "neuron": list(range(n)) * 2,
                         "length": list(range(n)) + [25] * n})
    wide = derive.length_paths(long, stages=["a", "b"])
    fig = figures.length_slope(wide, stages=["a", "b"], max_lines=10)
    lines = {t.name.split(" ")[0]: t for t in fig.data if t.mode == "lines"}
    assert sum(np.isnan(t.y).sum() for t in lines.values()) == 10
    assert lines["longer"].name == "longer (25)" and lines["shorter"].name == "shorter (24)"
    assert "10 of 50" in fig.layout.title.text


def test_token_bars_height_follows_the_number_of_bars():
    def frame(k):
        return pd.DataFrame({"stage": ["A"] * k, "rank": range(k), "token": [f"t{i}" for i in range(k)],
                             "pos": ["NN"] * k, "p": [1.0 / k] * k, "mu": [1.0] * k,
                             "mass": [1.0] * k, "n": [1] * k})
    small = figures.token_bars(frame(2), stages=["A"], neuron=0).layout.height
    big = figures.token_bars(frame(20), stages=["A"], neuron=0).layout.height
    assert small == 240 and big == 530
