"""Shared helpers for precompute tests."""

from __future__ import annotations


import duckdb
import pandas as pd
import pytest

from precompute.importer import import_records


@pytest.fixture
def build_db(tmp_path):
    """Build an analysis DB from a records DataFrame via import-records; return a read-only con."""
    counter = {"i": 0}

    def build(records: pd.DataFrame, **kwargs) -> duckdb.DuckDBPyConnection:
        counter["i"] += 1
        src = tmp_path / f"records{counter['i']}.csv"
        records.to_csv(src, index=False)
        out = tmp_path / f"analysis{counter['i']}.duckdb"
        import_records(src, out, **kwargs)
        return duckdb.connect(str(out), read_only=True)

    return build
