"""Page layout: header with database info, control bar, overview, model-level tabs, detail."""

from __future__ import annotations

from dash import dcc, html

from txray_dash.data import AnalysisData, DatabaseError, DbInfo, check_database


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
    preset = config.get("preset") if config else None
    bits = [f"{len(info.stages)} stages", f"created {meta.get('created_at', '?')}",
            f"precompute {meta.get('tool_version', '?')}", f"schema v{info.schema_version}"]
    if preset:
        bits.insert(0, f"preset {preset}")
    return html.Header(className="header", children=[
        html.H1("TX-Ray Explorer"),
        html.Div(className="db-info", children=[
            html.Span(info.path.rsplit("/", 1)[-1], className="db-name", title=info.path),
            html.Span(" · ".join(bits), className="db-meta"),
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
        header(info),
    ])
