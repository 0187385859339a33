"""TX-Ray measures: worked examples, properties, and agreement with naive implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precompute.measures import hellinger, hellinger_dicts
from tests.precompute.helpers import hellinger_of, records_from

WORKED = {
    "A": {0: [("the", 0.8), ("the", 0.6), ("cat", 0.2)]},
    "B": {0: [("the", 0.5), ("dog", 0.5)]},
}


def test_worked_example_paper_formula(build_db):
    con = build_db(records_from(WORKED))
    # mu_the = 0.7, mu_cat = 0.2 -> P_A = (7/9, 2/9); P_B = (1/2, 1/2) over {the, dog}
    expected = math.sqrt(
        ((math.sqrt(7 / 9) - math.sqrt(0.5)) ** 2 + (math.sqrt(2 / 9) - 0) ** 2
         + (0 - math.sqrt(0.5)) ** 2) / 2)
    assert expected == pytest.approx(0.61351, abs=1e-5)
    assert hellinger_of(con, "A", "B", 0) == pytest.approx(0.61351, abs=1e-5)
    row = con.execute(
        "SELECT len_a, len_b, len_union, shift FROM comparisons WHERE neuron = 0 "
        "AND feature_kind = 'token' AND variant = 'paper'").fetchall()
    assert row == [(2, 2, 3, "unchanged")]


def test_mean_then_normalise(build_db):
    con = build_db(records_from(WORKED))
    got = dict(con.execute(
        "SELECT feature, p FROM distributions WHERE stage = 'A' AND neuron = 0 "
        "AND feature_kind = 'token'").fetchall())
    assert got == pytest.approx({"the": 0.7 / 0.9, "cat": 0.2 / 0.9})
    mass, length = con.execute(
        "SELECT mass, length FROM neuron_stats WHERE stage = 'A' AND neuron = 0 "
        "AND feature_kind = 'token'").fetchall()[0]
    assert mass == pytest.approx(1.6) and length == 2


def test_reference_variant_matches_authors_definition(build_db):
    con = build_db(records_from(WORKED), variants=("paper", "reference"))
    # rows normalised by the neuron's total activation, then averaged per token
    ra = {"the": (0.8 / 1.6 + 0.6 / 1.6) / 2, "cat": 0.2 / 1.6}
    rb = {"the": 0.5, "dog": 0.5}
    expected = hellinger_dicts(ra, rb) / 3
    assert hellinger_of(con, "A", "B", 0, variant="reference") == pytest.approx(expected)
    assert hellinger_of(con, "A", "B", 0, variant="paper") == pytest.approx(0.61351, abs=1e-5)


def test_dead_side_is_null_not_zero(build_db):
    con = build_db(records_from({
        "A": {0: [("x", 1.0)], 1: [("y", 0.5)]},
        "B": {0: [("x", 1.0)], 1: [("y", -0.3)]},  # neuron 1 silent in B: dead
    }))
    assert hellinger_of(con, "A", "B", 0) == pytest.approx(0.0)
    assert hellinger_of(con, "A", "B", 1) is None
    alive = con.execute(
        "SELECT stage, alive, length FROM neuron_stats WHERE neuron = 1 AND feature_kind = 'token' "
        "ORDER BY stage").fetchall()
    assert alive == [("A", True, 1), ("B", False, 0)]
    silent = dict(con.execute("SELECT stage, n_silent FROM stages").fetchall())
    assert silent == {"A": 0, "B": 1}


def test_length_shift_direction(build_db):
    con = build_db(records_from({
        "A": {0: [("a", 1.0)], 1: [("a", 1.0), ("b", 1.0)], 2: [("a", 1.0)]},
        "B": {0: [("a", 1.0), ("c", 1.0)], 1: [("b", 1.0)], 2: [("d", 2.0)]},
    }))
    shifts = dict(con.execute(
        "SELECT neuron, shift FROM comparisons WHERE feature_kind = 'token' ORDER BY neuron"
    ).fetchall())
    assert shifts == {0: "longer", 1: "shorter", 2: "unchanged"}
    assert hellinger_of(con, "A", "B", 2) == pytest.approx(1.0)


tokens = st.sampled_from([f"t{i}" for i in range(8)])
dist = st.lists(st.tuples(tokens, st.floats(0.01, 5.0)), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=dist, b=dist)
def test_hellinger_properties(build_db, a, b):
    silent = [(t, -x) for t, x in b]  # neuron 3 never fires positively in B: dead there
    con = build_db(records_from({"A": {0: a, 1: a, 2: a, 3: a},
                                 "B": {0: b, 1: a, 2: [("zz", 1.0)], 3: silent}}),
                   compare=[("A", "B"), ("B", "A")])
    h_ab, h_ba = hellinger_of(con, "A", "B", 0), hellinger_of(con, "B", "A", 0)
    assert h_ab == pytest.approx(h_ba, abs=1e-12)
    assert 0.0 <= h_ab <= 1.0
    assert hellinger_of(con, "A", "B", 1) == pytest.approx(0.0, abs=1e-7)
    assert hellinger_of(con, "A", "B", 2) == pytest.approx(1.0, abs=1e-12)
    assert hellinger_of(con, "A", "B", 3) is None and hellinger_of(con, "B", "A", 3) is None


def _naive_measures(rec: pd.DataFrame) -> dict:
    """Per-neuron Python implementation of DESIGN §2.2-2.3 (the slow, obvious way)."""
    out = {}
    for (stage, neuron), g in rec[rec.activation > 0].groupby(["stage", "neuron"]):
        mu = {tok: gg.activation.mean() for tok, gg in g.groupby("token")}
        total = sum(mu.values())
        out[(stage, neuron)] = ({k: v / total for k, v in mu.items()}, g.activation.sum())
    return out


def test_vectorised_equals_naive_on_random_data(build_db):
    rng = np.random.default_rng(7)
    n = 3000
    rec = pd.DataFrame({
        "stage": rng.choice(["S1", "S2", "S3"], n),
        "token": [f"w{i}" for i in rng.zipf(1.5, n) % 60],
        "neuron": rng.integers(0, 25, n),
        "activation": rng.normal(0.3, 0.5, n).round(4),
    })
    con = build_db(rec)
    naive = _naive_measures(rec)
    stats = con.execute(
        "SELECT stage, neuron, length, mass, alive FROM neuron_stats WHERE feature_kind = 'token'"
    ).fetchall()
    assert len(stats) == 3 * 25
    for stage, neuron, length, mass, alive in stats:
        p, m = naive.get((stage, neuron), ({}, 0.0))
        assert length == len(p) and alive == bool(p)
        assert mass == pytest.approx(m)
    comps = con.execute(
        "SELECT stage_a, stage_b, neuron, hellinger, len_union FROM comparisons "
        "WHERE feature_kind = 'token' AND variant = 'paper'").fetchall()
    order = list(dict.fromkeys(rec.stage))  # first-appearance order
    assert {(a, b) for a, b, *_ in comps} == {
        (order[0], order[1]), (order[0], order[2]), (order[1], order[2])}
    for a, b, neuron, h, len_union in comps:
        pa, _ = naive.get((a, neuron), ({}, 0))
        pb, _ = naive.get((b, neuron), ({}, 0))
        expected = hellinger_dicts(pa, pb)
        if expected is None:
            assert h is None
        else:
            assert h == pytest.approx(expected, abs=1e-9)
        assert len_union == len(set(pa) | set(pb))


def test_numpy_hellinger_bounds():
    assert hellinger([1, 0], [0, 1]) == pytest.approx(1.0)
    assert hellinger([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert hellinger_dicts({}, {"a": 1.0}) is None
