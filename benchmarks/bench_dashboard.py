"""Server-side latency of the dashboard's overview and detail callbacks.

Builds synthetic analysis DBs (paper scale: 1500 neurons x 6 stages, 400k tokens per stage;
transformer scale: 40,960 neurons) with `benchmarks/synthetic_db.py`, then times

* the callback functions behind the overview and the detail panel (queries + figure + HTML),
  with the flask-caching cache cleared before every call (real work), and once warm (cached);
  the once-per-process setup (DuckDB connection, each corpus's token sequences loaded for
  context windows, ~0.25 s at paper scale) happens in an untimed warm-up;
* the same callbacks through the Flask test client (`POST /_dash-update-component`, JSON
  serialisation included);
* a naive baseline measured in the same run: load the whole table into pandas and filter.

    python benchmarks/bench_dashboard.py [--out-dir DIR] [--repeats N] [--scales paper transformer]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.synthetic_db import generate  # noqa: E402
from txray_dash import callbacks, create_app  # noqa: E402
from txray_dash.state import View  # noqa: E402

TARGETS_MS = {("paper", "detail"): 100.0, ("paper", "overview"): 300.0,
              ("transformer", "overview"): 1000.0}
OVERVIEW_OUT = [("overview-graph", "figure"), ("summary", "children"), ("head-list", "children"),
                ("tail-list", "children"), ("overview-title", "children")]
DETAIL_OUT = [("detail", "children"), ("detail-title", "children")]


def timed(fn: Callable[[], object], *, before: Callable[[], None], repeats: int,
          cpu: list[float] | None = None) -> np.ndarray:
    """Wall-clock ms per call; process CPU ms (all threads) appended to `cpu` if given."""
    out = []
    for _ in range(repeats):
        before()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000.0)
    return np.array(out)


def post_body(outputs: list[tuple[str, str]], view: dict) -> dict:
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": "view", "property": "data", "value": view}],
            "changedPropIds": ["view.data"], "state": []}


def naive_overview(db: Path, a: str, b: str) -> pd.DataFrame:
    """Baseline: whole tables into pandas, then filter and join in pandas."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        comp = con.sql("SELECT * FROM comparisons").df()
        dist = con.sql("SELECT stage, neuron, feature_kind, feature, p FROM distributions").df()
    finally:
        con.close()
    c = comp[(comp.stage_a == a) & (comp.stage_b == b) & (comp.feature_kind == "token")
             & (comp.variant == "paper")]
    d = dist[(dist.feature_kind == "token") & dist.stage.isin([a, b])]
    top = (d.sort_values("p", ascending=False).groupby(["stage", "neuron"]).head(3)
           .groupby(["stage", "neuron"])["feature"].agg(" · ".join).unstack("stage"))
    return c.merge(top, left_on="neuron", right_index=True, how="left")


def naive_detail(db: Path, neuron: int, a: str, b: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        dist = con.sql("SELECT * FROM distributions").df()
        fs = con.sql("SELECT * FROM feature_stats").df()
    finally:
        con.close()
    d = dist[(dist.neuron == neuron) & dist.stage.isin([a, b])]
    f = fs[(fs.neuron == neuron) & fs.stage.isin([a, b])]
    return d.merge(f, left_on=["stage", "feature"], right_on=["stage", "token"], how="left")


def stats(ms: np.ndarray) -> str:
    return f"p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms"


def bench_scale(scale: str, db: Path, *, repeats: int, rng: np.random.Generator) -> list[dict]:
    app = create_app(db)
    data = app.server.extensions["txray_data"]
    cache = app.server.extensions["txray_cache"]
    client = app.server.test_client()
    info = data.info()
    n = int(info.stages["n_neurons"].min())
    pairs = list(info.pairs)
    views = [View(stage_a=a, stage_b=b, kind=k, neuron=int(rng.integers(0, n))).to_dict()
             for (a, b) in pairs for k in ("token", "pos")]
    rng.shuffle(views)
    it = itertools.cycle(views)
    detail_views = [View(stage_a=a, stage_b=b, neuron=int(rng.integers(0, n))).to_dict()
                    for (a, b) in [pairs[i % len(pairs)] for i in range(repeats + 4)]]
    dit = itertools.cycle(detail_views)
    # Warm-up, not timed: connection, imports, and the once-per-process load of each corpus's
    # token sequences used for context windows.
    callbacks.overview_outputs(data, views[0])
    for a, b in pairs:
        data.contexts(0, (a, b))
    callbacks.detail_outputs(data, detail_views[0])
    rows = []
    cold = cache.clear
    for name, fn, outs, vit in (
        ("overview", callbacks.overview_outputs, OVERVIEW_OUT, it),
        ("detail", callbacks.detail_outputs, DETAIL_OUT, dit),
    ):
        current = {}

        def pick(v=vit, c=current):
            cold()
            c["view"] = next(v)

        cpu: list[float] = []
        ms = timed(lambda: fn(data, current["view"]), before=pick, repeats=repeats, cpu=cpu)
        http = timed(lambda: client.post("/_dash-update-component",
                                         json=post_body(outs, current["view"])),
                     before=pick, repeats=max(5, repeats // 2))
        v0 = next(vit)
        fn(data, v0)
        warm = timed(lambda: fn(data, v0), before=lambda: None, repeats=repeats)
        a, b = v0["stage_a"], v0["stage_b"]
        if name == "overview":
            base = timed(lambda: naive_overview(db, a, b), before=lambda: None, repeats=3)
        else:
            base = timed(lambda: naive_detail(db, int(v0["neuron"] or 0), a, b),
                         before=lambda: None, repeats=3)
        rows.append({"scale": scale, "callback": name, "cold": ms, "cpu": np.array(cpu),
                     "http": http, "warm": warm,
                     "baseline": base, "target": TARGETS_MS.get((scale, name))})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where to build the synthetic DBs (default: a temporary folder)")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--scales", nargs="+", default=["paper", "transformer"],
                        choices=["tiny", "small", "paper", "transformer"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out_dir or Path(tmp)
        rows = []
        for scale in args.scales:
            db = out_dir / f"synthetic_{scale}.duckdb"
            t0 = time.perf_counter()
            if not db.exists():
                generate(db, scale=scale)
            with duckdb.connect(str(db), read_only=True) as con:
                shape = con.execute(
                    "SELECT count(*), max(n_neurons), max(n_tokens) FROM stages").fetchall()[0]
            print(f"{scale}: {db} ({shape[0]} stages, {shape[1]:,} neurons, "
                  f"{shape[2]:,} tokens/stage; ready in {time.perf_counter() - t0:.1f} s)",
                  flush=True)
            rows += bench_scale(scale, db, repeats=args.repeats, rng=rng)
    print()
    print(f"{'scale':12s} {'callback':9s} {'cold, wall (cache cleared)':34s} "
          f"{'cold, CPU time':34s} {'HTTP POST (cold, wall)':34s} "
          f"{'cached p50':>10s} {'naive p50':>10s} {'speed-up':>8s}  target (wall p95)")
    ok = True
    summary = []
    for r in rows:
        p95 = float(np.percentile(r["cold"], 95))
        verdict = ""
        if r["target"] is not None:
            passed = p95 <= r["target"]
            ok &= passed
            verdict = f"p95 <= {r['target']:.0f} ms: {'PASS' if passed else 'FAIL'}"
        speedup = np.percentile(r["baseline"], 50) / np.percentile(r["cold"], 50)
        print(f"{r['scale']:12s} {r['callback']:9s} {stats(r['cold']):34s} {stats(r['cpu']):34s} "
              f"{stats(r['http']):34s} "
              f"{np.percentile(r['warm'], 50):7.2f} ms {np.percentile(r['baseline'], 50):7.0f} ms "
              f"{speedup:7.1f}x  {verdict}")
        summary.append({"scale": r["scale"], "callback": r["callback"],
                        "p50_ms": float(np.percentile(r["cold"], 50)), "p95_ms": p95,
                        "cpu_p50_ms": float(np.percentile(r["cpu"], 50)),
                        "cpu_p95_ms": float(np.percentile(r["cpu"], 95)),
                        "http_p95_ms": float(np.percentile(r["http"], 95)),
                        "cached_p50_ms": float(np.percentile(r["warm"], 50)),
                        "naive_p50_ms": float(np.percentile(r["baseline"], 50))})
    print()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs during the run "
          "(wall-clock numbers include waiting for the CPU when the machine is shared)")
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
