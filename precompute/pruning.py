"""Pruning experiments (DESIGN §2.4, the paper's Table 2).

Pruning unit i of the 1-layer LSTM classifier zeroes column i of ``rnn.weight_hh_l0`` (h_i no
longer feeds the recurrence) and column i of the classifier weight (h_i no longer feeds the
output): every consumer of h_i then sees 0, and the fused ``nn.LSTM`` kernel is kept.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from precompute.models import LSTMClassifier
from precompute.training import ReviewBatches, evaluate_f1


@dataclass(frozen=True)
class PruneSet:
    """A named set of units to prune."""

    name: str
    description: str
    units: np.ndarray


def prune_units(model: LSTMClassifier, units: Sequence[int] | np.ndarray | torch.Tensor) -> LSTMClassifier:
    """A copy of `model` with `units` pruned (their W_hh and classifier columns zeroed)."""
    pruned = copy.deepcopy(model)
    _zero_columns(pruned, torch.as_tensor(np.asarray(units, dtype=np.int64)))
    return pruned


def _zero_columns(model: LSTMClassifier, idx: torch.Tensor) -> None:
    idx = idx.to(model.rnn.weight_hh_l0.device)
    with torch.no_grad():
        model.rnn.weight_hh_l0[:, idx] = 0.0
        model.classifier.weight[:, idx] = 0.0


class Pruner:
    """One working copy of a classifier; `apply(units)` restores the original weights and prunes.

    Avoids copying the whole model per experiment: only two weight matrices are rewritten.
    """

    def __init__(self, model: LSTMClassifier):
        self.model = copy.deepcopy(model).eval()
        self._w_hh = model.rnn.weight_hh_l0.detach().clone()
        self._w_out = model.classifier.weight.detach().clone()

    def apply(self, units: np.ndarray) -> LSTMClassifier:
        with torch.no_grad():
            self.model.rnn.weight_hh_l0.copy_(self._w_hh)
            self.model.classifier.weight.copy_(self._w_out)
        _zero_columns(self.model, torch.as_tensor(np.asarray(units, dtype=np.int64)))
        return self.model


def pruning_sets(mass: np.ndarray, zero_shot_alive: np.ndarray, *, k: int = 20) -> list[PruneSet]:
    """Table 2's sets from the supervised stage's activation mass per neuron.

    A: dead after supervision; B: the `k` least-active alive; C: the `k` most-active alive;
    D: supervision-added (dead in zero-shot, alive after supervision).
    """
    mass = np.asarray(mass, dtype=float)
    alive = mass > 0
    alive_idx = np.flatnonzero(alive)
    by_mass = alive_idx[np.argsort(mass[alive_idx], kind="stable")]
    return [
        PruneSet("A", "dead after supervision", np.flatnonzero(~alive)),
        PruneSet("B", f"{k} least-active alive after supervision", np.sort(by_mass[:k])),
        PruneSet("C", f"{k} most-active alive after supervision", np.sort(by_mass[::-1][:k])),
        PruneSet("D", "supervision-added (dead zero-shot, alive supervised)",
                 np.flatnonzero(alive & ~np.asarray(zero_shot_alive, dtype=bool))),
    ]


def _rel(f1: float, base: float) -> float:
    return 100.0 * (f1 - base) / base if base else float("nan")


def run_pruning(
    model: LSTMClassifier,
    sets: Sequence[PruneSet],
    *,
    mass: np.ndarray,
    eval_sets: Mapping[str, ReviewBatches],
    seeds: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """Relative F1 change (%) on ``eval_sets['train']`` and ``['test']`` for every set and its
    random control (same size, drawn uniformly from all units; mean and std over `seeds` draws,
    seeded by (seed, set index, draw)).

    Returns rows in the layout of the ``pruning`` table.
    """
    n_units = model.rnn.hidden_size
    total_mass = float(np.sum(mass))
    pruner = Pruner(model)
    base = {s: evaluate_f1(model, b, device=device) for s, b in eval_sets.items()}
    jobs = sum(1 + seeds for ps in sets if len(ps.units))
    bar = tqdm(total=jobs, desc="pruning", unit="model", leave=False)

    def f1_without(units: np.ndarray) -> dict[str, float]:
        pruned = pruner.apply(units)
        out = {s: evaluate_f1(pruned, b, device=device) for s, b in eval_sets.items()}
        bar.update(1)
        return out

    rows = []
    for i, ps in enumerate(sets):
        n = len(ps.units)
        f1 = f1_without(ps.units) if n else dict(base)
        row = {
            "experiment": ps.name, "description": ps.description,
            "neurons": [int(u) for u in ps.units], "n": n,
            "am_share": float(np.sum(mass[ps.units])) / total_mass if total_mass else None,
            "f1_train": f1["train"], "f1_test": f1["test"],
            "base_f1_train": base["train"], "base_f1_test": base["test"],
            "rel_change_train": _rel(f1["train"], base["train"]),
            "rel_change_test": _rel(f1["test"], base["test"]),
            "random_rel_train_mean": None, "random_rel_train_std": None,
            "random_rel_test_mean": None, "random_rel_test_std": None,
            "random_seeds": 0,
        }
        if n:
            rel = {"train": [], "test": []}
            for s in range(seeds):
                rng = np.random.default_rng([seed, i, s])
                units = np.sort(rng.choice(n_units, n, replace=False))
                f = f1_without(units)
                for split in rel:
                    rel[split].append(_rel(f[split], base[split]))
            for split, vals in rel.items():
                row[f"random_rel_{split}_mean"] = float(np.mean(vals))
                row[f"random_rel_{split}_std"] = float(np.std(vals, ddof=1)) if seeds > 1 else 0.0
            row["random_seeds"] = seeds
        rows.append(row)
    bar.close()
    return pd.DataFrame(rows)
