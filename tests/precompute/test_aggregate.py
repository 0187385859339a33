"""Streaming aggregation and top-context tracking against pandas/naive references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from precompute.aggregate import StreamingAggregator, TopContexts


def _chunks(df: pd.DataFrame, k: int):
    bounds = np.linspace(0, len(df), k + 1).astype(int)
    return [df.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _random_rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "neuron": rng.integers(0, 40, n),
        "token": rng.zipf(1.4, n) % 500,
        "pos": rng.integers(-1, 5, n),
        "act": rng.normal(0.2, 0.6, n),
        "w": rng.uniform(0, 1, n),
    })


@pytest.mark.parametrize("buffer_rows", [50, 10_000_000])
def test_streaming_equals_groupby(buffer_rows):
    df = _random_rows(20_000)
    agg = StreamingAggregator(n_neurons=40, n_tokens=500, n_pos=5, weighted=True,
                              buffer_rows=buffer_rows)
    for chunk in _chunks(df, 17):
        agg.update(torch.tensor(chunk.neuron.values), torch.tensor(chunk.token.values),
                   torch.tensor(chunk.act.values), pos=torch.tensor(chunk.pos.values),
                   weight=torch.tensor(chunk.w.values))
    res = agg.result()
    pos_df = df[df.act > 0].assign(wa=lambda d: d.act * d.w)
    expected = pos_df.groupby(["neuron", "token", "pos"]).agg(
        n=("act", "size"), s=("act", "sum"), sw=("wa", "sum")).reset_index()
    got = pd.DataFrame({"neuron": res.neuron, "token": res.token_id, "pos": res.pos_id,
                        "n": res.n, "s": res.sum_act, "sw": res.sum_act_weighted})
    merged = expected.merge(got, on=["neuron", "token", "pos"], how="outer", indicator=True)
    assert (merged._merge == "both").all()
    assert (merged.n_x == merged.n_y).all()
    np.testing.assert_allclose(merged.s_x, merged.s_y)
    np.testing.assert_allclose(merged.sw_x, merged.sw_y)
    assert agg.n_rows == len(df) and agg.n_silent == int((df.act <= 0).sum())


def test_memory_bounded_by_distinct_keys():
    agg = StreamingAggregator(n_neurons=4, n_tokens=3, buffer_rows=100)
    for _ in range(200):
        agg.update(torch.randint(0, 4, (500,)), torch.randint(0, 3, (500,)), torch.rand(500) + 0.1)
        assert sum(p[0].size for p in agg._parts) <= 100 + 12
    assert agg.result().n.sum() == 200 * 500


def test_out_of_range_neuron_is_rejected():
    agg = StreamingAggregator(n_neurons=3, n_tokens=10)
    with pytest.raises(ValueError, match="neuron id out of range"):
        agg.update(torch.tensor([3]), torch.tensor([0]), torch.tensor([1.0]))


def test_top_contexts_match_naive_sort():
    rng = np.random.default_rng(3)
    n = 5000
    df = pd.DataFrame({"neuron": rng.integers(0, 30, n), "act": rng.normal(0, 1, n),
                       "seq": rng.integers(0, 100, n), "pos": rng.integers(0, 50, n),
                       "tok": rng.integers(0, 200, n)})
    top = TopContexts(per_neuron=4)
    for chunk in _chunks(df, 9):
        top.update(*(torch.tensor(chunk[c].values) for c in ["neuron", "act", "seq", "pos", "tok"]))
    got = pd.DataFrame(top.result())
    expected = (df[df.act > 0].sort_values("act", ascending=False).groupby("neuron").head(4)
                .sort_values(["neuron", "act"], ascending=[True, False]))
    np.testing.assert_array_equal(got.neuron.values, expected.neuron.values)
    np.testing.assert_allclose(got.act.values, expected.act.values)
    assert (got.groupby("neuron")["rank"].apply(list).apply(lambda r: r == list(range(len(r))))).all()
