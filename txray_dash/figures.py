"""Pure figure builders: DataFrame in, plotly `go.Figure` out (no Dash, no I/O).

Each figure is assembled as plain trace/layout dicts and validated once by `go.Figure(...)`
(much faster than incremental `add_trace`/`update_*` calls and `make_subplots`), with a small
explicit style instead of a plotly template.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from txray_dash.derive import CLASS_ORDER, pos_class

SHIFT_COLORS = {"longer": "#2563eb", "shorter": "#ea580c", "unchanged": "#6b7280"}
POS_COLORS = dict(zip(CLASS_ORDER, (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
    "#4d7c0f", "#64748b", "#a3a3a3", "#d4d4d4")))
STAGE_COLORS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
                "#db2777")
X_LABELS = {"len_union": "union length (features in A or B)", "len_a": "length in A",
            "len_b": "length in B"}
FONT = dict(family="Inter, system-ui, -apple-system, Segoe UI, sans-serif", size=12,
            color="#1f2937")


def _axis(title: str | None = None, **kw: Any) -> dict:
    return {"title": {"text": title, "font": {"size": 12}} if title else None,
            "gridcolor": "#eef0f3", "zeroline": False, "showline": True,
            "linecolor": "#d1d5db", "ticks": "outside", "tickcolor": "#d1d5db",
            "automargin": True, **kw}


def _layout(*, height: int, **kw: Any) -> dict:
    base = dict(
        template="none", height=height, font=FONT, paper_bgcolor="white",
        plot_bgcolor="white", margin=dict(l=64, r=20, t=36, b=52),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0,
                    font=dict(size=11)),
        hoverlabel=dict(font_size=12), xaxis=_axis(), yaxis=_axis(),
    )
    return {**base, **kw}


def message_figure(message: str, *, height: int = 320) -> go.Figure:
    """An empty figure that shows `message` in its middle."""
    return go.Figure(layout=_layout(
        height=height, xaxis=dict(visible=False), yaxis=dict(visible=False),
        annotations=[dict(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                          showarrow=False, font=dict(size=14, color="#6b7280"))]))


def hellinger_scatter(df: pd.DataFrame, *, x: str = "len_union", stage_a: str, stage_b: str,
                      selected: int | None = None, height: int = 460) -> go.Figure:
    """Hellinger distance vs length per neuron alive in both stages (WebGL, log x), coloured
    by the direction of the length shift; customdata[0] is the neuron id."""
    alive = df[df["hellinger"].notna()]
    if alive.empty:
        return message_figure(f"No neuron is alive in both {stage_a} and {stage_b}",
                              height=height)
    hover = ("<b>neuron %{customdata[0]}</b><br>H = %{y:.3f}<br>"
             f"len {stage_a} = %{{customdata[1]}} · len {stage_b} = %{{customdata[2]}}"
             "<br>union = %{customdata[3]}<br>"
             f"top {stage_a}: %{{customdata[4]}}<br>top {stage_b}: %{{customdata[5]}}"
             "<extra>%{fullData.name}</extra>")
    cols = ["neuron", "len_a", "len_b", "len_union", "top_a", "top_b"]
    traces = []
    for shift in ("longer", "shorter", "unchanged"):
        part = alive[alive["shift"] == shift]
        if part.empty:
            continue
        traces.append(dict(
            type="scattergl", x=part[x].to_numpy(), y=part["hellinger"].to_numpy(),
            mode="markers", name=f"{shift} in {stage_b} ({len(part):,})",
            marker=dict(color=SHIFT_COLORS[shift], size=7 if len(alive) < 5000 else 4,
                        opacity=0.7, line=dict(width=0.5, color="white")),
            customdata=part[cols].to_numpy(dtype=object), hovertemplate=hover,
        ))
    if selected is not None:
        sel = alive[alive["neuron"] == selected]
        if not sel.empty:
            traces.append(dict(
                type="scattergl", x=sel[x].to_numpy(), y=sel["hellinger"].to_numpy(),
                mode="markers", name=f"neuron {selected}", hovertemplate=hover,
                marker=dict(size=17, color="rgba(0,0,0,0)", line=dict(width=2.5, color="#111827")),
                customdata=sel[cols].to_numpy(dtype=object),
            ))
    layout = _layout(
        height=height, uirevision=f"{stage_a}|{stage_b}|{x}", clickmode="event",
        dragmode="lasso", hovermode="closest",
        xaxis=_axis(X_LABELS.get(x, x), type="log"),
        yaxis=_axis(f"Hellinger distance {stage_a} → {stage_b}", range=[-0.02, 1.02]),
    )
    return go.Figure(data=traces, layout=layout)


def _polylines(wide: pd.DataFrame, stages: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """x/y arrays of one line per row through `stages`, separated by NaN (vectorised)."""
    k = len(stages)
    xs = np.tile(np.append(np.arange(k, dtype=float), np.nan), len(wide))
    ys = np.hstack([wide[stages].to_numpy(dtype=float),
                    np.full((len(wide), 1), np.nan)]).ravel()
    return xs, ys


def length_slope(wide: pd.DataFrame, *, stages: list[str], log_y: bool = False,
                 max_lines: int = 3000, height: int = 420) -> go.Figure:
    """Slope chart of neuron lengths across ordered stages, one line per neuron, coloured by
    the first -> last direction; line opacity falls with the number of lines. With `log_y`,
    dead neurons (length 0) drop out of the lines. Above `max_lines` neurons a fixed random
    sample is drawn (counts and the mean line use all neurons)."""
    if wide.empty or len(stages) < 2:
        return message_figure("Choose at least two stages with recorded neurons", height=height)
    drawn = wide
    if len(wide) > max_lines:
        keep = np.random.default_rng(0).choice(len(wide), size=max_lines, replace=False)
        drawn = wide.iloc[np.sort(keep)]
    traces = []
    for direction in ("longer", "shorter", "unchanged"):
        part = drawn[drawn["direction"] == direction]
        if part.empty:
            continue
        total = int((wide["direction"] == direction).sum())
        xs, ys = _polylines(part, stages)
        traces.append(dict(
            type="scattergl", x=xs, y=ys, mode="lines", name=f"{direction} ({total:,})",
            opacity=float(np.clip(6.0 / np.sqrt(len(part)), 0.04, 0.8)),
            line=dict(color=SHIFT_COLORS[direction], width=1), hoverinfo="skip",
        ))
    traces.append(dict(type="scatter", x=np.arange(len(stages)), y=wide[stages].mean().to_numpy(),
                       mode="lines+markers", name="mean length",
                       line=dict(color="#111827", width=3),
                       hovertemplate="mean length %{y:.1f}<extra></extra>"))
    layout = _layout(
        height=height,
        xaxis=_axis(None, tickmode="array", tickvals=list(range(len(stages))), ticktext=stages,
                    range=[-0.2, len(stages) - 0.8]),
        yaxis=_axis("distribution length (features)" + (", log scale" if log_y else ""),
                    type="log" if log_y else "linear"),
    )
    if len(drawn) < len(wide):
        layout["title"] = dict(text=f"lines of a random sample of {len(drawn):,} of {len(wide):,} "
                                    "neurons", font=dict(size=12, color="#6b7280"), x=0.99,
                               xanchor="right")
    return go.Figure(data=traces, layout=layout)


def mass_curves(df: pd.DataFrame, *, normalised: bool, stage_order: list[str],
                height: int = 400) -> go.Figure:
    """Sorted activation-mass curve per stage (Fig. 11); `df` from `derive.sorted_masses`."""
    if df.empty:
        return message_figure("No activation mass recorded", height=height)
    traces = []
    for i, stage in enumerate(stage_order):
        part = df[df["stage"] == stage]
        if part.empty:
            continue
        traces.append(dict(
            type="scattergl", x=part["rank"].to_numpy(), y=part["mass"].to_numpy(),
            mode="lines", name=stage, line=dict(color=STAGE_COLORS[i % len(STAGE_COLORS)],
                                                width=2),
            hovertemplate=f"{stage}<br>rank %{{x}}<br>mass %{{y:.4g}}<extra></extra>",
        ))
    ytitle = ("share of the stage's activation mass" if normalised
              else "activation mass (Σ activation)")
    return go.Figure(data=traces, layout=_layout(
        height=height, xaxis=_axis("neurons sorted by activation mass"),
        yaxis=_axis(ytitle, type="log")))


def pos_share_bars(df: pd.DataFrame, *, height: int = 400) -> go.Figure:
    """Corpus POS frequency vs the encoder's activation share per POS tag (Fig. 3)."""
    if df.empty:
        return message_figure("No POS information in this database", height=height)
    traces = []
    corpus_i = stage_i = 0
    for series, part in df.groupby("series", sort=False, observed=True):
        if series.startswith("corpus"):
            color = ("#9ca3af", "#4b5563", "#d1d5db")[corpus_i % 3]
            corpus_i += 1
        else:
            color = STAGE_COLORS[stage_i % len(STAGE_COLORS)]
            stage_i += 1
        traces.append(dict(type="bar", x=part["pos"].astype(str).to_numpy(),
                           y=part["value"].to_numpy(), name=series, marker_color=color,
                           hovertemplate="%{x}: %{y:.1%}<extra>" + series + "</extra>"))
    return go.Figure(data=traces, layout=_layout(
        height=height, barmode="group", xaxis=_axis("POS tag (most frequent first)"),
        yaxis=_axis("share", tickformat=".0%")))


def convergence(cons: pd.DataFrame, log: pd.DataFrame, *, height: int = 400) -> go.Figure:
    """Mean H between consecutive epoch snapshots vs validation perplexity (RQ1)."""
    lm = log[log["valid_ppl"].notna()] if "valid_ppl" in log else log.iloc[0:0]
    if cons.empty and lm.empty:
        return message_figure("No consecutive epoch snapshots or training log in this database",
                              height=height)
    traces = [dict(type="scatter", x=part["epoch"].to_numpy(), y=part["valid_ppl"].to_numpy(),
                   mode="lines", name=f"validation perplexity ({model})",
                   line=dict(color="#6b7280", width=2),
                   hovertemplate="epoch %{x}<br>ppl %{y:.1f}<extra></extra>")
              for model, part in lm.groupby("model", sort=False)]
    if not cons.empty:
        traces.append(dict(
            type="scatter", x=cons["epoch_b"].to_numpy(), y=cons["mean_h"].to_numpy(),
            yaxis="y2", mode="markers+lines+text", name="mean H (consecutive snapshots)",
            text=(cons["stage_a"] + " → " + cons["stage_b"]).to_numpy(),
            textposition="top center", marker=dict(size=10, color="#2563eb"),
            line=dict(color="#2563eb", dash="dot"), customdata=cons[["n_alive"]].to_numpy(),
            hovertemplate="%{text}<br>mean H %{y:.3f}<br>%{customdata[0]} neurons alive in "
                          "both<extra></extra>"))
    return go.Figure(data=traces, layout=_layout(
        height=height, margin=dict(l=64, r=64, t=36, b=52), xaxis=_axis("epoch"),
        yaxis=_axis("validation perplexity", type="log"),
        yaxis2=_axis("mean Hellinger distance", overlaying="y", side="right", range=[0, 1.05],
                     showgrid=False, tickmode="linear", tick0=0, dtick=0.2)))


def token_bars(df: pd.DataFrame, *, stages: list[str], neuron: int, height: int | None = None
               ) -> go.Figure:
    """The neuron's top tokens by P in each stage side by side, grouped by POS class (bar
    colour, `POS_COLORS`) and annotated with the token's dominant POS tag. The height follows
    the number of bars unless given."""
    if height is None:
        rows = int(df.groupby("stage").size().max()) if not df.empty else 0
        height = int(np.clip(110 + 21 * rows, 240, 560))
    if df.empty:
        return message_figure(f"Neuron {neuron} has no activation mass in these stages",
                              height=height)
    cls = pos_class(df["pos"]).to_numpy()
    rank = pd.Series(cls).map({c: i for i, c in enumerate(CLASS_ORDER)}).to_numpy()
    order = np.lexsort((df["p"].to_numpy(), -rank))
    frame = df.iloc[order]
    cls, stage_col = cls[order], frame["stage"].to_numpy()
    labels_all = (frame["token"] + "  ").to_numpy()
    colors_all = np.array([POS_COLORS[c] for c in CLASS_ORDER])[rank[order]]
    k = len(stages)
    gap = 0.16 if k > 1 else 0.0
    width = (1.0 - gap * (k - 1)) / k
    layout = _layout(height=height, barmode="overlay", showlegend=False,
                     margin=dict(l=96, r=28, t=36, b=40))
    traces, annotations = [], []
    for i, stage in enumerate(stages):
        suffix = "" if i == 0 else str(i + 1)
        lo = i * (width + gap)
        m = stage_col == stage
        present = bool(m.any())
        annotations.append(dict(text=f"<b>{stage}</b>" if present
                                else f"<b>{stage}</b>: no mass (dead)",
                                x=lo + width / 2, y=1.0, xref="paper", yref="paper",
                                yanchor="bottom", showarrow=False, font=dict(size=13)))
        p_max = float(frame.loc[m, "p"].max()) if present else 1.0
        layout[f"xaxis{suffix}"] = _axis("P(token)", domain=[lo, lo + width],
                                         anchor=f"y{suffix}", visible=present,
                                         range=[0, p_max * 1.22])
        layout[f"yaxis{suffix}"] = _axis(None, anchor=f"x{suffix}", categoryorder="array",
                                         categoryarray=labels_all[m], visible=present,
                                         showgrid=False)
        if not present:
            continue
        part = frame[m]
        traces.append(dict(
            type="bar", orientation="h", x=part["p"].to_numpy(), y=labels_all[m],
            xaxis=f"x{suffix}", yaxis=f"y{suffix}", name=stage,
            marker=dict(color=colors_all[m]), text=part["pos"].fillna("–").to_numpy(),
            textposition="outside", cliponaxis=False,
            customdata=np.column_stack([part["pos"].fillna("–").to_numpy(), cls[m],
                                        part["mu"].to_numpy(), part["n"].to_numpy()]),
            hovertemplate="<b>%{y}</b> %{customdata[0]} (%{customdata[1]})<br>P = %{x:.4f}<br>"
                          "mean activation %{customdata[2]:.3f}<br>%{customdata[3]} rows"
                          "<extra>" + stage + "</extra>",
        ))
    layout["annotations"] = annotations
    return go.Figure(data=traces, layout=layout)


def pos_distribution(df: pd.DataFrame, *, stages: list[str], neuron: int, height: int = 320
                     ) -> go.Figure:
    """The neuron's POS distribution in each stage (grouped bars, top tags)."""
    if df.empty:
        return message_figure(f"No POS distribution for neuron {neuron} in these stages",
                              height=height)
    top = df.sort_values("p", ascending=False).drop_duplicates("pos").head(15)
    tags = top["pos"].to_numpy()
    traces = []
    for i, stage in enumerate(stages):
        part = df[df["stage"] == stage]
        y = pd.Series(part["p"].to_numpy(), index=part["pos"].to_numpy()).reindex(tags)
        traces.append(dict(type="bar", x=tags, y=y.fillna(0.0).to_numpy(), name=stage,
                           marker_color=STAGE_COLORS[i % len(STAGE_COLORS)],
                           hovertemplate="%{x}: P = %{y:.3f}<extra>" + stage + "</extra>"))
    return go.Figure(data=traces, layout=_layout(height=height, barmode="group",
                                                 yaxis=_axis("P(POS)")))
