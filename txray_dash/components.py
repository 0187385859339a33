"""Small HTML building blocks (cards, neuron lists, tables, context snippets)."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import pandas as pd
from dash import html

Column = tuple[str, str, Callable[[object], object] | None]
"""(column, header, formatter): the formatter returns text or a component; None = fmt_num."""


def fmt_num(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_pct(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):+.1f} %"


def card(label: str, value: str, *, note: str | None = None, tone: str = "") -> html.Div:
    return html.Div(className=f"stat-card {tone}".strip(), children=[
        html.Div(value, className="stat-value"),
        html.Div(label, className="stat-label"),
        html.Div(note, className="stat-note") if note else None,
    ])


def summary_cards(s: dict, *, stage_a: str, stage_b: str) -> list[html.Div]:
    """The overview's summary numbers as cards."""
    n = s["neurons"]
    return [
        card(f"alive in {stage_a}", f"{s['alive_a']:,}", note=f"of {n:,}"),
        card(f"alive in {stage_b}", f"{s['alive_b']:,}", note=f"of {n:,}"),
        card("alive in both (H defined)", f"{s['alive_both']:,}", tone="accent"),
        card("dead in both", f"{s['dead_both']:,}"),
        card("added (dead → alive)", f"{s['added']:,}", tone="good"),
        card("removed (alive → dead)", f"{s['removed']:,}", tone="bad"),
        card("mean Hellinger", fmt_num(s["mean_h"])),
        card("mean length change", fmt_pct(s["mean_len_change_pct"])),
    ]


def neuron_list(df: pd.DataFrame, *, list_id: str, value: str = "hellinger",
                label: Callable[[pd.Series], str] | None = None) -> html.Ol:
    """Clickable neuron entries (`neuron-link` buttons) for the rows of `df`."""
    items = []
    for row in df.itertuples(index=False):
        r = row._asdict()
        text = label(r) if label else ""
        items.append(html.Li(html.Button(
            id={"type": "neuron-link", "list": list_id, "index": int(r["neuron"])},
            className="neuron-link", n_clicks=0,
            children=[html.Span(f"#{int(r['neuron'])}", className="nid"),
                      html.Span(fmt_num(r[value]), className="nval"),
                      html.Span(text, className="ntext")],
        )))
    return html.Ol(items, className="neuron-list")


def neuron_button(neuron: int, *, list_id: str) -> html.Button:
    """A compact clickable neuron id (selects the neuron like the overview lists)."""
    return html.Button(f"#{neuron}", id={"type": "neuron-link", "list": list_id, "index": neuron},
                       className="neuron-chip", n_clicks=0)


def table(df: pd.DataFrame, columns: Sequence[Column], *, table_id: str | None = None,
          empty: str = "Nothing to show.") -> html.Div:
    """A plain HTML table for `df` with (column, header, formatter) columns."""
    if df.empty:
        return html.Div(empty, className="muted", id=table_id) if table_id else \
            html.Div(empty, className="muted")
    head = html.Thead(html.Tr([html.Th(h) for _, h, _ in columns]))
    rows = [
        html.Tr([html.Td((f or fmt_num)(rec[c])) for c, _, f in columns])
        for rec in df.to_dict("records")
    ]
    kwargs = {"id": table_id} if table_id else {}
    return html.Div(html.Table([head, html.Tbody(rows)], className="data-table"),
                    className="table-wrap", **kwargs)


def context_snippets(df: pd.DataFrame) -> html.Div:
    """Top activating contexts, the token highlighted, grouped by stage."""
    if df.empty:
        return html.Div("No stored contexts for this neuron.", className="muted")
    blocks = []
    for stage, part in df.groupby("stage", sort=False):
        lines = [html.Li(className="context", children=[
            html.Span(f"{rec['act']:.3f}", className="ctx-act"),
            html.Span(rec["left_text"] or "", className="ctx-left"),
            html.Mark(rec["token"], className="ctx-token"),
            html.Span(rec["right_text"] or "", className="ctx-right"),
        ]) for rec in part.to_dict("records")]
        blocks.append(html.Div([html.H4(stage), html.Ol(lines, className="context-list")],
                               className="context-block"))
    return html.Div(blocks, className="contexts")


def color_legend(colors: dict[str, str]) -> html.Div:
    """A compact legend of coloured swatches (e.g. the POS classes of the token bars)."""
    return html.Div(className="legend", children=[
        html.Span(className="legend-item", children=[
            html.Span(className="swatch", style={"background": color}), name])
        for name, color in colors.items()
    ])
