"""TX-Ray measures (DESIGN §2.2-2.3), computed in DuckDB SQL over `feature_stats`.

* `distributions`: per (stage, neuron, feature kind, feature) the mean activation mu_f and the
  probability P_n(f) = mu_f / sum mu (mean, *then* normalise), plus the task-weighted versions.
* `neuron_stats`: length (number of features with mu_f > 0), activation mass, alive/dead, for
  every neuron of every stage (dead neurons included, with length 0).
* `comparisons`: Hellinger distance per neuron for each stage pair; NULL where either side is
  dead. Variant ``paper`` is the paper's definition; ``reference`` reproduces the authors'
  public code (each row normalised by the neuron's total activation before the per-feature mean,
  so P does not sum to 1, and H divided by the union length).
"""

from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

_DISTRIBUTIONS = """
INSERT INTO distributions
WITH feat AS (
    SELECT stage, neuron, 'token' AS feature_kind, token AS feature,
           sum(n) AS n, sum(sum_act) AS s, sum(sum_act_weighted) AS sw
    FROM feature_stats GROUP BY stage, neuron, token
    UNION ALL
    SELECT stage, neuron, 'pos', pos, sum(n), sum(sum_act), sum(sum_act_weighted)
    FROM feature_stats WHERE pos IS NOT NULL GROUP BY stage, neuron, pos
), mu AS (
    SELECT *, s / n AS mu, sw / n AS muw FROM feat WHERE s > 0 AND n > 0
)
SELECT stage, neuron, feature_kind, feature, n, mu,
       mu / sum(mu) OVER w AS p, s AS mass,
       muw, muw / nullif(sum(muw) OVER w, 0) AS p_weighted, sw AS mass_weighted
FROM mu WINDOW w AS (PARTITION BY stage, neuron, feature_kind)
"""

_NEURON_STATS = """
INSERT INTO neuron_stats
WITH kinds AS (
    SELECT stage, n_neurons,
           unnest(CASE WHEN has_pos THEN ['token', 'pos'] ELSE ['token'] END) AS feature_kind
    FROM stages
), grid AS (
    SELECT stage, feature_kind, unnest(range(n_neurons))::INTEGER AS neuron FROM kinds
), agg AS (
    SELECT stage, neuron, feature_kind, count(*) AS length, sum(mass) AS mass,
           sum(mass_weighted) AS mass_weighted, sum(n) AS n_rows
    FROM distributions GROUP BY stage, neuron, feature_kind
)
SELECT g.stage, g.neuron, g.feature_kind, coalesce(a.length, 0), coalesce(a.mass, 0.0),
       a.mass_weighted, coalesce(a.n_rows, 0), coalesce(a.length, 0) > 0
FROM grid g LEFT JOIN agg a USING (stage, neuron, feature_kind)
"""

_COMPARISONS = """
INSERT INTO comparisons
WITH side AS (
    SELECT d.stage, d.neuron, d.feature_kind, d.feature, d.p, d.mu / ns.mass AS r
    FROM distributions d
    JOIN neuron_stats ns USING (stage, neuron, feature_kind)
), pa AS (
    SELECT q.stage_a, q.stage_b, s.neuron, s.feature_kind, s.feature, s.p, s.r
    FROM _pairs q JOIN side s ON s.stage = q.stage_a
), pb AS (
    SELECT q.stage_a, q.stage_b, s.neuron, s.feature_kind, s.feature, s.p, s.r
    FROM _pairs q JOIN side s ON s.stage = q.stage_b
), j AS (
    SELECT coalesce(pa.stage_a, pb.stage_a) AS stage_a, coalesce(pa.stage_b, pb.stage_b) AS stage_b,
           coalesce(pa.neuron, pb.neuron) AS neuron,
           coalesce(pa.feature_kind, pb.feature_kind) AS feature_kind,
           coalesce(pa.p, 0) AS p_a, coalesce(pb.p, 0) AS p_b,
           coalesce(pa.r, 0) AS r_a, coalesce(pb.r, 0) AS r_b
    FROM pa FULL OUTER JOIN pb
      ON pa.stage_a = pb.stage_a AND pa.stage_b = pb.stage_b AND pa.neuron = pb.neuron
     AND pa.feature_kind = pb.feature_kind AND pa.feature = pb.feature
), h AS (
    SELECT stage_a, stage_b, neuron, feature_kind, count(*) AS len_union,
           least(1.0, sqrt(sum((sqrt(p_a) - sqrt(p_b)) ** 2) / 2)) AS h_paper,
           sqrt(sum((sqrt(r_a) - sqrt(r_b)) ** 2) / 2) / count(*) AS h_reference
    FROM j GROUP BY stage_a, stage_b, neuron, feature_kind
)
SELECT q.stage_a, q.stage_b, na.neuron, na.feature_kind, v.variant,
       CASE WHEN na.alive AND nb.alive THEN
            CASE v.variant WHEN 'paper' THEN h.h_paper ELSE h.h_reference END END,
       na.length, nb.length, coalesce(h.len_union, 0),
       CASE WHEN nb.length > na.length THEN 'longer'
            WHEN nb.length < na.length THEN 'shorter' ELSE 'unchanged' END
FROM _pairs q
JOIN neuron_stats na ON na.stage = q.stage_a
JOIN neuron_stats nb ON nb.stage = q.stage_b AND nb.neuron = na.neuron
                    AND nb.feature_kind = na.feature_kind
CROSS JOIN _variants v
LEFT JOIN h ON h.stage_a = q.stage_a AND h.stage_b = q.stage_b AND h.neuron = na.neuron
           AND h.feature_kind = na.feature_kind
"""


def compute_all(
    con: duckdb.DuckDBPyConnection,
    *,
    pairs: Sequence[tuple[str, str]],
    variants: Sequence[str] = ("paper",),
) -> None:
    """(Re)compute distributions, neuron_stats and comparisons in `con` from feature_stats."""
    con.execute("DELETE FROM comparisons; DELETE FROM neuron_stats; DELETE FROM distributions;")
    con.execute(_DISTRIBUTIONS)
    con.execute(_NEURON_STATS)
    pairs_df = pd.DataFrame(list(pairs), columns=["stage_a", "stage_b"], dtype=object)
    variants_df = pd.DataFrame({"variant": list(variants)}, dtype=object)
    con.register("_pairs", pairs_df)
    con.register("_variants", variants_df)
    try:
        con.execute(_COMPARISONS)
    finally:
        con.unregister("_pairs")
        con.unregister("_variants")


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
