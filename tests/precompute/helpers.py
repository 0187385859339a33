"""Helpers shared by precompute tests."""

from __future__ import annotations

import pandas as pd


def records_from(dists: dict[str, dict[int, list[tuple[str, float]]]]) -> pd.DataFrame:
    """{stage: {neuron: [(token, activation), ...]}} -> a records DataFrame."""
    rows = [
        {"stage": s, "neuron": n, "token": t, "activation": a}
        for s, neurons in dists.items() for n, pairs in neurons.items() for t, a in pairs
    ]
    return pd.DataFrame(rows, columns=["stage", "token", "neuron", "activation"])


def hellinger_of(con, a: str, b: str, neuron: int, *, kind: str = "token",
                 variant: str = "paper") -> float | None:
    rows = con.execute(
        "SELECT hellinger FROM comparisons WHERE stage_a = ? AND stage_b = ? AND neuron = ? "
        "AND feature_kind = ? AND variant = ?", [a, b, neuron, kind, variant]).fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


