"""`python -m precompute run`: the paper's three learning setups on WikiText-2 and IMDB.

Phases (each checkpointed under the run folder, so ``--resume`` skips finished ones):

1. data: WikiText-2 and IMDB (local folder or verified download), the LM vocabulary;
2. tagging: PTB POS tags of the recorded text (spaCy, cached per corpus);
3. pretrain (RQ1): LSTM LM on WikiText-2, one snapshot per epoch;
4. finetune (RQ3): the last snapshot's encoder + a linear/sigmoid classifier on IMDB
   (frozen embeddings, no LM loss), F1 on train and test;
5. record: each snapshot fed the first N WikiText-2 tokens (one sequence per WikiText line, fresh
   state per line); the last snapshot fed N IMDB tokens (RQ2, zero-shot); the fine-tuned encoder
   fed the same IMDB text with y_hat and y (task-weighted);
6. pruning (Table 2): sets A-D and random controls;
7. database: stages, measures for every stage pair (paper and reference variants), corpus POS
   frequencies, contexts, sequences, training log, pruning; written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from precompute.cli import UserError
from precompute.models import HOOK_POINT, LSTMClassifier, LSTMLanguageModel
from precompute.presets import (PRESETS, PipelineConfig, add_config_flags, build_config,
                                load_toml, overrides_from_args)
from precompute.pruning import pruning_sets, run_pruning
from precompute.recording import StageRecording, record_stage, write_recording
from precompute.store import AnalysisWriter, default_pairs
from precompute.training import (ClfTrainConfig, LMTrainConfig, ReviewBatches, UNK,
                                 build_vocab, encode, load_snapshot, lookup, lm_checkpoint,
                                 review_batches, selected_row, token_stream, train_classifier,
                                 train_language_model)

WIKI = "wikitext-2"
IMDB = "imdb"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the `run` subcommand."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="base configuration (default: demo, or the TOML file's `preset`)")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE.toml",
                        help="TOML file overriding preset values (keys = the flags below, with _)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with wikitext-2/ and imdb/ (default: $TXRAY_DATA_DIR, else "
                             "the download cache)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="download and POS-tag cache (default: $TXRAY_CACHE_DIR or data/cache)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download; fail if the data is not local")
    parser.add_argument("--out", type=Path, default=None,
                        help="analysis database to write (default: data/<preset>.duckdb)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="checkpoint folder (default: data/runs/<preset>)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the finished phases found in the run folder")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--raw-rows", type=Path, default=None, metavar="DIR",
                        help="also write every recorded row to DIR/<stage>.parquet "
                             "(the import-records format)")
    add_config_flags(parser)


def run_from_args(args: argparse.Namespace) -> int:
    """Entry point of `python -m precompute run`."""
    from precompute.corpora import DataNotFoundError

    try:
        toml = load_toml(args.config) if args.config is not None else {}
        preset = args.preset or toml.get("preset") or "demo"
        cfg = build_config(preset, toml=toml, overrides=overrides_from_args(args))
    except (ValueError, FileNotFoundError) as e:
        raise UserError(str(e)) from None
    out = args.out if args.out is not None else Path("data") / f"{preset}.duckdb"
    if out.exists() and not args.force:
        raise UserError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but PyTorch sees no CUDA device; "
                        "use --device cpu or install a CUDA build of torch")
    try:
        result = run_pipeline(
            cfg, out=out, preset=preset, data_dir=args.data_dir, cache_dir=args.cache_dir,
            download=not args.no_download, run_dir=args.run_dir or Path("data") / "runs" / preset,
            device=args.device, resume=args.resume, force=args.force, raw_rows=args.raw_rows,
        )
    except DataNotFoundError as e:
        raise UserError(str(e)) from None
    print(result.summary)
    return 0


@dataclass
class RunResult:
    """What a pipeline run produced."""

    path: Path
    summary: str
    phase_seconds: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def torch_settings(*, threads: int, device: str) -> Iterator[None]:
    """Deterministic algorithms and a fixed thread count for the run; restored afterwards."""
    prev = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())
    if device == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=device == "cuda")
    try:
        yield
    finally:
        torch.set_num_threads(prev[0])
        torch.use_deterministic_algorithms(prev[1], warn_only=prev[2])


class Phases:
    """Wall time per phase, with a header line per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - t0


def first_tokens(lines: list[list[str]], n: int) -> list[list[str]]:
    """The first `n` tokens of a corpus as its lines (the last one cut)."""
    lens = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    ends = np.cumsum(lens)
    k = int(np.searchsorted(ends, n))
    out = lines[: k + 1]
    if out and ends[min(k, len(ends) - 1)] > n:
        out[-1] = out[-1][: len(out[-1]) - int(ends[k] - n)]
    return [line for line in out if line]


def truncate(tokens: list[list[str]], n: int | None, side: str) -> list[list[str]]:
    if n is None:
        return tokens
    return [t[:n] if side == "first" else t[-n:] for t in tokens]


@dataclass
class Data:
    """Everything the later phases need from the corpora."""

    vocab: list[str]
    train_stream: torch.Tensor
    valid_stream: torch.Tensor
    wiki_lines: list[list[str]]
    clf_train: list[np.ndarray]
    clf_train_y: np.ndarray
    clf_dev: list[np.ndarray]
    clf_dev_y: np.ndarray
    clf_test: list[np.ndarray]
    clf_test_y: np.ndarray
    imdb_lines: list[list[str]]
    imdb_y: np.ndarray


def load_data(cfg: PipelineConfig, *, data_dir: str | None, cache_dir: Path,
              download: bool) -> Data:
    """Corpora, LM vocabulary, the classifier's review subsets and the recorded text."""
    from precompute.corpora import load_imdb, load_wikitext2, tokenize_reviews

    wiki = load_wikitext2(data_dir, cache_dir=cache_dir, download=download)
    imdb = load_imdb(data_dir, cache_dir=cache_dir, download=download)
    vocab = build_vocab(wiki["train"], max_size=cfg.vocab_size)
    stoi = {w: i for i, w in enumerate(vocab)}
    rng = np.random.default_rng(cfg.seed)
    tr, te = imdb["train"], imdb["test"]
    perm = rng.permutation(len(tr))
    dev_idx = perm[: cfg.clf_dev_reviews]
    rest = perm[cfg.clf_dev_reviews:]
    train_idx = rest[: cfg.clf_train_reviews] if cfg.clf_train_reviews is not None else rest
    test_idx = rng.permutation(len(te))
    if cfg.clf_test_reviews is not None:
        test_idx = test_idx[: cfg.clf_test_reviews]

    def reviews(split, idx) -> list[list[str]]:
        toks = tokenize_reviews([split.texts[i] for i in idx.tolist()])
        return [t if t else [UNK] for t in truncate(toks, cfg.max_review_tokens,
                                                    cfg.review_truncation)]

    train_tok = reviews(tr, train_idx)
    train_y = np.asarray(tr.labels)[train_idx].astype(np.int64)
    imdb_lines = first_tokens(list(train_tok), cfg.record_tokens)
    return Data(
        vocab=vocab,
        train_stream=token_stream(wiki["train"], stoi, max_tokens=cfg.lm_train_tokens),
        valid_stream=token_stream(wiki["valid"], stoi, max_tokens=cfg.lm_valid_tokens),
        wiki_lines=first_tokens(list(wiki["train"]), cfg.record_tokens),
        clf_train=encode(train_tok, stoi), clf_train_y=train_y,
        clf_dev=encode(reviews(tr, dev_idx), stoi),
        clf_dev_y=np.asarray(tr.labels)[dev_idx].astype(np.int64),
        clf_test=encode(reviews(te, test_idx), stoi),
        clf_test_y=np.asarray(te.labels)[test_idx].astype(np.int64),
        imdb_lines=imdb_lines, imdb_y=train_y[: len(imdb_lines)],
    )


def sequence_batches(ids: list[np.ndarray], *, pos: list[np.ndarray] | None,
                     labels: np.ndarray | None, batch_size: int,
                     model_kwargs: str) -> list[dict[str, Any]]:
    """Recording batches (sorted by length, right-padded); seq_id = index in `ids`.

    `model_kwargs` is ``"lm"`` (hidden states only) or ``"classifier"`` (lengths).
    """
    lens = np.array([len(s) for s in ids])
    order = np.argsort(-lens, kind="stable")
    batches = []
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        lengths = torch.from_numpy(lens[idx])
        t = int(lengths.max())
        mask = torch.arange(t)[None, :] < lengths[:, None]
        x = torch.zeros((len(idx), t), dtype=torch.long)
        x[mask] = torch.from_numpy(np.concatenate([ids[j] for j in idx]))
        b: dict[str, Any] = {"input_ids": x, "features": x, "mask": mask,
                             "seq_id": torch.from_numpy(idx.astype(np.int64))}
        if pos is not None:
            p = torch.full((len(idx), t), -1, dtype=torch.long)
            p[mask] = torch.from_numpy(np.concatenate([pos[j] for j in idx]).astype(np.int64))
            b["pos"] = p
        if labels is not None:
            b["y"] = torch.from_numpy(labels[idx])
        b["model_kwargs"] = {"decode": False} if model_kwargs == "lm" else {"lengths": lengths}
        batches.append(b)
    return batches


def _tag_ids(tags: list[list[str]] | None, pos_vocab: list[str]) -> list[np.ndarray] | None:
    if tags is None:
        return None
    return lookup(tags, pos_vocab, missing=-1)


def _pickle_load(path: Path) -> Any:
    with path.open("rb") as f:
        return pickle.load(f)


def _pickle_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _check_run_dir(run_dir: Path, cfg: PipelineConfig, *, resume: bool) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    current = {k: v for k, v in cfg.to_dict().items() if k != "threads"}
    if resume and path.exists():
        saved = json.loads(path.read_text())
        diff = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        if diff:
            raise UserError(
                f"--resume: the run folder {run_dir} was made with a different configuration "
                f"(differs in {diff}); rerun without --resume, or use another --run-dir")
    path.write_text(json.dumps(current, indent=1, sort_keys=True))


def run_pipeline(cfg: PipelineConfig, *, out: Path, preset: str = "custom",
                 data_dir: str | None = None, cache_dir: Path | None = None,
                 download: bool = True, run_dir: Path, device: str = "cpu",
                 resume: bool = False, force: bool = False,
                 raw_rows: Path | None = None) -> RunResult:
    """Run every phase and write the analysis database `out` (atomically); with `raw_rows`,
    also every recorded row as Parquet (one file per stage)."""
    from precompute.corpora import default_cache_dir
    from precompute.tagging import PTB_TAGS, get_tagger, tag_corpus

    t_start = time.perf_counter()
    out, run_dir = Path(out), Path(run_dir)
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    _check_run_dir(run_dir, cfg, resume=resume)
    phase = Phases()
    with torch_settings(threads=cfg.threads, device=device):
        torch.manual_seed(cfg.seed)
        with phase("data"):
            data = load_data(cfg, data_dir=data_dir, cache_dir=cache_dir, download=download)
        print(f"   vocabulary {len(data.vocab)}, LM train {data.train_stream.numel():,} tokens, "
              f"classifier {len(data.clf_train)} train / {len(data.clf_dev)} dev / "
              f"{len(data.clf_test)} test reviews")

        with phase("tagging"):
            tagger = get_tagger(cfg.tagger)
            pos_vocab = list(PTB_TAGS) if cfg.tagger != "none" else None
            wiki_tags = tag_corpus(data.wiki_lines, tagger, cache_dir=cache_dir,
                                   key="wikitext2-recorded")
            imdb_tags = tag_corpus(data.imdb_lines, tagger, cache_dir=cache_dir,
                                   key="imdb-recorded")

        lm = LSTMLanguageModel(vocab_size=len(data.vocab), emb_dim=cfg.emb_dim,
                               hidden=cfg.hidden, dropout=cfg.dropout, emb_init=cfg.emb_init)
        with phase("pretrain"):
            lm_log = train_language_model(
                lm, data.train_stream, data.valid_stream,
                cfg=LMTrainConfig(epochs=cfg.lm_epochs, batch_size=cfg.lm_batch_size,
                                  bptt=cfg.lm_bptt, lr=cfg.lm_lr, clip=cfg.lm_clip,
                                  optimizer=cfg.lm_optimizer),
                run_dir=run_dir, keep_epochs=cfg.snapshots, device=device, resume=resume,
                seed=cfg.seed)
        last = max(cfg.snapshots)

        eval_sets = {
            "train": review_batches(data.clf_train[: cfg.f1_train_reviews],
                                    data.clf_train_y[: cfg.f1_train_reviews],
                                    batch_size=cfg.eval_batch_size),
            "test": review_batches(data.clf_test, data.clf_test_y, batch_size=cfg.eval_batch_size),
        }
        if data.clf_dev:
            eval_sets["dev"] = review_batches(data.clf_dev, data.clf_dev_y,
                                              batch_size=cfg.eval_batch_size)
        clf_path = run_dir / "classifier.pt"
        with phase("finetune"):
            load_snapshot(lm, run_dir, last, device)
            clf = LSTMClassifier.from_language_model(lm, dropout=cfg.clf_dropout)
            if resume and clf_path.exists():
                saved = torch.load(clf_path, map_location=device, weights_only=False)
                clf.load_state_dict(saved["model"])
                clf_log = saved["log"]
            else:
                torch.manual_seed(cfg.seed)
                clf_log = train_classifier(
                    clf, data.clf_train, data.clf_train_y,
                    cfg=ClfTrainConfig(epochs=cfg.clf_epochs, batch_size=cfg.clf_batch_size,
                                       lr=cfg.clf_lr, target_f1=cfg.clf_target_f1),
                    eval_sets=eval_sets, device=device, seed=cfg.seed,
                    monitor="dev" if "dev" in eval_sets else None)
                tmp = clf_path.with_name(clf_path.name + ".tmp")
                torch.save({"model": clf.state_dict(), "log": clf_log}, tmp)
                tmp.replace(clf_path)
            eval_sets.pop("dev", None)

        wiki_ids = encode(data.wiki_lines, {w: i for i, w in enumerate(data.vocab)})
        imdb_ids = encode(data.imdb_lines, {w: i for i, w in enumerate(data.vocab)})
        wiki_pos, imdb_pos = _tag_ids(wiki_tags, pos_vocab or []), _tag_ids(imdb_tags, pos_vocab or [])
        stage_specs = [
            dict(stage=f"wiki_ep{e}", kind="pretrain", model="lm", epoch=e, corpus=WIKI,
                 checkpoint=str(lm_checkpoint(run_dir, e)))
            for e in sorted(cfg.snapshots)
        ] + [
            dict(stage="imdb_zero_shot", kind="zero_shot", model="lm", epoch=last, corpus=IMDB,
                 checkpoint=str(lm_checkpoint(run_dir, last))),
            dict(stage="imdb_supervised", kind="supervised", model="classifier",
                 epoch=selected_row(clf_log)["epoch"], corpus=IMDB, checkpoint=str(clf_path)),
        ]
        recordings: dict[str, StageRecording] = {}
        with phase("record"):
            for spec in stage_specs:
                path = run_dir / f"record_{spec['stage']}.pkl"
                if resume and path.exists():
                    recordings[spec["stage"]] = _pickle_load(path)
                    continue
                wiki = spec["corpus"] == WIKI
                if spec["kind"] == "supervised":
                    model, kw, y_hat_fn = clf, "classifier", (lambda out, b: torch.sigmoid(out))
                else:
                    model = load_snapshot(lm, run_dir, spec["epoch"], device)
                    kw, y_hat_fn = "lm", None
                batches = sequence_batches(
                    wiki_ids if wiki else imdb_ids, pos=wiki_pos if wiki else imdb_pos,
                    labels=None if wiki else data.imdb_y, batch_size=cfg.record_batch_size,
                    model_kwargs=kw)
                rec = record_stage(
                    model, batches, layer=HOOK_POINT, n_features=len(data.vocab),
                    n_pos=len(pos_vocab or []), top_k=cfg.top_k, device=device,
                    y_hat_fn=y_hat_fn, contexts_per_neuron=cfg.contexts_per_neuron,
                    total=len(batches), desc=f"record {spec['stage']}",
                    parquet_path=None if raw_rows is None else raw_rows / f"{spec['stage']}.parquet",
                    stage=spec["stage"], vocab=data.vocab, pos_vocab=pos_vocab)
                _pickle_save(rec, path)
                recordings[spec["stage"]] = rec

        prune_path = run_dir / "pruning.pkl"
        with phase("pruning"):
            if resume and prune_path.exists():
                pruning = _pickle_load(prune_path)
            else:
                mass = {s: _mass(recordings[s], cfg.hidden)
                        for s in ("imdb_zero_shot", "imdb_supervised")}
                sets = pruning_sets(mass["imdb_supervised"], mass["imdb_zero_shot"] > 0,
                                    k=cfg.prune_k)
                prune_eval = {
                    "train": _subset(data.clf_train, data.clf_train_y, cfg.prune_train_reviews,
                                     cfg.f1_train_reviews, cfg.eval_batch_size),
                    "test": _subset(data.clf_test, data.clf_test_y, cfg.prune_test_reviews,
                                    None, cfg.eval_batch_size),
                }
                pruning = run_pruning(clf, sets, mass=mass["imdb_supervised"],
                                      eval_sets=prune_eval, seeds=cfg.prune_seeds,
                                      seed=cfg.seed, device=device)
                _pickle_save(pruning, prune_path)

        with phase("database"):
            with AnalysisWriter(out, force=force) as w:
                w.set_meta(config=cfg.to_dict(), preset=preset, device=device,
                           recording={"wikitext-2": "first record_tokens tokens of the train split, "
                                                    "one sequence per line, fresh state per line",
                                      "imdb": "training reviews (tokenized, truncated as for the "
                                              "classifier) up to record_tokens tokens"},
                           vocab_size=len(data.vocab))
                for spec in stage_specs:
                    write_recording(w, spec["stage"], recordings[spec["stage"]], vocab=data.vocab,
                                    pos_vocab=pos_vocab, kind=spec["kind"], model=spec["model"],
                                    checkpoint=spec["checkpoint"], corpus=spec["corpus"],
                                    epoch=spec["epoch"], layer=HOOK_POINT)
                w.add_rows("sequences", _sequences(WIKI, data.wiki_lines, wiki_ids, data.vocab, None))
                w.add_rows("sequences", _sequences(IMDB, data.imdb_lines, imdb_ids, data.vocab,
                                                   data.imdb_y))
                if pos_vocab is not None:
                    w.add_rows("corpus_pos", pd.concat([
                        _corpus_pos(WIKI, wiki_pos, pos_vocab), _corpus_pos(IMDB, imdb_pos, pos_vocab)]))
                w.add_rows("training_log", _training_log(lm_log, clf_log))
                w.add_rows("pruning", pruning)
                w.compute_measures(default_pairs(w.stages), variants=("paper", "reference"))
                figures = collect_figures(w, stage_specs, cfg)
        phase.seconds["total"] = time.perf_counter() - t_start
        kept = selected_row(clf_log)
        figures["f1_train"], figures["f1_test"] = kept.get("train_f1"), kept.get("test_f1")
        figures["clf_epoch"] = kept["epoch"]
        summary = format_summary(figures, pruning, phase.seconds, out)
    return RunResult(path=out, summary=summary, phase_seconds=phase.seconds, figures=figures)


def _mass(rec: StageRecording, n_neurons: int) -> np.ndarray:
    """Activation mass per neuron (rows with activation > 0; rank-0 and top-k ranks alike)."""
    a = rec.aggregates
    return np.bincount(a.neuron.astype(np.int64), weights=a.sum_act, minlength=n_neurons)


def _subset(seqs, labels, n, within, batch_size) -> ReviewBatches:
    limit = n if n is not None else within
    return review_batches(seqs[:limit], labels[:limit], batch_size=batch_size)


def _sequences(corpus: str, lines: list[list[str]], ids: list[np.ndarray], vocab: list[str],
               labels: np.ndarray | None) -> pa.Table:
    """One row per recorded sequence, tokens as the model saw them (out-of-vocabulary -> <unk>)."""
    v = np.asarray(vocab, dtype=object)
    lengths = np.array([len(x) for x in ids], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = pa.array(v[np.concatenate(ids)].tolist() if ids else [], type=pa.string())
    return pa.table({
        "corpus": pa.array([corpus] * len(ids), type=pa.string()),
        "seq_id": pa.array(np.arange(len(ids), dtype=np.int64)),
        "tokens": pa.ListArray.from_arrays(pa.array(offsets), flat),
        "label": (pa.nulls(len(ids), type=pa.int32()) if labels is None
                  else pa.array(labels.astype(np.int32))),
    })


def _corpus_pos(corpus: str, pos: list[np.ndarray], pos_vocab: list[str]) -> pd.DataFrame:
    flat = np.concatenate(pos)
    counts = np.bincount(flat[flat >= 0], minlength=len(pos_vocab))
    keep = counts > 0
    return pd.DataFrame({"corpus": corpus, "pos": np.asarray(pos_vocab, dtype=object)[keep],
                         "count": counts[keep].astype(np.int64)})


def _training_log(lm_log: list[dict], clf_log: list[dict]) -> pd.DataFrame:
    cols = ["model", "epoch", "train_loss", "valid_loss", "valid_ppl", "train_f1", "test_f1",
            "seconds"]
    df = pd.DataFrame(lm_log + clf_log)
    for c in cols:
        if c not in df:
            df[c] = np.nan
    return df[cols]


def _key_pairs(stage_specs: list[dict]) -> list[tuple[str, str, str]]:
    """(label, stage_a, stage_b) for the summary: early vs late, consecutive late, RQ2, RQ3."""
    wiki = [s["stage"] for s in stage_specs if s["kind"] == "pretrain"]
    pairs = []
    if len(wiki) >= 2:
        pairs.append(("early vs late", wiki[0], wiki[-2] if len(wiki) >= 3 else wiki[-1]))
    if len(wiki) >= 3:
        pairs.append(("consecutive late", wiki[-2], wiki[-1]))
    pairs.append(("wiki vs IMDB zero-shot", wiki[-1], "imdb_zero_shot"))
    pairs.append(("zero-shot vs supervised", "imdb_zero_shot", "imdb_supervised"))
    return pairs


def collect_figures(writer, stage_specs: list[dict], cfg: PipelineConfig) -> dict[str, Any]:
    """The headline numbers of the run, read back from the database being written."""
    figures = writer.headline_figures([(a, b) for _, a, b in _key_pairs(stage_specs)],
                                      zero_shot="imdb_zero_shot", supervised="imdb_supervised")
    figures["pairs"].insert(0, "pair", [label for label, _, _ in _key_pairs(stage_specs)])
    figures["n_neurons"] = cfg.hidden
    return figures


def _table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    cells = [[str(c) for c in df.columns]]
    for rec in df.itertuples(index=False):
        cells.append([_fmt(v, formats.get(c)) for c, v in zip(df.columns, rec)])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any, spec: str | None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if spec:
        return format(v, spec)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_summary(figures: dict[str, Any], pruning: pd.DataFrame, seconds: dict[str, float],
                   out: Path) -> str:
    """The plain-text summary printed at the end of a run."""
    n = figures["n_neurons"]
    st = figures["stages"].rename(columns={"n_tokens": "tokens", "n_silent": "silent",
                                           "mean_len": "mean alive length"})
    st["alive"] = st["alive"].map(lambda a: f"{a}/{n}")
    pr = pruning.assign(
        am=lambda d: 100 * d["am_share"],
        rnd_train=lambda d: [_pm(m, s) for m, s in zip(d.random_rel_train_mean, d.random_rel_train_std)],
        rnd_test=lambda d: [_pm(m, s) for m, s in zip(d.random_rel_test_mean, d.random_rel_test_std)],
    )[["experiment", "description", "n", "am", "rel_change_train", "rel_change_test",
       "rnd_train", "rnd_test"]].rename(columns={
           "am": "% AM", "rel_change_train": "dF1% train", "rel_change_test": "dF1% test",
           "rnd_train": "random train", "rnd_test": "random test"})
    times = pd.DataFrame({"phase": list(seconds), "seconds": list(seconds.values())})
    parts = [
        f"TX-Ray run summary -> {out}",
        "",
        "Stages (token distributions):",
        _table(st, {"mean alive length": ".2f"}),
        "",
        "Stage comparisons (Hellinger, paper variant; alive = defined in both stages):",
        _table(figures["pairs"][["pair", "stage_a", "stage_b", "alive", "mean_h", "mean_len_a",
                                 "mean_len_b"]],
               {"mean_h": ".4f", "mean_len_a": ".2f", "mean_len_b": ".2f"}),
        "",
        f"Supervision-added neurons (dead zero-shot, alive supervised): {figures['supervision_added']}",
        f"Classifier F1 (epoch {figures.get('clf_epoch')}): "
        f"train {_fmt(figures.get('f1_train'), '.4f')}, test {_fmt(figures.get('f1_test'), '.4f')}",
        "",
        "Pruning (relative F1 change %, random control mean ± std):",
        _table(pr, {"% AM": ".2f", "dF1% train": "+.2f", "dF1% test": "+.2f"}),
        "",
        "Wall time per phase (s):",
        _table(times, {"seconds": ".1f"}),
    ]
    return "\n".join(parts)


def _pm(mean: Any, std: Any) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "-"
    return f"{mean:+.2f} ± {std:.2f}"
