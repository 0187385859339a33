"""Pruning = every consumer of h_i sees 0 (checked against a step-by-step masked LSTM), the
Table 2 sets, and the experiment runner."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from precompute.models import HOOK_POINT, LSTMClassifier
from precompute.pruning import PruneSet, Pruner, prune_units, pruning_sets, run_pruning
from precompute.recording import ActivationRecorder
from precompute.training import f1_score, predict_proba, review_batches


def _toy(seed: int = 0, hidden: int = 6) -> LSTMClassifier:
    torch.manual_seed(seed)
    return LSTMClassifier(vocab_size=15, emb_dim=4, hidden=hidden).eval()


def _masked_reference(clf: LSTMClassifier, ids: torch.Tensor, units: list[int]):
    """Step-by-step LSTM in which the pruned units' h is zero for the recurrence and the output."""
    cell = torch.nn.LSTMCell(clf.rnn.input_size, clf.rnn.hidden_size)
    with torch.no_grad():
        cell.weight_ih.copy_(clf.rnn.weight_ih_l0)
        cell.weight_hh.copy_(clf.rnn.weight_hh_l0)
        cell.bias_ih.copy_(clf.rnn.bias_ih_l0)
        cell.bias_hh.copy_(clf.rnn.bias_hh_l0)
    keep = torch.ones(clf.rnn.hidden_size)
    keep[units] = 0.0
    b, t = ids.shape
    h = torch.zeros(b, clf.rnn.hidden_size)
    c = torch.zeros_like(h)
    states = []
    with torch.no_grad():
        emb = clf.embedding(ids)
        for step in range(t):
            h, c = cell(emb[:, step], (h * keep, c))
            states.append(h)
        hs = torch.stack(states, dim=1)
        logits = clf.classifier(hs[:, -1] * keep).squeeze(-1)
    return hs, logits


def test_pruned_unit_is_zero_for_every_consumer():
    clf = _toy()
    ids = torch.randint(0, 15, (4, 9))
    lengths = torch.full((4,), 9)
    units = [1, 4]
    pruned = prune_units(clf, units)
    with ActivationRecorder(pruned, HOOK_POINT) as rec, torch.no_grad():
        logits = pruned(ids, lengths)
        recorded = rec.activation
    ref_h, ref_logits = _masked_reference(clf, ids, units)
    torch.testing.assert_close(recorded, ref_h)
    torch.testing.assert_close(logits, ref_logits)
    # The original is untouched and differs from the pruned model.
    with ActivationRecorder(clf, HOOK_POINT) as rec, torch.no_grad():
        clf(ids, lengths)
    assert not torch.allclose(rec.activation, recorded)
    assert torch.count_nonzero(pruned.rnn.weight_hh_l0[:, units]) == 0
    assert torch.count_nonzero(pruned.classifier.weight[:, units]) == 0
    assert torch.count_nonzero(clf.rnn.weight_hh_l0[:, units]) > 0


def test_pruner_restores_weights_between_experiments():
    clf = _toy(hidden=8)
    pr = Pruner(clf)
    pr.apply(np.array([0, 1, 2]))
    got = pr.apply(np.array([5]))
    want = prune_units(clf, [5])
    for (n, p), (_, q) in zip(got.named_parameters(), want.named_parameters()):
        assert torch.equal(p, q), n
    assert torch.equal(pr.apply(np.array([], dtype=np.int64)).rnn.weight_hh_l0, clf.rnn.weight_hh_l0)


def test_pruning_sets_follow_table2_definitions():
    mass = np.array([0.0, 5.0, 1.0, 0.0, 9.0, 3.0, 0.5])
    zero_shot_alive = np.array([True, False, True, True, False, True, False])
    sets = {s.name: s.units.tolist() for s in pruning_sets(mass, zero_shot_alive, k=2)}
    assert sets == {"A": [0, 3], "B": [2, 6], "C": [1, 4], "D": [1, 4, 6]}


def test_run_pruning_reports_relative_change_and_random_control():
    clf = _toy(seed=3, hidden=10)
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 15, size=rng.integers(3, 12)) for _ in range(60)]
    with torch.no_grad():
        probs = predict_proba(clf, review_batches(seqs, np.zeros(60, dtype=np.int64),
                                                  batch_size=16), device="cpu")
    # Labels = the model's own predictions on half, flipped on the rest: base F1 is known.
    labels = (probs >= float(probs.median())).long().numpy()
    batches = review_batches(seqs, labels, batch_size=16)
    mass = rng.random(10)
    sets = [PruneSet("C", "all", np.arange(10)), PruneSet("E", "empty", np.array([], dtype=np.int64)),
            PruneSet("X", "two", np.array([2, 7]))]
    df = run_pruning(clf, sets, mass=mass, eval_sets={"train": batches, "test": batches},
                     seeds=5, seed=1)
    assert isinstance(df, pd.DataFrame) and list(df.experiment) == ["C", "E", "X"]
    base = f1_score(torch.as_tensor(labels), probs >= 0.5)
    assert np.allclose(df.base_f1_train, base) and np.allclose(df.base_f1_test, base)
    row = df.set_index("experiment")
    assert row.loc["C", "am_share"] == 1.0
    assert np.isclose(row.loc["X", "am_share"], mass[[2, 7]].sum() / mass.sum())
    f1_x = f1_score(torch.as_tensor(labels),
                    predict_proba(prune_units(clf, [2, 7]), batches, device="cpu") >= 0.5)
    assert np.isclose(row.loc["X", "f1_train"], f1_x)
    assert np.isclose(row.loc["X", "rel_change_test"], 100 * (f1_x - base) / base)
    # Pruning every unit leaves a constant classifier: random control of size 10 is the same set.
    assert row.loc["C", "random_rel_train_std"] == 0.0
    assert np.isclose(row.loc["C", "random_rel_train_mean"], row.loc["C", "rel_change_train"])
    assert row.loc["X", "random_seeds"] == 5 and row.loc["X", "random_rel_test_std"] >= 0
    assert row.loc["E", "rel_change_train"] == 0.0 and row.loc["E", "random_seeds"] == 0
