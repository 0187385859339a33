"""Pure figure builders: DataFrame in, plotly `go.Figure` out (no Dash, no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from txray_dash.derive import CLASS_ORDER, pos_class

SHIFT_COLORS = {"longer": "#2563eb", "shorter": "#ea580c", "unchanged": "#6b7280"}
POS_COLORS = dict(zip(CLASS_ORDER, (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
    "#4d7c0f", "#64748b", "#a3a3a3", "#d4d4d4")))
STAGE_COLORS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
                "#db2777")
X_LABELS = {"len_union": "union length (features in A or B)", "len_a": "length in A",
            "len_b": "length in B"}

_BASE_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=56, r=16, t=40, b=48),
    font=dict(family="Inter, system-ui, -apple-system, Segoe UI, sans-serif", size=12),
    legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0),
    hoverlabel=dict(font_size=12),
)


def _fig(**layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**_BASE_LAYOUT, **layout})
    return fig


def message_figure(message: str, *, height: int = 320) -> go.Figure:
    """An empty figure that shows `message` in its middle."""
    fig = _fig(height=height)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def hellinger_scatter(df: pd.DataFrame, *, x: str = "len_union", stage_a: str, stage_b: str,
                      selected: int | None = None, height: int = 460) -> go.Figure:
    """Hellinger distance vs length per neuron alive in both stages (WebGL, log x), coloured
    by the direction of the length shift; customdata[0] is the neuron id."""
    alive = df[df["hellinger"].notna()]
    if alive.empty:
        return message_figure(f"No neuron is alive in both {stage_a} and {stage_b}",
                              height=height)
    fig = _fig(height=height, uirevision=f"{stage_a}|{stage_b}|{x}", clickmode="event",
               dragmode="lasso")
    hover = ("<b>neuron %{customdata[0]}</b><br>H = %{y:.3f}<br>"
             f"len {stage_a} = %{{customdata[1]}} · len {stage_b} = %{{customdata[2]}}"
             "<br>union = %{customdata[3]}<br>"
             f"top {stage_a}: %{{customdata[4]}}<br>top {stage_b}: %{{customdata[5]}}"
             "<extra>%{fullData.name}</extra>")
    for shift in ("longer", "shorter", "unchanged"):
        part = alive[alive["shift"] == shift]
        if part.empty:
            continue
        fig.add_trace(go.Scattergl(
            x=part[x], y=part["hellinger"], mode="markers", name=f"{shift} in {stage_b}",
            marker=dict(color=SHIFT_COLORS[shift], size=7, opacity=0.7,
                        line=dict(width=0.5, color="white")),
            customdata=part[["neuron", "len_a", "len_b", "len_union", "top_a", "top_b"]]
            .to_numpy(dtype=object),
            hovertemplate=hover,
        ))
    if selected is not None:
        sel = alive[alive["neuron"] == selected]
        if not sel.empty:
            fig.add_trace(go.Scattergl(
                x=sel[x], y=sel["hellinger"], mode="markers", name=f"neuron {selected}",
                marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(width=2.5, color="#111827")),
                customdata=sel[["neuron", "len_a", "len_b", "len_union", "top_a", "top_b"]]
                .to_numpy(dtype=object),
                hovertemplate=hover,
            ))
    fig.update_xaxes(type="log", title=X_LABELS.get(x, x))
    fig.update_yaxes(title=f"Hellinger distance {stage_a} → {stage_b}", range=[-0.02, 1.02])
    return fig


def _polylines(wide: pd.DataFrame, stages: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """x/y arrays of one line per row through `stages`, separated by NaN (vectorised)."""
    k = len(stages)
    xs = np.tile(np.append(np.arange(k, dtype=float), np.nan), len(wide))
    ys = np.hstack([wide[stages].to_numpy(dtype=float),
                    np.full((len(wide), 1), np.nan)]).ravel()
    return xs, ys


def length_slope(wide: pd.DataFrame, *, stages: list[str], height: int = 420) -> go.Figure:
    """Slope chart of neuron lengths across ordered stages, one line per neuron, coloured by
    the first -> last direction; line opacity falls with the number of lines."""
    if wide.empty or len(stages) < 2:
        return message_figure("Choose at least two stages with recorded neurons", height=height)
    fig = _fig(height=height, showlegend=True)
    for direction in ("longer", "shorter", "unchanged"):
        part = wide[wide["direction"] == direction]
        if part.empty:
            continue
        opacity = float(np.clip(6.0 / np.sqrt(len(part)), 0.04, 0.8))
        xs, ys = _polylines(part, stages)
        fig.add_trace(go.Scattergl(
            x=xs, y=ys, mode="lines", name=f"{direction} ({len(part)})", opacity=opacity,
            line=dict(color=SHIFT_COLORS[direction], width=1), hoverinfo="skip",
        ))
    means = wide[stages].mean()
    fig.add_trace(go.Scatter(x=np.arange(len(stages)), y=means.to_numpy(), mode="lines+markers",
                             name="mean length", line=dict(color="#111827", width=3),
                             hovertemplate="mean length %{y:.1f}<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(stages))), ticktext=stages,
                     range=[-0.2, len(stages) - 0.8])
    fig.update_yaxes(title="distribution length (features)")
    return fig


def mass_curves(df: pd.DataFrame, *, normalised: bool, stage_order: list[str],
                height: int = 400) -> go.Figure:
    """Sorted activation-mass curve per stage (Fig. 11); `df` from `derive.sorted_masses`."""
    if df.empty:
        return message_figure("No activation mass recorded", height=height)
    fig = _fig(height=height)
    for i, stage in enumerate(stage_order):
        part = df[df["stage"] == stage]
        if part.empty:
            continue
        fig.add_trace(go.Scattergl(
            x=part["rank"], y=part["mass"], mode="lines", name=stage,
            line=dict(color=STAGE_COLORS[i % len(STAGE_COLORS)], width=2),
            hovertemplate=f"{stage}<br>rank %{{x}}<br>mass %{{y:.4g}}<extra></extra>",
        ))
    fig.update_xaxes(title="neurons sorted by activation mass")
    fig.update_yaxes(title="share of the stage's activation mass" if normalised
                     else "activation mass (Σ activation)", type="log")
    return fig


def pos_share_bars(df: pd.DataFrame, *, height: int = 400) -> go.Figure:
    """Corpus POS frequency vs the encoder's activation share per POS tag (Fig. 3)."""
    if df.empty:
        return message_figure("No POS information in this database", height=height)
    fig = _fig(height=height, barmode="group")
    corpus_i = stage_i = 0
    for series, part in df.groupby("series", sort=False, observed=True):
        if series.startswith("corpus"):
            color = ("#9ca3af", "#4b5563", "#d1d5db")[corpus_i % 3]
            corpus_i += 1
        else:
            color = STAGE_COLORS[stage_i % len(STAGE_COLORS)]
            stage_i += 1
        fig.add_trace(go.Bar(x=part["pos"].astype(str), y=part["value"], name=series,
                             marker_color=color,
                             hovertemplate="%{x}: %{y:.1%}<extra>" + series + "</extra>"))
    fig.update_yaxes(title="share", tickformat=".0%")
    fig.update_xaxes(title="POS tag (most frequent first)")
    return fig


def convergence(cons: pd.DataFrame, log: pd.DataFrame, *, height: int = 400) -> go.Figure:
    """Mean H between consecutive epoch snapshots vs validation perplexity (RQ1)."""
    lm = log[log["valid_ppl"].notna()] if "valid_ppl" in log else log.iloc[0:0]
    if cons.empty and lm.empty:
        return message_figure("No consecutive epoch snapshots or training log in this database",
                              height=height)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(**_BASE_LAYOUT, height=height)
    for model, part in lm.groupby("model", sort=False):
        fig.add_trace(go.Scatter(x=part["epoch"], y=part["valid_ppl"], mode="lines",
                                 name=f"validation perplexity ({model})",
                                 line=dict(color="#6b7280", width=2),
                                 hovertemplate="epoch %{x}<br>ppl %{y:.1f}<extra></extra>"),
                      secondary_y=False)
    if not cons.empty:
        labels = cons["stage_a"] + " → " + cons["stage_b"]
        fig.add_trace(go.Scatter(
            x=cons["epoch_b"], y=cons["mean_h"], mode="markers+lines+text", name="mean H (consecutive snapshots)",
            text=labels, textposition="top center", marker=dict(size=10, color="#2563eb"),
            line=dict(color="#2563eb", dash="dot"),
            customdata=cons[["n_alive"]].to_numpy(),
            hovertemplate="%{text}<br>mean H %{y:.3f}<br>%{customdata[0]} neurons alive in both"
                          "<extra></extra>"),
            secondary_y=True)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="validation perplexity", type="log", secondary_y=False)
    fig.update_yaxes(title="mean Hellinger distance", range=[0, 1.05], secondary_y=True)
    return fig


def token_bars(df: pd.DataFrame, *, stages: list[str], neuron: int, height: int = 520
               ) -> go.Figure:
    """The neuron's top tokens by P in each stage side by side, grouped by POS class and
    annotated with the token's dominant POS tag."""
    if df.empty:
        return message_figure(f"Neuron {neuron} has no activation mass in these stages",
                              height=height)
    present = set(df["stage"])
    titles = [s if s in present else f"{s} (no mass: dead)" for s in stages]
    fig = make_subplots(rows=1, cols=len(stages), subplot_titles=titles, horizontal_spacing=0.16)
    fig.update_layout(**_BASE_LAYOUT, height=height, barmode="overlay")
    fig.update_layout(margin=dict(l=96, r=24, t=40, b=40),
                      legend=dict(orientation="h", yanchor="top", y=-0.1, xanchor="left", x=0))
    frame = df.assign(pos_class=pos_class(df["pos"]))
    order = {c: i for i, c in enumerate(CLASS_ORDER)}
    frame["class_rank"] = frame["pos_class"].map(order)
    shown: set[str] = set()
    for col, stage in enumerate(stages, start=1):
        part = frame[frame["stage"] == stage].sort_values(["class_rank", "p"],
                                                          ascending=[False, True])
        if part.empty:
            fig.update_xaxes(visible=False, row=1, col=col)
            fig.update_yaxes(visible=False, row=1, col=col)
            continue
        for cls, g in part.groupby("pos_class", sort=False):
            fig.add_trace(go.Bar(
                x=g["p"], y=g["token"] + "  ", orientation="h", name=cls,
                legendgroup=cls, showlegend=cls not in shown,
                marker_color=POS_COLORS.get(cls, "#a3a3a3"),
                text=g["pos"].fillna("–"), textposition="outside", cliponaxis=False,
                customdata=g[["pos", "mu", "n"]].to_numpy(dtype=object),
                hovertemplate="<b>%{y}</b> (%{customdata[0]})<br>P = %{x:.4f}<br>"
                              "mean activation %{customdata[1]:.3f}<br>%{customdata[2]} rows"
                              "<extra>" + stage + "</extra>",
            ), row=1, col=col)
            shown.add(cls)
        fig.update_yaxes(categoryorder="array", categoryarray=(part["token"] + "  ").tolist(),
                         row=1, col=col)
        fig.update_xaxes(title="P(token)", row=1, col=col)
    return fig


def pos_distribution(df: pd.DataFrame, *, stages: list[str], neuron: int, height: int = 320
                     ) -> go.Figure:
    """The neuron's POS distribution in each stage (grouped bars, top tags)."""
    if df.empty:
        return message_figure(f"No POS distribution for neuron {neuron} in these stages",
                              height=height)
    tags = df.groupby("pos")["p"].max().sort_values(ascending=False).head(15).index.tolist()
    fig = _fig(height=height, barmode="group")
    for i, stage in enumerate(stages):
        part = df[(df["stage"] == stage) & df["pos"].isin(tags)].set_index("pos").reindex(tags)
        fig.add_trace(go.Bar(x=tags, y=part["p"].fillna(0.0), name=stage,
                             marker_color=STAGE_COLORS[i % len(STAGE_COLORS)],
                             hovertemplate="%{x}: P = %{y:.3f}<extra>" + stage + "</extra>"))
    fig.update_yaxes(title="P(POS)")
    return fig
