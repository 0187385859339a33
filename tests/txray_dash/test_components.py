"""HTML building blocks."""

from __future__ import annotations

import math

import pandas as pd
from dash import html

from txray_dash import components as C


def test_number_formatting():
    assert C.fmt_num(0.12345) == "0.123" and C.fmt_num(float("nan")) == "–"
    assert C.fmt_num(None) == "–" and C.fmt_num(7) == "7"
    assert C.fmt_pct(-1.234) == "-1.2 %" and C.fmt_pct(math.nan) == "–"


def test_table_uses_formatters_and_components():
    df = pd.DataFrame({"neuron": [3, 4], "h": [0.5, float("nan")]})
    t = C.table(df, [("neuron", "n", lambda v: C.neuron_button(int(v), list_id="x")),
                     ("h", "H", None)], table_id="t")
    body = t.children.children[1].children
    first = body[0].children
    assert first[0].children.id == {"type": "neuron-link", "list": "x", "index": 3}
    assert body[1].children[1].children == "–"
    assert "Nothing" in C.table(df.iloc[0:0], [("h", "H", None)]).children


def test_neuron_list_entries_are_links():
    df = pd.DataFrame({"neuron": [5, 9], "hellinger": [0.9, 0.8], "top_b": ["a", "b"]})
    ol = C.neuron_list(df, list_id="head", label=lambda r: r["top_b"])
    buttons = [li.children for li in ol.children]
    assert [b.id["index"] for b in buttons] == [5, 9]
    assert buttons[0].children[2].children == "a"


def test_context_snippet_highlights_the_token():
    df = pd.DataFrame({"stage": ["s"], "act": [1.5], "left_text": ["the big"], "token": ["cat"],
                       "right_text": ["sat down"]})
    out = C.context_snippets(df)
    line = out.children[0].children[1].children[0]
    mark = [c for c in line.children if isinstance(c, html.Mark)][0]
    assert mark.children == "cat"
    assert "No stored contexts" in C.context_snippets(df.iloc[0:0]).children


def test_summary_cards_and_legend():
    s = {"neurons": 10, "alive_a": 8, "alive_b": 7, "alive_both": 6, "dead_both": 1, "added": 1,
         "removed": 2, "mean_h": 0.25, "mean_len_change_pct": -3.0}
    cards = C.summary_cards(s, stage_a="A", stage_b="B")
    assert [c.children[0].children for c in cards] == ["8", "7", "6", "1", "1", "2", "0.250",
                                                      "-3.0 %"]
    legend = C.color_legend({"noun": "#000"})
    assert legend.children[0].children[1] == "noun"
