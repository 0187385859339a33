"""Page layout: header with database info, control bar, overview, detail, model-level tabs."""

from __future__ import annotations

from dash import dcc, html

from txray_dash.data import AnalysisData, DatabaseError, DbInfo, check_database

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["autoScale2d", "toggleSpikelines"]}
X_OPTIONS = [{"label": "union", "value": "union"}, {"label": "length A", "value": "len_a"},
             {"label": "length B", "value": "len_b"}]


def error_page(message: str) -> html.Div:
    """A full page that explains why nothing can be shown and how to fix it."""
    return html.Div(className="page", children=[
        html.Header(className="header", children=[html.H1("TX-Ray Explorer")]),
        html.Div(className="error-page", id="error-page", children=[
            html.H2("The analysis database cannot be shown"),
            html.P(message),
        ]),
    ])


def header(info: DbInfo) -> html.Header:
    meta = info.meta
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    bits = [f"{len(info.stages)} stages", f"{int(info.stages['n_neurons'].max()):,} neurons",
            f"created {meta.get('created_at', '?')}", f"precompute {meta.get('tool_version', '?')}",
            f"schema v{info.schema_version}"]
    preset = meta.get("preset") or config.get("preset")
    if preset:
        bits.insert(0, f"preset {preset}")
    if meta.get("device"):
        bits.insert(1 if preset else 0, f"recorded on {meta['device']}")
    return html.Header(className="header", children=[
        html.Div(className="brand", children=[
            html.H1("TX-Ray Explorer"),
            html.Span("neuron knowledge across training stages", className="tagline"),
        ]),
        html.Div(className="db-info", children=[
            html.Span(info.path.rsplit("/", 1)[-1], className="db-name", title=info.path),
            html.Span(" · ".join(bits), className="db-meta"),
        ]),
    ])


def _field(label: str, control, *, hidden: bool = False) -> html.Div:
    return html.Div(className="field", style={"display": "none"} if hidden else None,
                    children=[html.Label(label), control])


def control_bar(info: DbInfo) -> html.Div:
    stage_options = [{"label": f"{s} ({k})", "value": s}
                     for s, k in zip(info.stages["stage"], info.stages["kind"])]
    return html.Div(className="controls", children=[
        _field("Stage A", dcc.Dropdown(id="stage-a", options=stage_options, clearable=False,
                                       className="stage-dd")),
        html.Button("⇄", id="swap", className="icon-btn", title="swap stages A and B"),
        _field("Stage B", dcc.Dropdown(id="stage-b", options=stage_options, clearable=False,
                                       className="stage-dd")),
        _field("Features", dcc.RadioItems(id="kind", inline=True, options=[
            {"label": "token", "value": "token"}, {"label": "POS", "value": "pos"}])),
        _field("x axis", dcc.RadioItems(id="x-measure", inline=True, options=X_OPTIONS)),
        _field("Distance", dcc.RadioItems(id="variant", inline=True, options=[
            {"label": v, "value": v} for v in info.variants]), hidden=len(info.variants) < 2),
        html.Div(className="field search", children=[
            html.Label("Neuron"),
            html.Div(className="inline", children=[
                dcc.Input(id="neuron-input", type="number", min=0, placeholder="id",
                          debounce=True, className="num-input"),
                html.Button("Go", id="neuron-go", className="btn"),
            ]),
        ]),
        html.Div(className="field search", children=[
            html.Label("Token search"),
            html.Div(className="inline", children=[
                dcc.Input(id="token-input", type="text", placeholder="e.g. the",
                          debounce=True, className="text-input"),
                html.Button("Find", id="token-go", className="btn"),
            ]),
        ]),
    ])


def overview_section() -> html.Section:
    return html.Section(className="overview", children=[
        html.Div(className="panel scatter-panel", children=[
            html.Div(className="panel-head", children=[
                html.H3("Hellinger distance vs. length", id="overview-title"),
                html.Button("Download CSV", id="download-overview", className="btn ghost",
                            title="rows of the current pair (the lasso/box selection if any)"),
            ]),
            dcc.Loading(dcc.Graph(id="overview-graph", config=GRAPH_CONFIG,
                                  style={"height": "460px"}), type="dot", delay_show=300),
            html.Div("Click a point to inspect the neuron; lasso to select rows for the CSV.",
                     className="hint"),
        ]),
        html.Div(className="panel side-panel", children=[
            html.Div(id="summary", className="card-grid"),
            html.Div(className="lists", children=[
                html.Div([html.H4("Head 10 (largest H)"), html.Div(id="head-list")]),
                html.Div([html.H4("Tail 10 (smallest H)"), html.Div(id="tail-list")]),
            ]),
        ]),
    ])


def detail_section() -> html.Section:
    return html.Section(className="panel detail-panel", children=[
        html.Div(className="panel-head", children=[
            html.H3("Neuron detail", id="detail-title"),
            html.Button("Download CSV", id="download-detail", className="btn ghost",
                        title="the neuron's token distributions in both stages"),
        ]),
        dcc.Loading(html.Div(id="detail", children=html.Div(
            "Click a point in the scatter, a list entry or search a neuron to see its "
            "token and POS distributions.", className="muted")), type="dot", delay_show=300),
    ])


def model_tabs(info: DbInfo) -> html.Section:
    stages = info.stage_names
    return html.Section(className="panel model-panel", children=[
        html.H3("Model-level views"),
        dcc.Tabs(id="model-tabs", value="slope", className="tabs", children=[
            dcc.Tab(label="Length shift", value="slope", children=[
                html.Div(className="tab-controls", children=[
                    html.Label("Ordered stages"),
                    dcc.Dropdown(id="slope-stages", multi=True, value=stages,
                                 options=[{"label": s, "value": s} for s in stages]),
                    dcc.Checklist(id="slope-log", inline=True, value=[],
                                  options=[{"label": " log scale", "value": "log"}]),
                ]),
                dcc.Graph(id="slope-graph", config=GRAPH_CONFIG),
            ]),
            dcc.Tab(label="Activation mass", value="mass", children=[
                html.Div(className="tab-controls", children=[
                    dcc.RadioItems(id="mass-mode", value="raw", inline=True, options=[
                        {"label": "raw", "value": "raw"},
                        {"label": "normalised", "value": "normalised"}]),
                ]),
                dcc.Graph(id="mass-graph", config=GRAPH_CONFIG),
            ]),
            dcc.Tab(label="POS vs activation", value="pos", children=[
                html.Div(className="tab-controls", children=[
                    html.Label("Stages"),
                    dcc.Dropdown(id="pos-stages", multi=True, value=[],
                                 placeholder="stages A and B",
                                 options=[{"label": s, "value": s} for s in stages]),
                ]),
                html.Div("Corpus POS frequency vs. the share of activation mass per tag "
                         "(stages A and B unless chosen above).", className="hint"),
                dcc.Graph(id="pos-graph", config=GRAPH_CONFIG),
            ]),
            dcc.Tab(label="Convergence", value="convergence", children=[
                dcc.Graph(id="convergence-graph", config=GRAPH_CONFIG),
            ]),
            dcc.Tab(label="Supervision-added", value="supervision", children=[
                html.Div(className="tab-controls", children=[
                    dcc.Checklist(id="task-weighted", inline=True, value=[], options=[
                        {"label": " task-weighted (activation × P(true class))",
                         "value": "weighted"}]),
                    html.Button("Download CSV", id="download-supervision", className="btn ghost"),
                ]),
                html.Div(id="supervision-note", className="hint"),
                html.Div(id="supervision-table"),
            ]),
            dcc.Tab(label="Pruning", value="pruning", children=[
                html.Div(className="tab-controls", children=[
                    html.Button("Download CSV", id="download-pruning", className="btn ghost"),
                ]),
                html.Div("Relative F1 change (%) when pruning each neuron set in the fine-tuned "
                         "classifier, with random controls of the same size (mean ± std).",
                         className="hint"),
                html.Div(id="pruning-table"),
            ]),
        ]),
    ])


def serve_layout(data: AnalysisData) -> html.Div:
    """The page for the current state of the database (an error page if it is unusable)."""
    try:
        info = check_database(data.path)
    except DatabaseError as e:
        return error_page(str(e))
    return html.Div(className="page", children=[
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="view"),
        dcc.Download(id="download"),
        header(info),
        control_bar(info),
        html.Div(id="messages", className="messages"),
        overview_section(),
        html.Div(id="search-results", className="search-results"),
        detail_section(),
        model_tabs(info),
        html.Footer("TX-Ray (Rethmeier, Saxena, Augenstein, UAI 2020): neurons as token-activation "
                    "distributions, compared across stages by Hellinger distance and length.",
                    className="footer"),
    ])
