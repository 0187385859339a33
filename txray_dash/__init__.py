"""TX-Ray Explorer dashboard (serves an analysis database read-only)."""

from txray_dash.app import create_app

__all__ = ["create_app"]
