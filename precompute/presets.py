"""Pipeline configuration: the `paper` and `demo` presets, TOML files and command-line overrides.

Precedence: preset < ``--config FILE.toml`` < individual flags. Every field of `PipelineConfig`
is a flag (``--lm-epochs 3``); optional values accept ``none``. The effective configuration is
stored in the analysis database (``meta.config``).
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that determines a pipeline run's result (plus `threads`, which does not on CPU)."""

    seed: int = 1234
    threads: int = 2
    tagger: str = "spacy"
    # Encoder and language model (RQ1).
    vocab_size: int | None = None
    emb_dim: int = 1500
    emb_init: float | None = 0.1
    hidden: int = 1500
    dropout: float = 0.65
    lm_epochs: int = 50
    lm_batch_size: int = 20
    lm_bptt: int = 50
    lm_optimizer: str = "sgd"
    lm_lr: float = 20.0
    lm_clip: float = 0.25
    lm_train_tokens: int | None = None
    lm_valid_tokens: int | None = None
    snapshots: tuple[int, ...] = (1, 48, 49)
    # Recording (all stages).
    record_tokens: int = 400_000
    record_batch_size: int = 64
    top_k: int = 1
    contexts_per_neuron: int = 10
    # Classifier (RQ3).
    max_review_tokens: int | None = None
    review_truncation: str = "last"
    clf_train_reviews: int | None = None
    clf_dev_reviews: int = 2500
    clf_test_reviews: int | None = None
    f1_train_reviews: int | None = None
    clf_epochs: int = 10
    clf_batch_size: int = 32
    clf_lr: float = 1e-3
    clf_dropout: float = 0.0
    clf_target_f1: float | None = 0.80
    eval_batch_size: int = 256
    # Pruning (Table 2).
    prune_k: int = 20
    prune_seeds: int = 5
    prune_train_reviews: int | None = None
    prune_test_reviews: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.tagger not in ("spacy", "none"):
            problems.append(f"tagger must be spacy or none, not {self.tagger!r}")
        if self.lm_optimizer not in ("sgd", "adam"):
            problems.append(f"lm_optimizer must be sgd or adam, not {self.lm_optimizer!r}")
        if self.review_truncation not in ("first", "last"):
            problems.append(f"review_truncation must be first or last, not {self.review_truncation!r}")
        if not self.snapshots:
            problems.append("snapshots must list at least one epoch")
        elif min(self.snapshots) < 1 or max(self.snapshots) > self.lm_epochs:
            problems.append(f"snapshots {list(self.snapshots)} must lie in 1..lm_epochs={self.lm_epochs}")
        elif len(set(self.snapshots)) != len(self.snapshots):
            problems.append(f"snapshots {list(self.snapshots)} repeat an epoch")
        if self.top_k < 1 or self.top_k > self.hidden:
            problems.append(f"top_k must be in 1..hidden={self.hidden}")
        if self.prune_seeds < 1:
            problems.append("prune_seeds must be >= 1")
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, int) and not isinstance(v, bool) and v < 0:
                problems.append(f"{f.name} must not be negative")
        if problems:
            raise ValueError("invalid configuration: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["snapshots"] = list(self.snapshots)
        return d


PAPER = PipelineConfig()
"""DESIGN §3: 1-layer LSTM, 1500 units, ~50 epochs on the full WikiText-2 (SGD lr 20, clip 0.25,
batch 20, BPTT 50 as in the authors' lstm_lm.py; embedding 1500 and dropout 0.65 as in the
pytorch/examples "large" LM), snapshots 1/48/49, the first 400,000 tokens per stage, classifier
fine-tuned on all of IMDB train until ~80% F1, evaluated on all of IMDB test. Needs a GPU."""

DEMO = dataclasses.replace(
    PAPER,
    vocab_size=10_000,
    emb_dim=64,
    emb_init=None,
    hidden=128,
    dropout=0.2,
    lm_epochs=6,
    lm_batch_size=32,
    lm_bptt=35,
    lm_train_tokens=100_000,
    lm_valid_tokens=30_000,
    snapshots=(1, 5, 6),
    record_tokens=40_000,
    max_review_tokens=128,
    clf_train_reviews=None,
    clf_dev_reviews=1000,
    clf_test_reviews=2000,
    f1_train_reviews=1000,
    clf_epochs=3,
    clf_batch_size=32,
    clf_lr=3e-3,
    clf_target_f1=None,
    prune_train_reviews=500,
    prune_test_reviews=1000,
)
"""Scaled down for a 2-core CPU in <= 5 minutes: 128 units, 10k-word vocabulary, 6 short epochs
(the paper's SGD recipe) over the first 100k WikiText-2 tokens, 40k tokens per stage, 24k reviews
cut to their last 128 tokens, 3 classifier epochs (best on 1k dev reviews). Embeddings start
N(0, 1) so that, frozen, they still feed the classifier after such a short pretraining."""

PRESETS: dict[str, PipelineConfig] = {"paper": PAPER, "demo": DEMO}


def _base_type(tp: Any) -> tuple[type, bool, bool]:
    """(scalar type, optional?, sequence?) of a field annotation."""
    optional = False
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        optional = True
        tp = next(a for a in args if a is not type(None))
    if typing.get_origin(tp) is tuple:
        return typing.get_args(tp)[0], optional, True
    return tp, optional, False


_HINTS = typing.get_type_hints(PipelineConfig)


def _coerce(name: str, value: Any) -> Any:
    """Check/convert one value (from TOML or a flag) to the field's type."""
    scalar, optional, seq = _base_type(_HINTS[name])
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if not optional:
            raise ValueError(f"{name} cannot be none")
        return None
    if seq:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return tuple(_scalar(name, scalar, v) for v in value)
    return _scalar(name, scalar, value)


def _scalar(name: str, scalar: type, value: Any) -> Any:
    if scalar is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if scalar is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if scalar is str and isinstance(value, str):
        return value
    if isinstance(value, str):
        try:
            return scalar(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be {scalar.__name__}, got {value!r}")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Overrides from a TOML file: top-level keys named like the config fields (an optional
    ``preset = "demo"`` key selects the base preset)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"config file {p} does not exist")
    with p.open("rb") as f:
        data = tomllib.load(f)
    known = {f.name for f in fields(PipelineConfig)} | {"preset"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{p}: unknown config key(s) {unknown}; known keys: {sorted(known)}")
    return data


def build_config(preset: str, *, toml: dict[str, Any] | None = None,
                 overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """preset < TOML values < explicit overrides (None-valued overrides are ignored only if absent)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    values: dict[str, Any] = {}
    for source in (toml or {}, overrides or {}):
        for k, v in source.items():
            if k == "preset":
                continue
            values[k] = _coerce(k, v)
    return dataclasses.replace(PRESETS[preset], **values)


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field; unset flags do not appear in the parsed namespace."""
    group = parser.add_argument_group("configuration overrides (default: the preset's value)")
    for f in fields(PipelineConfig):
        scalar, optional, seq = _base_type(_HINTS[f.name])
        default = getattr(DEMO, f.name), getattr(PAPER, f.name)
        help_ = f"{scalar.__name__}{' list' if seq else ''}{' or none' if optional else ''}; " \
                f"demo {_show(default[0])}, paper {_show(default[1])}"
        kwargs: dict[str, Any] = {"dest": f"cfg_{f.name}", "default": argparse.SUPPRESS,
                                  "help": help_, "metavar": f.name.upper()}
        if seq:
            kwargs["nargs"] = "+"
        group.add_argument(flag_name(f.name), **kwargs)


def _show(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, tuple) else str(v)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config values given as flags."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_")}


__all__ = ["PipelineConfig", "PAPER", "DEMO", "PRESETS", "build_config", "load_toml",
           "add_config_flags", "overrides_from_args"]
