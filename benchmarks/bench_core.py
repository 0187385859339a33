"""Benchmark: aggregation + all-neuron Hellinger vs. a naive per-neuron pandas loop.

Workload (issue #2): 400k token rows per stage, 1500 neurons, Zipfian token types (~30k), two
stages. "Ours" = StreamingAggregator + the vectorised measures of precompute.measures (numpy); the
complete write of the DuckDB analysis file is timed as well and printed separately.
"Baseline" = the style of the authors' public code: filter the rows of each neuron, then of each
token, average, normalise, and compare neuron by neuron in Python. Both are timed in this run;
the script prints the speed-up ratio.

    python -m benchmarks.bench_core [--rows 400000] [--neurons 1500] [--baseline-neurons N]

With --baseline-neurons N the baseline runs on the first N neurons and its time is scaled to all
neurons (stated in the output).
"""

from __future__ import annotations

import argparse
import time

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from precompute.aggregate import StreamingAggregator
from precompute.measures import compare, distribution, hellinger_dicts
from precompute.store import AnalysisWriter


def make_stage(rng: np.random.Generator, *, rows: int, neurons: int, types: int,
               shift: float) -> pd.DataFrame:
    """Zipfian tokens; neurons fire with a skewed frequency; activations in (-0.2, 1)."""
    tokens = (rng.zipf(1.15, rows * 2) - 1)
    tokens = tokens[tokens < types][:rows]
    neuron_pop = rng.permutation(neurons)
    neuron = neuron_pop[np.minimum(rng.geometric(3.0 / neurons, rows) - 1, neurons - 1)]
    neuron = np.where(rng.random(rows) < shift, rng.integers(0, neurons, rows), neuron)
    act = rng.beta(2, 3, rows) * 1.2 - 0.2
    return pd.DataFrame({"neuron": neuron.astype(np.int64), "token": tokens.astype(np.int64),
                         "act": act})


def ours(stages: dict[str, pd.DataFrame], *, neurons: int, types: int) -> np.ndarray:
    """Streaming aggregation + distributions + all-neuron Hellinger (A vs B); returns H."""
    dists = []
    for df in stages.values():
        agg = StreamingAggregator(n_neurons=neurons, n_tokens=types)
        for start in range(0, len(df), 65536):
            part = df.iloc[start:start + 65536]
            agg.update(part.neuron.values, part.token.values, part.act.values)
        r = agg.result()
        dists.append(distribution(r.neuron, r.token_id, r.n, r.sum_act,
                                  n_neurons=neurons, n_features=types))
    return compare(dists[0], dists[1]).hellinger


def ours_to_duckdb(stages: dict[str, pd.DataFrame], *, neurons: int, types: int, path: Path) -> None:
    """The same, plus decoding token strings and writing the complete analysis database."""
    vocab = [f"w{i}" for i in range(types)]
    with AnalysisWriter(path, force=True) as w:
        for name, df in stages.items():
            agg = StreamingAggregator(n_neurons=neurons, n_tokens=types)
            agg.update(df.neuron.values, df.token.values, df.act.values)
            w.add_stage(name, kind="imported", n_neurons=neurons, n_tokens=len(df),
                        n_silent=agg.n_silent, feature_stats=agg.result().to_arrow(vocab, None))


def baseline(stages: dict[str, pd.DataFrame], neuron_ids) -> dict[int, float | None]:
    """Authors'-code style: per neuron, per token filtering in pandas, then per-neuron H."""
    dists = {}
    for name, df in stages.items():
        df = df[df.act > 0]
        per = {}
        for n in neuron_ids:
            rows = df[df.neuron == n]
            mu = {}
            for tok in rows.token.unique():
                mu[f"w{tok}"] = rows[rows.token == tok].act.mean()
            total = sum(mu.values())
            per[n] = {k: v / total for k, v in mu.items()} if total else {}
        dists[name] = per
    a, b = list(dists)
    return {n: hellinger_dicts(dists[a][n], dists[b][n]) for n in neuron_ids}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--neurons", type=int, default=1500)
    ap.add_argument("--types", type=int, default=30_000)
    ap.add_argument("--baseline-neurons", type=int, default=None,
                    help="time the baseline on this many neurons and scale (default: all)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    stages = {s: make_stage(rng, rows=args.rows, neurons=args.neurons, types=args.types, shift=sh)
              for s, sh in [("A", 0.0), ("B", 0.3)]}
    n_types = len(np.unique(np.concatenate([d.token.values for d in stages.values()])))
    print(f"workload: 2 stages x {args.rows:,} rows, {args.neurons} neurons, "
          f"{n_types:,} distinct token types")

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        h = ours(stages, neurons=args.neurons, types=args.types)
        times.append(time.perf_counter() - t0)
    t_ours = min(times)
    print(f"ours     (aggregation + distributions + Hellinger, all {args.neurons} neurons): "
          f"best of {args.repeats} = {t_ours:.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ours_to_duckdb(stages, neurons=args.neurons, types=args.types, path=Path(tmp) / "b.duckdb")
        t_db = time.perf_counter() - t0
    print(f"ours + writing the complete DuckDB analysis file: {t_db:.3f} s")

    k = args.baseline_neurons or args.neurons
    ids = list(range(min(k, args.neurons)))
    t0 = time.perf_counter()
    ref = baseline(stages, ids)
    t_base = (time.perf_counter() - t0) * args.neurons / len(ids)
    scaled = "" if len(ids) == args.neurons else f" (measured on {len(ids)} neurons, scaled)"
    print(f"baseline (per-neuron pandas loop, authors' style): {t_base:.1f} s{scaled}")

    got = {n: None if np.isnan(h[n]) else float(h[n]) for n in ids}
    diffs = [abs(got[n] - h) for n, h in ref.items() if h is not None and got[n] is not None]
    nulls_agree = all((got[n] is None) == (h is None) for n, h in ref.items())
    print(f"agreement: max |H_ours - H_baseline| = {max(diffs):.2e} over {len(diffs)} neurons; "
          f"NULLs agree: {nulls_agree}")
    print(f"speed-up: {t_base / t_ours:.0f}x  (target >= 500x, ours target < 1 s); "
          f"including the DuckDB write: {t_base / t_db:.0f}x")


if __name__ == "__main__":
    main()
