"""TX-Ray measures (DESIGN §2.2-2.3), vectorised with numpy over integer feature ids.

* `distribution`: per (neuron, feature) the mean activation mu_f and P_n(f) = mu_f / sum mu
  (mean, *then* normalise), the task-weighted versions, and per neuron the length (features with
  mu_f > 0), activation mass and row count; a neuron of length 0 is dead.
* `compare`: Hellinger distance per neuron between two stages; NaN (stored as NULL) where either
  side is dead. Variant ``paper`` is the paper's definition. Variant ``reference`` reproduces the
  authors' public code: every row is divided by the neuron's total activation before the
  per-feature mean (so P does not sum to 1), and H is divided by the union length.

H is computed through the Bhattacharyya coefficient over the common support,
``H^2 = (sum P + sum Q) / 2 - sum_common sqrt(P Q)``, so only the intersection of the two
supports is materialised (absolute error of H about 1e-8 for near-identical distributions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANTS = ("paper", "reference")


@dataclass
class Distribution:
    """One stage's distributions for one feature kind; rows sorted by (neuron, feature)."""

    n_neurons: int
    neuron: np.ndarray
    feature: np.ndarray
    n: np.ndarray
    mu: np.ndarray
    p: np.ndarray
    mass: np.ndarray
    mu_weighted: np.ndarray | None
    p_weighted: np.ndarray | None
    mass_weighted: np.ndarray | None
    length: np.ndarray
    neuron_mass: np.ndarray
    neuron_mass_weighted: np.ndarray | None
    n_rows: np.ndarray

    @property
    def alive(self) -> np.ndarray:
        return self.length > 0


def _group_sum(key: np.ndarray, *values: np.ndarray | None):
    """Unique keys and the per-key sums of each value array (None passes through)."""
    if key.size and np.all(key[1:] > key[:-1]):
        uniq, inv = key, None
    else:
        uniq, inv = np.unique(key, return_inverse=True)
    sums = []
    for v in values:
        if v is None:
            sums.append(None)
        elif inv is None:
            sums.append(v.astype(np.float64, copy=False))
        else:
            sums.append(np.bincount(inv, weights=v, minlength=uniq.size))
    return uniq, sums


def distribution(neuron: np.ndarray, feature: np.ndarray, n: np.ndarray, sum_act: np.ndarray,
                 sum_act_weighted: np.ndarray | None = None, *, n_neurons: int,
                 n_features: int) -> Distribution:
    """Aggregate (neuron, feature) rows - duplicates allowed - into per-neuron distributions."""
    neuron = np.asarray(neuron, dtype=np.int64)
    feature = np.asarray(feature, dtype=np.int64)
    if neuron.size and (neuron.min() < 0 or neuron.max() >= n_neurons):
        raise ValueError(f"neuron id out of range [0, {n_neurons})")
    key = neuron * n_features + feature
    uniq, (cnt, s, sw) = _group_sum(key, np.asarray(n, dtype=np.float64),
                                    np.asarray(sum_act, dtype=np.float64),
                                    None if sum_act_weighted is None
                                    else np.asarray(sum_act_weighted, dtype=np.float64))
    keep = (s > 0) & (cnt > 0)
    uniq, cnt, s = uniq[keep], cnt[keep], s[keep]
    sw = None if sw is None else sw[keep]
    nrn = uniq // n_features
    mu = s / cnt
    total = np.bincount(nrn, weights=mu, minlength=n_neurons)
    mu_w = p_w = mass_w = None
    if sw is not None:
        mu_w = sw / cnt
        total_w = np.bincount(nrn, weights=mu_w, minlength=n_neurons)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_w = np.where(total_w[nrn] > 0, mu_w / total_w[nrn], np.nan)
        mass_w = np.bincount(nrn, weights=sw, minlength=n_neurons)
    return Distribution(
        n_neurons=n_neurons, neuron=nrn, feature=uniq % n_features, n=cnt.astype(np.int64),
        mu=mu, p=mu / total[nrn], mass=s, mu_weighted=mu_w, p_weighted=p_w,
        mass_weighted=sw, length=np.bincount(nrn, minlength=n_neurons),
        neuron_mass=np.bincount(nrn, weights=s, minlength=n_neurons),
        neuron_mass_weighted=mass_w,
        n_rows=np.bincount(nrn, weights=cnt, minlength=n_neurons).astype(np.int64),
    )


@dataclass
class Comparison:
    """Per-neuron comparison of stage A with stage B (neurons 0..n-1 of the narrower stage)."""

    hellinger: np.ndarray  # NaN where ill-defined (dead in A or in B)
    len_a: np.ndarray
    len_b: np.ndarray
    len_union: np.ndarray


def compare(a: Distribution, b: Distribution, *, variant: str = "paper") -> Comparison:
    """Hellinger distance per neuron between two distributions over the same feature ids."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown distance variant {variant!r}; choose from {VARIANTS}")
    n = min(a.n_neurons, b.n_neurons)
    if a.feature.size and b.feature.size:
        width = int(max(a.feature.max(), b.feature.max())) + 1
    else:
        width = 1
    ka = a.neuron * width + a.feature
    kb = b.neuron * width + b.feature
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    common_neuron = a.neuron[ia]
    keep = common_neuron < n
    common_neuron, ia, ib = common_neuron[keep], ia[keep], ib[keep]
    n_common = np.bincount(common_neuron, minlength=n)
    len_a, len_b = a.length[:n], b.length[:n]
    len_union = len_a + len_b - n_common
    if variant == "paper":
        va, vb = a.p, b.p
    else:
        va, vb = a.mu / a.neuron_mass[a.neuron], b.mu / b.neuron_mass[b.neuron]
    sum_a = np.bincount(a.neuron, weights=va, minlength=a.n_neurons)[:n]
    sum_b = np.bincount(b.neuron, weights=vb, minlength=b.n_neurons)[:n]
    bc = np.bincount(common_neuron, weights=np.sqrt(va[ia] * vb[ib]), minlength=n)
    h = np.sqrt(np.clip((sum_a + sum_b) / 2.0 - bc, 0.0, None))
    if variant == "paper":
        h = np.minimum(h, 1.0)
    else:
        h = h / np.maximum(len_union, 1)
    alive = (len_a > 0) & (len_b > 0)
    return Comparison(hellinger=np.where(alive, h, np.nan), len_a=len_a, len_b=len_b,
                      len_union=len_union)


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance between two aligned probability vectors (zeros allowed)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    return float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2.0))


def hellinger_dicts(p: dict[str, float], q: dict[str, float]) -> float | None:
    """Hellinger distance between two feature->probability maps; None if either is empty."""
    if not p or not q:
        return None
    keys = sorted(set(p) | set(q))
    return hellinger(np.array([p.get(k, 0.0) for k in keys]), np.array([q.get(k, 0.0) for k in keys]))
