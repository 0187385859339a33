"""Training: the WikiText-2 language model (truncated BPTT) and the IMDB classifier.

The LM follows the classic pytorch/examples word_language_model recipe (batchified token stream
with one ``<eos>`` per line, truncated BPTT, gradient clipping, SGD whose learning rate is divided
by 4 when the validation loss stops improving; Adam is available for short CPU runs). Every epoch
is checkpointed so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from precompute.models import LSTMClassifier, LSTMLanguageModel

UNK = "<unk>"
EOS = "<eos>"
PAD_ID = 0


def build_vocab(lines: Sequence[Sequence[str]], *, max_size: int | None = None) -> list[str]:
    """Vocabulary of `lines` by descending frequency (ties: first occurrence), plus <unk> and <eos>.

    With `max_size`, only the most frequent words are kept (the total includes <unk> and <eos>).
    """
    counts = Counter(tok for line in lines for tok in line)
    counts.pop(UNK, None)
    counts.pop(EOS, None)
    words = [w for w, _ in counts.most_common()]
    if max_size is not None:
        if max_size < 3:
            raise ValueError("vocab_size must be at least 3 (<unk>, <eos> and one word)")
        words = words[: max_size - 2]
    return [UNK, EOS] + words


def _flat_ids(lines: Sequence[Sequence[str]], names: Sequence[str], *,
              missing: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices in `names` of all tokens, `missing` where absent; tokens per line), vectorised."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    flat = np.fromiter(chain.from_iterable(lines), dtype=object, count=int(lengths.sum()))
    ids = pd.Index(list(names)).get_indexer(flat).astype(np.int64)
    ids[ids < 0] = missing
    return ids, lengths


def lookup(lines: Sequence[Sequence[str]], names: Sequence[str], *,
           missing: int) -> list[np.ndarray]:
    """Token lists -> arrays of their indices in `names` (`missing` where absent)."""
    ids, lengths = _flat_ids(lines, names, missing=missing)
    return np.split(ids, np.cumsum(lengths)[:-1]) if len(lines) else []


def encode(lines: Sequence[Sequence[str]], stoi: dict[str, int], *,
           eos: bool = False) -> list[np.ndarray]:
    """Token lists -> id arrays (unknown tokens -> <unk>), optionally with <eos> appended."""
    vocab = sorted(stoi, key=stoi.get)
    ids = lookup(lines, vocab, missing=stoi[UNK])
    if eos:
        ids = [np.append(a, stoi[EOS]) for a in ids]
    return ids


def token_stream(lines: Sequence[Sequence[str]], stoi: dict[str, int], *,
                 max_tokens: int | None = None) -> torch.Tensor:
    """One id stream with <eos> after every line (word_language_model's corpus), optionally cut."""
    ids, lengths = _flat_ids(lines, sorted(stoi, key=stoi.get), missing=stoi[UNK])
    stream = torch.from_numpy(np.insert(ids, np.cumsum(lengths), stoi[EOS]))
    return stream[:max_tokens] if max_tokens is not None else stream


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) stream -> (batch_size, N // batch_size): each row is a contiguous part of the stream."""
    n = stream.numel() // batch_size
    if n < 2:
        raise ValueError(f"{stream.numel()} tokens are too few for batch size {batch_size}")
    return stream[: n * batch_size].view(batch_size, n)


@dataclass(frozen=True)
class LMTrainConfig:
    """Hyper-parameters of language-model training."""

    epochs: int
    batch_size: int
    bptt: int
    lr: float
    clip: float
    optimizer: str = "sgd"
    anneal: float = 4.0


def lm_loss(model: LSTMLanguageModel, data: torch.Tensor, *, bptt: int,
            device: torch.device | str) -> float:
    """Mean cross-entropy per token of `model` over batchified `data` (state carried across windows)."""
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.inference_mode():
        for i in range(0, data.shape[1] - 1, bptt):
            x = data[:, i:i + bptt].to(device)
            y = data[:, i + 1:i + 1 + bptt].to(device)
            x = x[:, : y.shape[1]]
            logits, state = model(x, state)
            total += float(nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
            count += y.numel()
    return total / max(count, 1)


def _make_optimizer(model: nn.Module, cfg: LMTrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd or adam")


def lm_checkpoint(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / f"lm_ep{epoch}.pt"


def train_language_model(
    model: LSTMLanguageModel,
    train: torch.Tensor,
    valid: torch.Tensor,
    *,
    cfg: LMTrainConfig,
    run_dir: Path,
    keep_epochs: Sequence[int],
    device: torch.device | str,
    resume: bool = False,
    seed: int = 0,
) -> list[dict]:
    """Train `model` on id streams `train`/`valid`; checkpoint each epoch; return the training log.

    Checkpoint files ``lm_ep{e}.pt`` hold the model, optimizer, learning rate and log. Only the
    epochs in `keep_epochs` and the latest one are kept on disk. With `resume`, training continues
    after the newest checkpoint found in `run_dir`.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model.to(device)
    opt = _make_optimizer(model, cfg)
    train_b = batchify(train, cfg.batch_size)
    valid_b = batchify(valid, max(1, cfg.batch_size // 2))
    lr, best, log, start = cfg.lr, math.inf, [], 1
    if resume:
        done = [e for e in range(cfg.epochs, 0, -1) if lm_checkpoint(run_dir, e).exists()]
        if done:
            ck = torch.load(lm_checkpoint(run_dir, done[0]), map_location=device, weights_only=False)
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            lr, best, log, start = ck["lr"], ck["best"], ck["log"], done[0] + 1
    for epoch in range(start, cfg.epochs + 1):
        t0 = time.time()
        torch.manual_seed(seed * 1000 + epoch)
        model.train()
        for g in opt.param_groups:
            g["lr"] = lr
        state, total, count = None, 0.0, 0
        starts = range(0, train_b.shape[1] - 1, cfg.bptt)
        bar = tqdm(starts, desc=f"LM epoch {epoch}/{cfg.epochs}", unit="batch", leave=False)
        for i in bar:
            x = train_b[:, i:i + cfg.bptt].to(device)
            y = train_b[:, i + 1:i + 1 + cfg.bptt].to(device)
            x = x[:, : y.shape[1]]
            if state is not None:
                state = tuple(s.detach() for s in state)
            logits, state = model(x, state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            total += loss.item() * y.numel()
            count += y.numel()
            bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
        val = lm_loss(model, valid_b, bptt=cfg.bptt, device=device)
        if cfg.optimizer == "sgd" and val >= best:
            lr /= cfg.anneal
        best = min(best, val)
        log.append({"model": "lm", "epoch": epoch, "train_loss": total / max(count, 1),
                    "valid_loss": val, "valid_ppl": math.exp(min(val, 50.0)),
                    "seconds": time.time() - t0})
        tqdm.write(f"LM epoch {epoch}: train loss {log[-1]['train_loss']:.3f}, "
                   f"valid ppl {log[-1]['valid_ppl']:.1f} ({log[-1]['seconds']:.1f}s)")
        _save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "lr": lr,
                      "best": best, "log": log}, lm_checkpoint(run_dir, epoch))
        prev = epoch - 1
        if prev >= 1 and prev not in keep_epochs:
            lm_checkpoint(run_dir, prev).unlink(missing_ok=True)
    return log


def _save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_snapshot(model: LSTMLanguageModel, run_dir: Path, epoch: int,
                  device: torch.device | str) -> LSTMLanguageModel:
    """Load the weights of epoch `epoch` into `model`."""
    path = lm_checkpoint(run_dir, epoch)
    if not path.exists():
        raise FileNotFoundError(f"no LM snapshot for epoch {epoch} at {path}")
    model.load_state_dict(torch.load(path, map_location=device, weights_only=False)["model"])
    return model.to(device)


@dataclass
class ReviewBatches:
    """Right-padded review batches, sorted by length so padding stays small (reused across passes)."""

    ids: list[torch.Tensor]
    lengths: list[torch.Tensor]
    labels: list[torch.Tensor]
    order: list[torch.Tensor]

    @property
    def n(self) -> int:
        return int(sum(len(o) for o in self.order))

    @property
    def y(self) -> torch.Tensor:
        """Labels in the original review order."""
        out = torch.empty(self.n, dtype=torch.long)
        for o, lab in zip(self.order, self.labels):
            out[o] = lab
        return out


def pad(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Id arrays -> right-padded (B, T) tensor and (B,) lengths."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max())), PAD_ID, dtype=torch.long)
    mask = torch.arange(out.shape[1])[None, :] < lengths[:, None]
    out[mask] = torch.from_numpy(np.concatenate(seqs))
    return out, lengths


def review_batches(seqs: Sequence[np.ndarray], labels: np.ndarray, *,
                   batch_size: int) -> ReviewBatches:
    """Batch reviews for evaluation: sorted by length, padded once."""
    lens = np.array([len(s) for s in seqs])
    order = np.argsort(-lens, kind="stable")
    out = ReviewBatches([], [], [], [])
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        ids, lengths = pad([seqs[j] for j in idx])
        out.ids.append(ids)
        out.lengths.append(lengths)
        out.labels.append(torch.as_tensor(labels[idx], dtype=torch.long))
        out.order.append(torch.from_numpy(idx))
    return out


def f1_score(y_true: torch.Tensor, y_pred: torch.Tensor) -> float:
    """Binary F1 of the positive class (0 when there are no true or predicted positives)."""
    y_true, y_pred = y_true.bool(), y_pred.bool()
    tp = int((y_true & y_pred).sum())
    denom = 2 * tp + int((~y_true & y_pred).sum()) + int((y_true & ~y_pred).sum())
    return 2 * tp / denom if denom else 0.0


@torch.inference_mode()
def predict_proba(model: LSTMClassifier, batches: ReviewBatches, *,
                  device: torch.device | str) -> torch.Tensor:
    """P(positive) per review, in the original review order."""
    model.eval()
    out = torch.empty(batches.n)
    for ids, lengths, order in zip(batches.ids, batches.lengths, batches.order):
        out[order] = torch.sigmoid(model(ids.to(device), lengths.to(device))).float().cpu()
    return out


def evaluate_f1(model: LSTMClassifier, batches: ReviewBatches, *,
                device: torch.device | str) -> float:
    return f1_score(batches.y, predict_proba(model, batches, device=device) >= 0.5)


@dataclass(frozen=True)
class ClfTrainConfig:
    """Hyper-parameters of classifier fine-tuning."""

    epochs: int
    batch_size: int
    lr: float
    target_f1: float | None = None
    clip: float = 1.0


def train_classifier(
    model: LSTMClassifier,
    train_seqs: Sequence[np.ndarray],
    train_labels: np.ndarray,
    *,
    cfg: ClfTrainConfig,
    eval_sets: dict[str, ReviewBatches],
    device: torch.device | str,
    seed: int = 0,
    monitor: str | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Fine-tune `model` (BCE on the last real state, Adam with the learning rate decaying linearly
    to 10%; embeddings stay frozen).

    After each epoch, F1 is measured on every set in `eval_sets` (logged as ``<name>_f1``). With
    `monitor`, the epoch with the best ``<monitor>_f1`` is restored at the end (its log row has
    ``selected=True``) and training stops early once that F1 reaches ``cfg.target_f1``.
    """
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    lens = np.array([len(s) for s in train_seqs])
    n_batches = -(-len(train_seqs) // cfg.batch_size)
    total_steps = max(1, cfg.epochs * n_batches)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - 0.9 * min(step, total_steps)
                                              / total_steps)
    gen = torch.Generator().manual_seed(seed)
    log: list[dict] = []
    best: tuple[float, int, dict] | None = None
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        torch.manual_seed(seed * 1000 + epoch)
        model.train()
        perm = torch.randperm(len(train_seqs), generator=gen).numpy()
        chunk = cfg.batch_size * 50
        batches = []
        for c in range(0, len(perm), chunk):
            part = perm[c:c + chunk]
            part = part[np.argsort(-lens[part], kind="stable")]
            batches += [part[i:i + cfg.batch_size] for i in range(0, len(part), cfg.batch_size)]
        batches = [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]
        total, count = 0.0, 0
        bar = tqdm(batches, desc=f"classifier epoch {epoch}/{cfg.epochs}", unit="batch", leave=False)
        for idx in bar:
            ids, lengths = pad([train_seqs[j] for j in idx])
            y = torch.as_tensor(train_labels[idx], dtype=torch.float32, device=device)
            logits = model(ids.to(device), lengths.to(device))
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, cfg.clip)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
            bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
        row = {"model": "classifier", "epoch": epoch, "train_loss": total / max(count, 1)}
        for name, b in eval_sets.items():
            row[f"{name}_f1"] = evaluate_f1(model, b, device=device)
        row["seconds"] = time.time() - t0
        row["selected"] = monitor is None
        log.append(row)
        tqdm.write("classifier epoch {}: loss {:.3f}, {}".format(
            epoch, row["train_loss"],
            ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k.endswith("_f1"))))
        if progress is not None:
            progress(row)
        if monitor is not None:
            score = row[f"{monitor}_f1"]
            if best is None or score > best[0]:
                best = (score, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
            if cfg.target_f1 is not None and score >= cfg.target_f1:
                break
    if best is not None:
        model.load_state_dict(best[2])
        log[best[1] - 1]["selected"] = True
    elif log:
        log[-1]["selected"] = True
    return log


def selected_row(log: list[dict]) -> dict:
    """The log row of the classifier epoch that was kept."""
    return next(r for r in reversed(log) if r.get("selected"))
