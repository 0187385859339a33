"""The hook-based recorder on tiny real torch modules."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from precompute.importer import import_records
from precompute.recording import ActivationRecorder, hook_points, record_stage, write_recording
from precompute.store import AnalysisWriter


class TinyLM(nn.Module):
    def __init__(self, vocab: int = 30, hidden: int = 12, batch_first: bool = True):
        super().__init__()
        self.emb = nn.Embedding(vocab, 6)
        self.rnn = nn.LSTM(6, hidden, batch_first=batch_first)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        e = self.emb(x)
        if not self.rnn.batch_first:
            e = e.transpose(0, 1)
        h, _ = self.rnn(e)
        if not self.rnn.batch_first:
            h = h.transpose(0, 1)
        return torch.sigmoid(self.head(h[:, -1])).squeeze(-1)


def _batches(seed: int = 0, n_batches: int = 4, b: int = 3, t: int = 9, vocab: int = 30):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n_batches):
        x = torch.randint(0, vocab, (b, t), generator=g)
        mask = torch.ones(b, t, dtype=torch.bool)
        mask[0, t - 2:] = False
        out.append({"input_ids": x, "features": x, "mask": mask, "seq_id": torch.arange(b) + b * i,
                    "pos": torch.randint(-1, 4, (b, t), generator=g),
                    "y": torch.randint(0, 2, (b,), generator=g)})
    return out


@pytest.mark.parametrize("batch_first", [True, False])
def test_recorder_matches_direct_call(batch_first):
    torch.manual_seed(0)
    model = TinyLM(batch_first=batch_first)
    x = torch.randint(0, 30, (2, 7))
    with ActivationRecorder(model, "rnn") as rec:
        model(x)
    e = model.emb(x)
    if not batch_first:
        e = e.transpose(0, 1)
    direct, _ = model.rnn(e)
    if not batch_first:
        direct = direct.transpose(0, 1)
    torch.testing.assert_close(rec.activation, direct.detach())
    assert rec.activation.shape == (2, 7, 12)


def test_unknown_layer_lists_hook_points():
    model = TinyLM()
    assert "rnn" in hook_points(model)
    with pytest.raises(KeyError, match="hook points are: emb, rnn, head"):
        ActivationRecorder(model, "lstm")


def test_hook_is_removed_after_use():
    model = TinyLM()
    with ActivationRecorder(model, "rnn"):
        pass
    assert not model.rnn._forward_hooks


def _naive_argmax(model, batches):
    rows = []
    for b in batches:
        with ActivationRecorder(model, "rnn") as rec, torch.no_grad():
            model(b["input_ids"])
        acts = rec.activation
        m = b["mask"]
        rows.append(pd.DataFrame({"token": b["features"][m].numpy(),
                                  "neuron": acts.argmax(-1)[m].numpy(),
                                  "act": acts.max(-1).values[m].numpy()}))
    return pd.concat(rows)


def test_top1_equals_argmax_aggregation():
    torch.manual_seed(1)
    model = TinyLM()
    batches = _batches()
    rec = record_stage(model, batches, layer="rnn", n_features=30, n_pos=4, top_k=1)
    naive = _naive_argmax(model, batches)
    assert rec.n_tokens == len(naive) == 4 * 3 * 9 - 4 * 2
    assert rec.n_silent == int((naive.act <= 0).sum())
    pos_rows = naive[naive.act > 0]
    expected = pos_rows.groupby(["neuron", "token"]).act.agg(["size", "sum"]).reset_index()
    got = (pd.DataFrame({"neuron": rec.aggregates.neuron, "token": rec.aggregates.token_id,
                         "n": rec.aggregates.n, "s": rec.aggregates.sum_act})
           .groupby(["neuron", "token"]).sum().reset_index())
    merged = expected.merge(got, on=["neuron", "token"])
    assert len(merged) == len(expected) == len(got)
    assert (merged["size"] == merged.n).all()
    np.testing.assert_allclose(merged["sum"], merged.s, rtol=1e-6)


def test_top_k_records_k_pairs_per_token():
    torch.manual_seed(2)
    model = TinyLM()
    rec = record_stage(model, _batches(), layer="rnn", n_features=30, top_k=3)
    top1 = record_stage(model, _batches(), layer="rnn", n_features=30, top_k=1)
    assert rec.top_k == 3 and rec.n_tokens == top1.n_tokens
    positive_pairs = 0
    for b in _batches():
        with ActivationRecorder(model, "rnn") as r, torch.no_grad():
            model(b["input_ids"])
        positive_pairs += int((r.activation.topk(3, dim=-1).values[b["mask"]] > 0).sum())
    assert rec.aggregates.n.sum() == positive_pairs > top1.aggregates.n.sum()
    with pytest.raises(ValueError, match="exceeds the layer width"):
        record_stage(model, _batches(), layer="rnn", n_features=30, top_k=13)


def test_task_weighting_uses_probability_of_true_class():
    torch.manual_seed(3)
    model = TinyLM()
    batches = _batches(n_batches=1)
    rec = record_stage(model, batches, layer="rnn", n_features=30,
                       y_hat_fn=lambda out, batch: out)
    with torch.no_grad():
        y_hat = model(batches[0]["input_ids"])
    y = batches[0]["y"]
    w_seq = torch.where(y.bool(), y_hat, 1 - y_hat)
    naive = _naive_argmax(model, batches)
    seq_of_row = batches[0]["seq_id"][:, None].expand(3, 9)[batches[0]["mask"]].numpy()
    w = w_seq.numpy()[seq_of_row]
    expected = float((naive.act.clip(lower=0) * w).sum())
    assert rec.weighted
    assert rec.aggregates.sum_act_weighted.sum() == pytest.approx(expected, rel=1e-6)


def test_parquet_rows_round_trip_through_import(tmp_path):
    torch.manual_seed(4)
    model = TinyLM()
    vocab = [f"w{i}" for i in range(30)]
    pos_vocab = ["NN", "VB", "DT", "JJ"]
    recs = {}
    for stage, seed in [("s1", 0), ("s2", 1)]:
        recs[stage] = record_stage(model, _batches(seed), layer="rnn", n_features=30, n_pos=4,
                                   parquet_path=tmp_path / "rows" / f"{stage}.parquet",
                                   stage=stage, vocab=vocab, pos_vocab=pos_vocab)
    direct = tmp_path / "direct.duckdb"
    with AnalysisWriter(direct) as w:
        for stage, rec in recs.items():
            write_recording(w, stage, rec, vocab=vocab, pos_vocab=pos_vocab, kind="pretrain")
    imported = tmp_path / "imported.duckdb"
    import_records(tmp_path / "rows", imported)
    q = ("SELECT stage_a, stage_b, neuron, feature_kind, hellinger, len_union FROM comparisons "
         "ORDER BY ALL")
    a = duckdb.connect(str(direct), read_only=True).execute(q).fetchall()
    b = duckdb.connect(str(imported), read_only=True).execute(q).fetchall()
    assert len(a) == len(b) > 0
    for ra, rb in zip(a, b):
        assert ra[:4] == rb[:4] and ra[5] == rb[5]
        assert (ra[4] is None and rb[4] is None) or ra[4] == pytest.approx(rb[4])
    ctx = duckdb.connect(str(direct), read_only=True).execute(
        "SELECT count(*), max(rank) FROM contexts").fetchall()[0]
    assert ctx[0] > 0 and ctx[1] <= 9
