"""Recording (DESIGN §2.1): per token position, the top-k (neuron, activation) pairs of a layer.

`ActivationRecorder` attaches a forward hook to any named submodule of any `torch.nn.Module`
(names are the module paths of `model.named_modules()`, e.g. ``"encoder.rnn"``), so the same
code records an LSTM's hidden states or a transformer block's output. `record_stage` runs
batched inference over a corpus and streams the rows into `StreamingAggregator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn
from tqdm.auto import tqdm

from precompute.aggregate import Aggregates, StreamingAggregator, TopContexts, decode_pos


def hook_points(model: nn.Module) -> list[str]:
    """Names of every submodule a recorder can attach to."""
    return [name for name, _ in model.named_modules() if name]


class ActivationRecorder:
    """Context manager that captures a named submodule's output as (batch, time, neurons).

    Tuple outputs (``nn.LSTM`` returns ``(output, (h, c))``) contribute their first element;
    time-major outputs of modules with ``batch_first=False`` are transposed.
    """

    def __init__(self, model: nn.Module, layer: str):
        names = dict(model.named_modules())
        if layer not in names or not layer:
            raise KeyError(
                f"model has no submodule {layer!r}; hook points are: {', '.join(hook_points(model))}"
            )
        self.layer = layer
        self.module = names[layer]
        self.activation: torch.Tensor | None = None
        self._handle = None

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        out = output[0] if isinstance(output, tuple) else output
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"output of {self.layer!r} is {type(out).__name__}, not a tensor")
        if out.dim() == 2:
            out = out.unsqueeze(1)
        elif out.dim() == 3 and getattr(module, "batch_first", True) is False:
            out = out.transpose(0, 1)
        self.activation = out.detach()

    def __enter__(self) -> "ActivationRecorder":
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


@dataclass
class StageRecording:
    """What one recording pass produced."""

    aggregates: Aggregates
    contexts: dict[str, np.ndarray]
    n_neurons: int
    n_tokens: int
    n_silent: int
    top_k: int
    weighted: bool
    meta: dict[str, Any] = field(default_factory=dict)


def task_weight(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The classifier's probability for the true class (paper §3.3.1)."""
    return torch.where(y.bool(), y_hat, 1.0 - y_hat)


@torch.inference_mode()
def record_stage(
    model: nn.Module,
    batches: Iterable[Mapping[str, torch.Tensor]],
    *,
    layer: str,
    n_features: int,
    n_pos: int = 0,
    top_k: int = 1,
    device: str | torch.device = "cpu",
    y_hat_fn: Callable[[Any, Mapping[str, torch.Tensor]], torch.Tensor] | None = None,
    contexts_per_neuron: int = 10,
    parquet_path: str | Path | None = None,
    stage: str = "",
    vocab: list[str] | None = None,
    pos_vocab: list[str] | None = None,
    total: int | None = None,
    desc: str = "record",
) -> StageRecording:
    """Run `model` over `batches` and aggregate the top-k activations of `layer`.

    Each batch is a mapping with ``input_ids`` (B, T) fed to the model, ``features`` (B, T)
    feature ids in [0, n_features), optional ``pos`` (B, T) ids in [0, n_pos) or -1,
    ``mask`` (B, T) bool of real tokens, ``seq_id`` (B,), optional ``offset`` (B,) position of
    the first column within its sequence, optional ``y`` (B,) labels and ``model_kwargs``.
    With `y_hat_fn` (model output, batch) -> P(positive) per sequence, rows are task-weighted.
    With `parquet_path`, every raw row is also written there (import-records format).
    """
    if top_k < 1:
        raise ValueError("top_k must be >= 1")
    model.eval().to(device)
    agg: StreamingAggregator | None = None
    ctx = TopContexts(contexts_per_neuron)
    writer: pq.ParquetWriter | None = None
    n_neurons = n_tokens = n_silent = 0
    weighted = y_hat_fn is not None
    try:
        with ActivationRecorder(model, layer) as rec:
            for batch in tqdm(batches, total=total, desc=desc, unit="batch", leave=False):
                inputs = batch["input_ids"].to(device)
                out = model(inputs, **batch.get("model_kwargs", {}))
                acts = rec.activation
                if acts is None:
                    raise RuntimeError(f"layer {layer!r} did not run during the forward pass")
                mask = batch["mask"].to(acts.device).bool()
                if acts.shape[:2] != mask.shape:
                    raise ValueError(
                        f"layer {layer!r} output has shape {tuple(acts.shape)}, "
                        f"expected (batch, time) = {tuple(mask.shape)}"
                    )
                if agg is None:
                    n_neurons = acts.shape[-1]
                    if top_k > n_neurons:
                        raise ValueError(f"top_k={top_k} exceeds the layer width {n_neurons}")
                    agg = StreamingAggregator(n_neurons=n_neurons, n_tokens=n_features,
                                              n_pos=n_pos, weighted=weighted)
                values, neurons = acts.float().topk(top_k, dim=-1)
                b, t = mask.shape
                feats = batch["features"].to(acts.device)
                pos = batch["pos"].to(acts.device) if "pos" in batch else torch.full_like(feats, -1)
                offset = batch.get("offset", torch.zeros(b, dtype=torch.long)).to(acts.device)
                positions = offset[:, None] + torch.arange(t, device=acts.device)[None, :]
                seq = batch["seq_id"].to(acts.device)[:, None].expand(b, t)
                y_hat = y = weight = None
                if weighted:
                    y_hat = y_hat_fn(out, batch).reshape(-1).float().to(acts.device)
                    y = batch["y"].reshape(-1).to(acts.device)
                    weight = task_weight(y_hat, y)[:, None].expand(b, t)

                def sel(x: torch.Tensor) -> torch.Tensor:
                    return x[mask]

                m_vals, m_neur = values[mask], neurons[mask]
                m_feat = sel(feats)[:, None].expand(-1, top_k)
                m_pos = sel(pos)[:, None].expand(-1, top_k)
                m_w = sel(weight)[:, None].expand(-1, top_k) if weighted else None
                n_tokens += int(m_vals.shape[0])
                n_silent += int((m_vals[:, 0] <= 0).sum())
                agg.update(m_neur, m_feat, m_vals, pos=m_pos, weight=m_w)
                ctx.update(m_neur[:, 0], m_vals[:, 0], sel(seq), sel(positions), sel(feats))
                if parquet_path is not None:
                    writer = _write_rows(
                        writer, parquet_path, stage, vocab, pos_vocab, m_feat, m_pos, m_neur,
                        m_vals, sel(seq), sel(positions),
                        None if y_hat is None else y_hat[:, None].expand(b, t)[mask],
                        None if y is None else y[:, None].expand(b, t)[mask],
                    )
    finally:
        if writer is not None:
            writer.close()
    if agg is None:
        raise ValueError("the corpus produced no batches to record")
    return StageRecording(
        aggregates=agg.result(),
        contexts=ctx.result(),
        n_neurons=n_neurons,
        n_tokens=n_tokens,
        n_silent=n_silent,
        top_k=top_k,
        weighted=weighted,
    )


def _write_rows(writer, path, stage, vocab, pos_vocab, feat, pos, neur, vals, seq, positions,
                y_hat, y):
    """Append one batch of raw rows (one per token and rank) to a Parquet file."""
    if vocab is None:
        raise ValueError("writing raw rows needs the feature vocabulary")
    k = neur.shape[1]
    cols = {
        "stage": pa.array(np.full(neur.numel(), stage, dtype=object), type=pa.string()),
        "token": pa.array(vocab, type=pa.string()).take(pa.array(feat.reshape(-1).cpu().numpy())),
        "pos": decode_pos(pos.reshape(-1).cpu().numpy(), pos_vocab),
        "neuron": pa.array(neur.reshape(-1).cpu().numpy().astype(np.int32)),
        "activation": pa.array(vals.reshape(-1).cpu().numpy().astype(np.float64)),
        "rank": pa.array(np.tile(np.arange(k, dtype=np.int32), neur.shape[0])),
        "seq_id": pa.array(seq.repeat_interleave(k).cpu().numpy()),
        "position": pa.array(positions.repeat_interleave(k).cpu().numpy().astype(np.int32)),
    }
    if y_hat is not None:
        cols["y_hat"] = pa.array(y_hat.repeat_interleave(k).cpu().numpy().astype(np.float64))
        cols["y"] = pa.array(y.repeat_interleave(k).cpu().numpy().astype(np.int32))
    table = pa.table(cols)
    if writer is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = pq.ParquetWriter(str(path), table.schema)
    writer.write_table(table)
    return writer


def write_recording(writer, stage: str, rec: StageRecording, *, vocab: list[str],
                    pos_vocab: list[str] | None, kind: str, **stage_info: Any) -> None:
    """Add a recorded stage (aggregates + top contexts) to an `AnalysisWriter`."""
    writer.add_stage(
        stage, kind=kind, n_neurons=rec.n_neurons, n_tokens=rec.n_tokens, n_silent=rec.n_silent,
        feature_stats=rec.aggregates.to_arrow(vocab, pos_vocab), top_k=rec.top_k,
        has_labels=rec.weighted, **stage_info,
    )
    c = rec.contexts
    writer.add_rows("contexts", pa.table({
        "stage": pa.array(np.full(len(c["neuron"]), stage, dtype=object), type=pa.string()),
        "neuron": pa.array(c["neuron"].astype(np.int32)),
        "rank": pa.array(c["rank"].astype(np.int32)),
        "seq_id": pa.array(c["seq_id"]),
        "position": pa.array(c["position"].astype(np.int32)),
        "token": pa.array(vocab, type=pa.string()).take(pa.array(c["token"])),
        "act": pa.array(c["act"]),
    }))
