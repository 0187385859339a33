"""Dash callbacks: thin wrappers around data queries and pure figure builders."""

from __future__ import annotations

import dash

from txray_dash.data import AnalysisData


def register(app: dash.Dash, data: AnalysisData) -> None:
    """Attach every callback of the dashboard to `app`."""
