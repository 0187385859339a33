"""Encoders: the classifier reads the last *real* state of each padded review; LM/classifier wiring."""

from __future__ import annotations

import torch

from precompute.models import HOOK_POINT, LSTMClassifier, LSTMLanguageModel, last_states
from precompute.recording import ActivationRecorder
from precompute.training import pad


def _toy_classifier(seed: int = 0) -> LSTMClassifier:
    torch.manual_seed(seed)
    return LSTMClassifier(vocab_size=20, emb_dim=5, hidden=7).eval()


def test_last_states_gathers_lengths_minus_one():
    out = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    got = last_states(out, torch.tensor([2, 4]))
    assert torch.equal(got, torch.stack([out[0, 1], out[1, 3]]))


def test_classifier_uses_last_real_state_not_padding():
    clf = _toy_classifier()
    seqs = [torch.tensor([3, 4, 5]), torch.tensor([6, 7, 8, 9, 10, 11]), torch.tensor([12])]
    ids, lengths = pad([s.numpy() for s in seqs])
    with torch.no_grad():
        batched = clf(ids, lengths)
        alone = torch.stack([clf(s[None, :], torch.tensor([len(s)]))[0] for s in seqs])
        # Padding with other ids must not change anything either.
        noisy = ids.clone()
        noisy[torch.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 17
        batched_noisy = clf(noisy, lengths)
    torch.testing.assert_close(batched, alone)
    torch.testing.assert_close(batched_noisy, alone)
    # ... and it differs from reading the padded last column.
    with torch.no_grad():
        last_col = clf.classifier(clf.encode(ids)[:, -1]).squeeze(-1)
    assert not torch.allclose(last_col[0], alone[0])


def test_classifier_from_language_model_shares_encoder_and_freezes_embeddings():
    torch.manual_seed(1)
    lm = LSTMLanguageModel(vocab_size=30, emb_dim=6, hidden=8, dropout=0.5)
    clf = LSTMClassifier.from_language_model(lm)
    assert torch.equal(clf.embedding.weight, lm.embedding.weight)
    for name, p in lm.rnn.named_parameters():
        assert torch.equal(getattr(clf.rnn, name), p)
    assert not clf.embedding.weight.requires_grad
    assert all(p.requires_grad for p in clf.rnn.parameters())
    assert clf.classifier.out_features == 1
    # The copy is independent of the LM.
    with torch.no_grad():
        clf.rnn.weight_hh_l0.zero_()
    assert lm.rnn.weight_hh_l0.abs().sum() > 0


def test_lm_hook_point_records_hidden_states():
    torch.manual_seed(2)
    lm = LSTMLanguageModel(vocab_size=30, emb_dim=6, hidden=8).eval()
    x = torch.randint(0, 30, (3, 5))
    with ActivationRecorder(lm, HOOK_POINT) as rec, torch.no_grad():
        hidden, _ = lm(x, decode=False)
        assert torch.equal(rec.activation, hidden)
        logits, _ = lm(x)
    assert logits.shape == (3, 5, 30)
    assert hidden.shape == (3, 5, 8)
