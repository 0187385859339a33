"""Vocabulary/streams, F1, LM training with per-epoch checkpoints and resume, classifier training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from precompute.models import LSTMClassifier, LSTMLanguageModel
from precompute.training import (EOS, UNK, ClfTrainConfig, LMTrainConfig, batchify, build_vocab,
                                 encode, evaluate_f1, f1_score, lm_checkpoint, lm_loss,
                                 review_batches, token_stream, train_classifier,
                                 train_language_model)
from tests.precompute.archives import real_data_dir


def test_build_vocab_by_frequency_with_cap():
    lines = [["b", "a", "b"], ["c", "b", "a", "<unk>"]]
    assert build_vocab(lines) == [UNK, EOS, "b", "a", "c"]
    assert build_vocab(lines, max_size=4) == [UNK, EOS, "b", "a"]
    with pytest.raises(ValueError):
        build_vocab(lines, max_size=2)


def test_token_stream_appends_eos_and_maps_unknown():
    vocab = [UNK, EOS, "x", "y"]
    stoi = {w: i for i, w in enumerate(vocab)}
    s = token_stream([["x", "y"], ["z"]], stoi)
    assert s.tolist() == [2, 3, 1, 0, 1]
    assert token_stream([["x", "y"], ["z"]], stoi, max_tokens=3).tolist() == [2, 3, 1]
    assert [a.tolist() for a in encode([["y", "q"]], stoi)] == [[3, 0]]
    b = batchify(torch.arange(10), 3)
    assert b.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_f1_score_matches_definition():
    y = torch.tensor([1, 1, 0, 0, 1])
    p = torch.tensor([1, 0, 1, 0, 1])
    tp, fp, fn = 2, 1, 1
    assert f1_score(y, p) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert f1_score(torch.zeros(3), torch.zeros(3)) == 0.0


@pytest.fixture(scope="module")
def wiki_slice():
    from precompute.corpora import load_wikitext2

    wiki = load_wikitext2(real_data_dir(), download=False)
    vocab = build_vocab(wiki["train"][:400], max_size=500)
    stoi = {w: i for i, w in enumerate(vocab)}
    return (vocab, token_stream(wiki["train"], stoi, max_tokens=6000),
            token_stream(wiki["valid"], stoi, max_tokens=2000))


def test_lm_training_learns_checkpoints_and_resumes(wiki_slice, tmp_path):
    vocab, train, valid = wiki_slice
    cfg = LMTrainConfig(epochs=3, batch_size=8, bptt=20, lr=5e-3, clip=0.5, optimizer="adam")

    def fresh():
        torch.manual_seed(0)
        return LSTMLanguageModel(vocab_size=len(vocab), emb_dim=16, hidden=16)

    untrained = lm_loss(fresh(), batchify(valid, 4), bptt=20, device="cpu")
    model = fresh()
    log = train_language_model(model, train, valid, cfg=cfg, run_dir=tmp_path / "a",
                               keep_epochs=[1], device="cpu", seed=3)
    assert [r["epoch"] for r in log] == [1, 2, 3]
    assert log[-1]["valid_loss"] < untrained
    assert log[-1]["valid_ppl"] == pytest.approx(np.exp(log[-1]["valid_loss"]))
    kept = sorted(p.name for p in (tmp_path / "a").glob("lm_ep*.pt"))
    assert kept == ["lm_ep1.pt", "lm_ep3.pt"]

    # Interrupted after epoch 2, resumed: same weights as the uninterrupted run.
    part = fresh()
    train_language_model(part, train, valid, cfg=LMTrainConfig(**{**cfg.__dict__, "epochs": 2}),
                         run_dir=tmp_path / "b", keep_epochs=[1], device="cpu", seed=3)
    resumed = fresh()
    log_b = train_language_model(resumed, train, valid, cfg=cfg, run_dir=tmp_path / "b",
                                 keep_epochs=[1], device="cpu", seed=3, resume=True)
    assert [r["epoch"] for r in log_b] == [1, 2, 3]
    for (n, p), (_, q) in zip(model.named_parameters(), resumed.named_parameters()):
        torch.testing.assert_close(p, q, msg=n)
    assert lm_checkpoint(tmp_path / "b", 3).exists()


def test_classifier_training_learns_a_toy_task_with_frozen_embeddings():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 12, size=rng.integers(4, 15)) for _ in range(300)]
    labels = np.array([int(s[-1] >= 7) for s in seqs])  # depends on the last real token
    torch.manual_seed(0)
    clf = LSTMClassifier(vocab_size=12, emb_dim=8, hidden=16)
    emb_before = clf.embedding.weight.clone()
    batches = review_batches(seqs, labels, batch_size=64)
    before = evaluate_f1(clf, batches, device="cpu")
    log = train_classifier(clf, seqs, labels, cfg=ClfTrainConfig(epochs=30, batch_size=32, lr=1e-2,
                                                                 target_f1=0.95),
                           eval_sets={"train": batches}, device="cpu", seed=0, monitor="train")
    assert log[-1]["train_f1"] >= 0.95 > before
    assert len(log) < 30  # stopped at the target
    assert [r["epoch"] for r in log if r["selected"]] == [len(log)]
    assert torch.equal(clf.embedding.weight, emb_before)


def test_classifier_keeps_the_best_monitored_epoch():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(2, 12, size=rng.integers(4, 15)) for _ in range(200)]
    labels = rng.integers(0, 2, size=200)  # noise: F1 on a held-out set wanders between epochs
    held = review_batches(seqs[150:], labels[150:], batch_size=64)
    torch.manual_seed(0)
    clf = LSTMClassifier(vocab_size=12, emb_dim=8, hidden=16)
    log = train_classifier(clf, seqs[:150], labels[:150],
                           cfg=ClfTrainConfig(epochs=6, batch_size=16, lr=2e-2),
                           eval_sets={"dev": held}, device="cpu", seed=0, monitor="dev")
    assert len(log) == 6
    best = max(range(6), key=lambda i: (log[i]["dev_f1"], -i))
    assert [r["selected"] for r in log] == [i == best for i in range(6)]
    assert evaluate_f1(clf, held, device="cpu") == pytest.approx(log[best]["dev_f1"])
