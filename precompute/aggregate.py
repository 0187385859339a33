"""Streaming, vectorised aggregation of recorded (token, pos, neuron, activation) rows.

Memory is bounded by the number of distinct (neuron, token, pos) keys, not by corpus size:
each batch is reduced with `np.unique` + `np.bincount` (several times faster than torch's CPU
sort), partial results are buffered and re-reduced whenever the buffer grows past a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch


@dataclass
class Aggregates:
    """Reduced aggregates: one entry per distinct (neuron, token_id, pos_id)."""

    neuron: np.ndarray
    token_id: np.ndarray
    pos_id: np.ndarray
    n: np.ndarray
    sum_act: np.ndarray
    sum_act_weighted: np.ndarray | None

    def to_arrow(self, vocab: list[str], pos_vocab: list[str] | None) -> pa.Table:
        """Decode ids into strings (pos_id -1 or no pos vocabulary -> null pos)."""
        tokens = pa.array(vocab, type=pa.string()).take(pa.array(self.token_id))
        pos = decode_pos(self.pos_id, pos_vocab)
        weighted = (
            pa.nulls(len(self.n), type=pa.float64())
            if self.sum_act_weighted is None
            else pa.array(self.sum_act_weighted)
        )
        return pa.table({
            "neuron": pa.array(self.neuron.astype(np.int32)),
            "token": tokens,
            "pos": pos,
            "n": pa.array(self.n),
            "sum_act": pa.array(self.sum_act),
            "sum_act_weighted": weighted,
        })


def decode_pos(pos_ids: np.ndarray, pos_vocab: list[str] | None) -> pa.Array:
    """POS ids to strings; -1 (untagged) and a missing vocabulary give nulls."""
    if pos_vocab is None:
        return pa.nulls(len(pos_ids), type=pa.string())
    mask = pos_ids < 0
    return pa.array(pos_vocab, type=pa.string()).take(pa.array(np.where(mask, 0, pos_ids), mask=mask))


class StreamingAggregator:
    """Accumulates count, sum of activation and sum of task-weighted activation per key.

    Keys are packed into one int64: ``(neuron * n_tokens + token) * n_pos + (pos + 1)``
    (pos -1 means "untagged").
    """

    def __init__(self, *, n_neurons: int, n_tokens: int, n_pos: int = 0,
                 weighted: bool = False, buffer_rows: int = 4_000_000):
        self.n_neurons = int(n_neurons)
        self.n_tokens = int(n_tokens)
        self.n_pos_slots = int(n_pos) + 1
        if self.n_neurons * self.n_tokens * self.n_pos_slots >= 2**62:
            raise ValueError("key space too large for int64 packing")
        self.weighted = weighted
        self.buffer_rows = buffer_rows
        self._parts: list[tuple[torch.Tensor, ...]] = []
        self._buffered = 0
        self.n_rows = 0
        self.n_silent = 0

    def update(self, neuron: torch.Tensor, token: torch.Tensor, act: torch.Tensor,
               pos: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> None:
        """Add rows (1-D tensors or arrays of equal length); rows with act <= 0 count as silent."""
        neuron, token, act = _np(neuron, np.int64), _np(token, np.int64), _np(act, np.float64)
        pos = np.full_like(token, -1) if pos is None else _np(pos, np.int64)
        self.n_rows += act.size
        keep = act > 0
        self.n_silent += int(act.size - keep.sum())
        if self.weighted:
            if weight is None:
                raise ValueError("a weighted aggregator needs a weight per row")
            weight = _np(weight, np.float64)[keep]
        neuron, token, pos, act = neuron[keep], token[keep], pos[keep], act[keep]
        if neuron.size and (neuron.min() < 0 or neuron.max() >= self.n_neurons):
            raise ValueError(f"neuron id out of range [0, {self.n_neurons})")
        key = (neuron * self.n_tokens + token) * self.n_pos_slots + (pos + 1)
        wact = act * weight if self.weighted else None
        self._parts.append(self._reduce(key, np.ones_like(key), act, wact))
        self._buffered += self._parts[-1][0].size
        if self._buffered > self.buffer_rows:
            self._compact()

    @staticmethod
    def _reduce(key, n, s, sw):
        uniq, inv = np.unique(key, return_inverse=True)
        m = uniq.size
        n_out = np.bincount(inv, weights=n, minlength=m).astype(np.int64)
        s_out = np.bincount(inv, weights=s, minlength=m)
        sw_out = None if sw is None else np.bincount(inv, weights=sw, minlength=m)
        return uniq, n_out, s_out, sw_out

    def _compact(self) -> None:
        if len(self._parts) <= 1:
            return
        keys = np.concatenate([p[0] for p in self._parts])
        n = np.concatenate([p[1] for p in self._parts])
        s = np.concatenate([p[2] for p in self._parts])
        sw = np.concatenate([p[3] for p in self._parts]) if self.weighted else None
        self._parts = [self._reduce(keys, n, s, sw)]
        self._buffered = self._parts[0][0].size

    def result(self) -> Aggregates:
        """The reduced aggregates, sorted by key (neuron, then token, then pos)."""
        self._compact()
        if not self._parts:
            empty_i = np.zeros(0, dtype=np.int64)
            return Aggregates(empty_i, empty_i, empty_i, empty_i, np.zeros(0),
                              np.zeros(0) if self.weighted else None)
        key, n, s, sw = self._parts[0]
        pos = key % self.n_pos_slots - 1
        rest = key // self.n_pos_slots
        return Aggregates(neuron=rest // self.n_tokens, token_id=rest % self.n_tokens,
                          pos_id=pos, n=n, sum_act=s, sum_act_weighted=sw)


def _np(x, dtype) -> np.ndarray:
    """A flat numpy array from a tensor (any device) or array-like."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x).reshape(-1).astype(dtype, copy=False)


class TopContexts:
    """Keeps, per neuron, the `per_neuron` highest-activating (seq_id, position, token, act) rows."""

    def __init__(self, per_neuron: int = 10):
        self.per_neuron = int(per_neuron)
        self._cols: dict[str, torch.Tensor] | None = None

    def update(self, neuron, act, seq_id, position, token) -> None:
        """Merge a batch of candidate rows (1-D tensors/arrays of equal length; act > 0 kept)."""
        if self.per_neuron <= 0:
            return
        batch = {"neuron": _np(neuron, np.int64), "act": _np(act, np.float64),
                 "seq_id": _np(seq_id, np.int64), "position": _np(position, np.int64),
                 "token": _np(token, np.int64)}
        keep = batch["act"] > 0
        batch = {k: v[keep] for k, v in batch.items()}
        if self._cols is not None:
            batch = {k: np.concatenate([self._cols[k], v]) for k, v in batch.items()}
        order = np.lexsort((-batch["act"], batch["neuron"]))
        batch = {k: v[order] for k, v in batch.items()}
        rank = _rank_within_groups(batch["neuron"])
        keep = rank < self.per_neuron
        self._cols = {k: v[keep] for k, v in batch.items()}
        self._cols["rank"] = rank[keep]

    def result(self) -> dict[str, np.ndarray]:
        """Columns neuron, rank, seq_id, position, token (id), act; sorted by neuron, rank."""
        if self._cols is None:
            z = np.zeros(0, dtype=np.int64)
            return {"neuron": z, "rank": z, "seq_id": z, "position": z, "token": z,
                    "act": np.zeros(0)}
        return dict(self._cols)


def _rank_within_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its run of equal values (input sorted by group)."""
    n = sorted_groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n)
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_groups[1:] != sorted_groups[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))
