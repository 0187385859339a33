"""Dash callbacks: thin wrappers around data queries, pure transforms and figure builders.

Each callback body is a module-level function taking the `AnalysisData` first, so tests call
them directly; `register()` binds them to component ids.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import dash
import duckdb
import pandas as pd
from dash import ALL, Input, Output, State, dcc, html

from txray_dash import components as C
from txray_dash import derive, figures
from txray_dash.data import AnalysisData, DatabaseError
from txray_dash.state import View, parse_search, validate

ROUTER_TRIGGERS = {"stage-a", "stage-b", "kind", "x-measure", "variant", "swap"}


def message_box(messages: list[str], *, tone: str = "warn") -> list[html.Div]:
    return [html.Div(m, className=f"alert {tone}") for m in messages]


def _clicked_neuron(click: dict | None) -> int | None:
    try:
        return int(click["points"][0]["customdata"][0])
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def route(data: AnalysisData, *, trigger: Any, search: str | None, controls: dict[str, Any],
          current: dict | None, click: dict | None = None, neuron_input: Any = None,
          link_neuron: int | None = None) -> tuple[str, View | None, list[str]]:
    """Decide the view from what changed: the URL (page load, back/forward, shared link) or a
    control / click. Returns the canonical query string, the view and messages."""
    try:
        info = data.info()
    except DatabaseError as e:
        return search or "", None, [str(e)]
    if trigger in (None, "url") or not current:
        raw: dict[str, Any] = dict(parse_search(search))
    else:
        raw = {**current, **{k: v for k, v in controls.items() if v is not None}}
        if trigger == "swap":
            raw["stage_a"], raw["stage_b"] = current["stage_b"], current["stage_a"]
        elif trigger == "overview-graph":
            raw["neuron"] = _clicked_neuron(click)
        elif trigger in ("neuron-go", "neuron-input"):
            raw["neuron"] = neuron_input
        elif isinstance(trigger, dict) and trigger.get("type") == "neuron-link":
            raw["neuron"] = link_neuron
    view, messages = validate(info, raw)
    return view.to_search(), view, messages


def overview_outputs(data: AnalysisData, view_dict: dict | None) -> tuple:
    """Scatter figure, summary cards, head-10 and tail-10 lists, panel title."""
    if not view_dict:
        fig = figures.message_figure("No analysis to show")
        return fig, [], [], [], "Hellinger distance vs. length"
    view = View.from_dict(view_dict)
    df = data.overview(view.stage_a, view.stage_b, view.kind, view.variant)
    fig = figures.hellinger_scatter(df, x=view.x_column, stage_a=view.stage_a,
                                    stage_b=view.stage_b, selected=view.neuron)
    head, tail = derive.head_tail(df)
    cards = C.summary_cards(derive.summary(df), stage_a=view.stage_a, stage_b=view.stage_b)
    label = lambda r: r["top_b"] or r["top_a"]  # noqa: E731
    title = f"Hellinger distance vs. length · {view.stage_a} → {view.stage_b} · {view.kind}"
    return (fig, cards, C.neuron_list(head, list_id="head", label=label),
            C.neuron_list(tail, list_id="tail", label=label), title)


def _numbers_table(nums: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: token numbers plus the POS length."""
    is_tok = (nums["feature_kind"] == "token").to_numpy()
    tok = nums[is_tok]
    pos = nums[~is_tok]
    pos_len = pd.Series(pos["length"].to_numpy(), index=pos["stage"].to_numpy())
    return tok.assign(pos_length=pos_len.reindex(tok["stage"].to_numpy()).to_numpy())


def detail_outputs(data: AnalysisData, view_dict: dict | None) -> tuple[Any, str]:
    """The detail panel of the selected neuron (bars, POS, contexts, numbers) and its title."""
    if not view_dict or view_dict.get("neuron") is None:
        return (html.Div("Click a point in the scatter, a list entry or search a neuron to see "
                         "its token and POS distributions.", className="muted"),
                "Neuron detail")
    view = View.from_dict(view_dict)
    n = int(view.neuron)
    stages = [view.stage_a] if view.stage_a == view.stage_b else [view.stage_a, view.stage_b]
    key = tuple(stages)
    # Independent queries: DuckDB releases the GIL, so they overlap.
    with ThreadPoolExecutor(max_workers=5) as pool:
        jobs = [pool.submit(data.token_bars, n, key), pool.submit(data.pos_distribution, n, key),
                pool.submit(data.contexts, n, key), pool.submit(data.neuron_numbers, n),
                pool.submit(data.neuron_comparisons, n, view.kind, view.variant)]
        bars, pos, ctx, nums, comps = (j.result() for j in jobs)
    nums = _numbers_table(nums)
    comps = comps.assign(pair=comps["stage_a"] + " → " + comps["stage_b"])
    pct = lambda v: f"{100 * v:.3g} %" if v is not None and v == v else "–"  # noqa: E731
    children = [
        html.Div(className="detail-grid", children=[
            html.Div(className="detail-main", children=[
                html.H4("Top tokens by P, grouped by POS class"),
                C.color_legend({k: v for k, v in figures.POS_COLORS.items()
                                if k != "untagged"}),
                dcc.Graph(id="token-bars", config={"displaylogo": False},
                          figure=figures.token_bars(bars, stages=stages, neuron=n)),
                html.H4("POS distribution"),
                dcc.Graph(id="pos-bars", config={"displaylogo": False},
                          figure=figures.pos_distribution(pos, stages=stages, neuron=n)),
            ]),
            html.Div(className="detail-side", children=[
                html.H4("Numbers per stage"),
                C.table(nums, [("stage", "stage", str), ("alive", "alive",
                                                          lambda v: "yes" if v else "dead"),
                               ("length", "length", None), ("pos_length", "POS length", None),
                               ("mass", "mass", lambda v: C.fmt_num(v, 1)),
                               ("mass_share", "% of stage mass", pct)], table_id="detail-numbers"),
                html.H4(f"Hellinger per pair ({view.kind}, {view.variant})"),
                C.table(comps, [("pair", "pair", str), ("hellinger", "H", None),
                                ("len_a", "len A", None), ("len_b", "len B", None),
                                ("shift", "shift", str)]),
            ]),
        ]),
        html.H4("Top activating contexts"),
        C.context_snippets(ctx),
    ]
    return children, f"Neuron {n} · {' vs '.join(stages)}"


def search_outputs(data: AnalysisData, view_dict: dict | None, token: str | None) -> list:
    """Neurons whose distribution contains `token` in stages A and B, ranked by P(token)."""
    if not token or not view_dict:
        return []
    view = View.from_dict(view_dict)
    token = token.strip()
    blocks = []
    for stage in dict.fromkeys((view.stage_a, view.stage_b)):
        hits = data.neurons_with_token(stage, view.kind, token)
        body = (C.neuron_list(hits, list_id=f"search-{stage}", value="p",
                              label=lambda r: f"{r['feature']} · mean act {r['mu']:.2f} · "
                                              f"{r['n']} rows")
                if not hits.empty else html.Div(f"No neuron of {stage} has {token!r}.",
                                                className="muted"))
        blocks.append(html.Div([html.H4(f"{stage}: neurons with {token!r} ({len(hits)})"), body]))
    return [html.Div(className="panel search-panel", children=blocks)]


def slope_figure(data: AnalysisData, view_dict: dict | None, stages: list[str] | None,
                 log_y: bool = False):
    if not view_dict or not stages or len(stages) < 2:
        return figures.message_figure("Choose at least two stages, in order")
    view = View.from_dict(view_dict)
    long = data.lengths_across(tuple(stages), view.kind)
    return figures.length_slope(derive.length_paths(long, stages=list(stages)),
                                stages=list(stages), log_y=log_y)


def mass_figure(data: AnalysisData, view_dict: dict | None, mode: str | None):
    if not view_dict:
        return figures.message_figure("No analysis to show")
    view = View.from_dict(view_dict)
    info = data.info()
    normalised = mode == "normalised"
    df = derive.sorted_masses(data.masses(view.kind), normalised=normalised)
    return figures.mass_curves(df, normalised=normalised, stage_order=info.stage_names)


def pos_figure(data: AnalysisData, view_dict: dict | None, chosen: list[str] | None = None):
    """Corpus POS frequency vs activation share for the chosen stages (default: A and B)."""
    if not view_dict:
        return figures.message_figure("No analysis to show")
    view = View.from_dict(view_dict)
    info = data.info()
    corpus_of = dict(zip(info.stages["stage"], info.stages["corpus"]))
    stages = [s for s in chosen or [] if s in corpus_of] or list(
        dict.fromkeys((view.stage_a, view.stage_b)))
    df = derive.pos_comparison(data.corpus_pos(), data.pos_share(), stages=stages,
                               corpus_of=corpus_of)
    return figures.pos_share_bars(df)


def convergence_figure(data: AnalysisData, view_dict: dict | None):
    if not view_dict:
        return figures.message_figure("No analysis to show")
    view = View.from_dict(view_dict)
    info = data.info()
    cons = derive.consecutive_epochs(info.stages, data.convergence(view.kind, view.variant))
    return figures.convergence(cons, data.training_log())


def supervision_stages(data: AnalysisData) -> tuple[str, str] | None:
    """The (zero-shot, supervised) stages to compare, preferring ones on the same corpus."""
    st = data.info().stages
    zero = st[st["kind"] == "zero_shot"]
    sup = st[st["kind"] == "supervised"]
    if zero.empty or sup.empty:
        return None
    same = zero.merge(sup, on="corpus", suffixes=("_z", "_s"))
    if not same.empty:
        return str(same["stage_z"].iloc[0]), str(same["stage_s"].iloc[0])
    return str(zero["stage"].iloc[0]), str(sup["stage"].iloc[0])


def supervision_frame(data: AnalysisData, weighted: bool) -> tuple[pd.DataFrame, str]:
    pair = supervision_stages(data)
    if pair is None:
        return pd.DataFrame(), "This database has no zero-shot and supervised stage pair."
    z, s = pair
    df = data.supervision_added(z, s, weighted=weighted)
    kind = "task-weighted activation sum" if weighted else "activation sum"
    return df, (f"{len(df)} neurons dead in {z} and alive in {s}, ordered by {kind}; features "
                f"ordered by {'task-weighted ' if weighted else ''}mass. Click a neuron to "
                "inspect it.")


SUPERVISION_ROWS_SHOWN = 200


def supervision_outputs(data: AnalysisData, weighted: bool) -> tuple[str, Any]:
    df, note = supervision_frame(data, weighted)
    if df.empty:
        return note, html.Div()
    if len(df) > SUPERVISION_ROWS_SHOWN:
        note += f" Showing the first {SUPERVISION_ROWS_SHOWN}; the CSV has all {len(df)}."
    link = lambda v: C.neuron_button(int(v), list_id="supervision")  # noqa: E731
    return note, C.table(df.head(SUPERVISION_ROWS_SHOWN),
                         [("neuron", "neuron", link),
                          ("activation_sum", "activation sum", lambda v: C.fmt_num(v, 2)),
                          ("length", "length", None),
                          ("top_features", "features by mass", str)],
                         table_id="supervision-rows")


PRUNING_COLUMNS: list[C.Column] = [
    ("experiment", "set", str), ("description", "neurons pruned", str), ("n", "n", None),
    ("am_share", "% AM", lambda v: C.fmt_num(100 * v, 1) if v == v else "–"),
    ("rel_change_train", "ΔF1 train %", C.fmt_pct), ("rel_change_test", "ΔF1 test %", C.fmt_pct),
    ("random_train", "random train %", str), ("random_test", "random test %", str),
]


def pruning_frame(data: AnalysisData) -> pd.DataFrame:
    df = data.pruning()
    if df.empty:
        return df
    pm = lambda m, s: m.map(lambda v: f"{v:+.2f}") + " ± " + s.map(lambda v: f"{v:.2f}")  # noqa: E731
    return df.assign(random_train=pm(df["random_rel_train_mean"], df["random_rel_train_std"]),
                     random_test=pm(df["random_rel_test_mean"], df["random_rel_test_std"]))


def pruning_outputs(data: AnalysisData) -> Any:
    df = pruning_frame(data)
    return C.table(df, PRUNING_COLUMNS, table_id="pruning-rows",
                   empty="No pruning experiments in this database.")


def download_payload(data: AnalysisData, *, trigger: str, view_dict: dict | None,
                     selected: dict | None, weighted: bool) -> dict | None:
    """The CSV for the clicked download button (None when there is nothing to download)."""
    if not view_dict:
        return None
    view = View.from_dict(view_dict)
    if trigger == "download-overview":
        df = data.overview(view.stage_a, view.stage_b, view.kind, view.variant)
        picked = [int(p["customdata"][0]) for p in (selected or {}).get("points", [])
                  if p.get("customdata")]
        df = derive.filter_selection(df, picked)
        name = f"txray_{view.stage_a}_vs_{view.stage_b}_{view.kind}_{view.variant}" + (
            "_selection" if picked else "") + ".csv"
    elif trigger == "download-detail":
        if view.neuron is None:
            return None
        df = data.token_bars(int(view.neuron), (view.stage_a, view.stage_b), 1000)
        name = f"txray_neuron{view.neuron}_{view.stage_a}_{view.stage_b}.csv"
    elif trigger == "download-supervision":
        df, _ = supervision_frame(data, weighted)
        name = "txray_supervision_added" + ("_weighted" if weighted else "") + ".csv"
    elif trigger == "download-pruning":
        df = pruning_frame(data)
        name = "txray_pruning.csv"
    else:
        return None
    return dcc.send_data_frame(df.to_csv, name, index=False)


def guarded(fn: Callable[..., Any], fallback: Callable[[str], Any]) -> Callable[..., Any]:
    """`fn`, but a database failure (file replaced, removed or corrupt while serving) becomes
    `fallback(message)` instead of a server error."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except (DatabaseError, duckdb.Error) as e:
            return fallback(f"The analysis database could not be read: {e}. Check the file and "
                            "reload the page.")

    return wrapper


def _figure_fallback(message: str):
    return figures.message_figure(message)


def _html_fallback(message: str):
    return html.Div(message, className="alert error")


def register(app: dash.Dash, data: AnalysisData) -> None:
    """Attach every callback of the dashboard to `app`."""

    @app.callback(
        Output("url", "search"), Output("stage-a", "value"), Output("stage-b", "value"),
        Output("kind", "value"), Output("x-measure", "value"), Output("variant", "value"),
        Output("view", "data"), Output("messages", "children"),
        Input("url", "search"), Input("stage-a", "value"), Input("stage-b", "value"),
        Input("kind", "value"), Input("x-measure", "value"), Input("variant", "value"),
        Input("swap", "n_clicks"), Input("overview-graph", "clickData"),
        Input({"type": "neuron-link", "list": ALL, "index": ALL}, "n_clicks"),
        Input("neuron-go", "n_clicks"), Input("neuron-input", "value"),
        State("view", "data"),
    )
    def _route(search, stage_a, stage_b, kind, x, variant, _swap, click, _links, _go,
               neuron_input, current):
        trigger = dash.ctx.triggered_id
        link_neuron = None
        if isinstance(trigger, dict):
            if not any(t["value"] for t in dash.ctx.triggered):
                raise dash.exceptions.PreventUpdate
            link_neuron = int(trigger["index"])
        if trigger in ("neuron-go", "neuron-input") and neuron_input is None:
            raise dash.exceptions.PreventUpdate
        controls = {"stage_a": stage_a, "stage_b": stage_b, "kind": kind, "x": x,
                    "variant": variant}
        new_search, view, messages = route(
            data, trigger=trigger, search=search, controls=controls, current=current,
            click=click, neuron_input=neuron_input, link_neuron=link_neuron)
        if view is None:
            return (new_search, dash.no_update, dash.no_update, dash.no_update, dash.no_update,
                    dash.no_update, None, message_box(messages, tone="error"))
        return (new_search, view.stage_a, view.stage_b, view.kind, view.x, view.variant,
                view.to_dict(), message_box(messages))

    app.callback(
        Output("overview-graph", "figure"), Output("summary", "children"),
        Output("head-list", "children"), Output("tail-list", "children"),
        Output("overview-title", "children"),
        Input("view", "data"),
    )(guarded(lambda view: overview_outputs(data, view),
              lambda m: (figures.message_figure(m), [], [], [], "Hellinger distance vs. length")))

    app.callback(Output("detail", "children"), Output("detail-title", "children"),
                 Input("view", "data"))(guarded(lambda view: detail_outputs(data, view),
                                                lambda m: (_html_fallback(m), "Neuron detail")))

    app.callback(Output("search-results", "children"),
                 Input("token-go", "n_clicks"), Input("token-input", "value"),
                 State("view", "data"), prevent_initial_call=True,
                 )(guarded(lambda _n, token, view: search_outputs(data, view, token),
                           _html_fallback))

    app.callback(Output("slope-graph", "figure"), Input("view", "data"),
                 Input("slope-stages", "value"), Input("slope-log", "value"))(
        guarded(lambda v, s, lg: slope_figure(data, v, s, "log" in (lg or [])),
                _figure_fallback))
    app.callback(Output("mass-graph", "figure"), Input("view", "data"),
                 Input("mass-mode", "value"))(
        guarded(lambda v, m: mass_figure(data, v, m), _figure_fallback))
    app.callback(Output("pos-graph", "figure"), Input("view", "data"),
                 Input("pos-stages", "value"))(
        guarded(lambda v, chosen: pos_figure(data, v, chosen), _figure_fallback))
    app.callback(Output("convergence-graph", "figure"), Input("view", "data"))(
        guarded(lambda v: convergence_figure(data, v), _figure_fallback))
    app.callback(Output("supervision-note", "children"), Output("supervision-table", "children"),
                 Input("task-weighted", "value"), Input("view", "data"))(
        guarded(lambda w, _v: supervision_outputs(data, "weighted" in (w or [])),
                lambda m: (m, _html_fallback(m))))
    app.callback(Output("pruning-table", "children"), Input("view", "data"))(
        guarded(lambda _v: pruning_outputs(data), _html_fallback))

    @app.callback(
        Output("download", "data"),
        Input("download-overview", "n_clicks"), Input("download-detail", "n_clicks"),
        Input("download-supervision", "n_clicks"), Input("download-pruning", "n_clicks"),
        State("view", "data"), State("overview-graph", "selectedData"),
        State("task-weighted", "value"), prevent_initial_call=True,
    )
    def _download(_a, _b, _c, _d, view, selected, weighted):
        payload = download_payload(data, trigger=dash.ctx.triggered_id, view_dict=view,
                                   selected=selected, weighted="weighted" in (weighted or []))
        if payload is None:
            raise dash.exceptions.PreventUpdate
        return payload
