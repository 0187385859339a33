"""The encoders of the paper's three setups: an LSTM language model and an LSTM classifier.

Both share the encoder design embedding -> 1-layer ``nn.LSTM(batch_first=True)`` named ``rnn``;
``"rnn"`` is the hook point the recorder attaches to (its output is h_t for every step).
"""

from __future__ import annotations

import torch
from torch import nn

HOOK_POINT = "rnn"


class LSTMLanguageModel(nn.Module):
    """Word-level LM: embedding -> dropout -> LSTM -> dropout -> linear decoder over the vocabulary.

    Embeddings start uniform in [-emb_init, emb_init] (0.1 in word_language_model and the authors'
    code); ``emb_init=None`` keeps PyTorch's N(0, 1). The classifier later reuses them frozen: after
    a short pretraining, very small embeddings starve its LSTM of input signal.
    """

    def __init__(self, *, vocab_size: int, emb_dim: int, hidden: int, dropout: float = 0.0,
                 emb_init: float | None = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.rnn = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocab_size)
        if emb_init is not None:
            nn.init.uniform_(self.embedding.weight, -emb_init, emb_init)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    @property
    def hidden_size(self) -> int:
        return self.rnn.hidden_size

    def forward(self, input_ids: torch.Tensor,
                state: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                decode: bool = True) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(B, T) ids -> (logits (B, T, V), or hidden states (B, T, H) when not `decode`; state)."""
        out, state = self.rnn(self.dropout(self.embedding(input_ids)), state)
        if not decode:
            return out, state
        return self.decoder(self.dropout(out)), state


class LSTMClassifier(nn.Module):
    """Binary classifier: frozen embedding -> LSTM -> one linear layer on the last real state.

    `forward` returns logits; the probability of the positive class is ``sigmoid(logits)``.
    Inputs are right-padded, so the state at ``lengths - 1`` is exactly the last real one.
    """

    def __init__(self, *, vocab_size: int, emb_dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.embedding.weight.requires_grad_(False)
        self.rnn = nn.LSTM(emb_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, 1)

    @classmethod
    def from_language_model(cls, lm: LSTMLanguageModel, *, dropout: float = 0.0) -> "LSTMClassifier":
        """A classifier whose embedding (frozen) and encoder start from `lm`'s weights."""
        clf = cls(vocab_size=lm.embedding.num_embeddings, emb_dim=lm.embedding.embedding_dim,
                  hidden=lm.rnn.hidden_size, dropout=dropout)
        clf.embedding.weight.data.copy_(lm.embedding.weight.data)
        clf.rnn.load_state_dict(lm.rnn.state_dict())
        return clf.to(lm.embedding.weight.device)

    def encode(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> hidden states (B, T, H)."""
        out, _ = self.rnn(self.embedding(input_ids))
        return out

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) right-padded ids and (B,) lengths >= 1 -> (B,) logits."""
        return self.classifier(self.dropout(last_states(self.encode(input_ids), lengths))).squeeze(-1)


def last_states(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The state of each sequence's last real step: out[b, lengths[b] - 1] for (B, T, H) `out`."""
    idx = (lengths.to(out.device).long() - 1).clamp(min=0)
    return out[torch.arange(out.shape[0], device=out.device), idx]
