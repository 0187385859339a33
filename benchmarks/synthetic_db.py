"""Synthetic TX-Ray analysis databases with the real schema, for tests and benchmarks.

The rows are written through `precompute.store.AnalysisWriter`, so the schema and all measures
(distributions, neuron_stats, comparisons) are exactly those of a real run; only the recorded
activations are simulated (vectorised numpy, no loops over neurons or tokens):

* a Zipfian token stream per corpus (WikiText-like and IMDB-like), real function words at the
  top ranks and pronounceable pseudo-words below, each with a Penn Treebank tag (some ambiguous);
* per stage an alive set of neurons and a token -> preferred-neuron map that drifts between
  stages (epoch 48 and 49 nearly identical, epoch 1 far from both, supervision revives a few
  zero-shot-dead neurons), so Hellinger and length shifts have realistic structure;
* contexts, sequences (with IMDB labels), corpus POS counts, a training log, and pruning rows
  (sets A-D derived from the stored neuron statistics, F1 changes simulated), both distance
  variants.

    python benchmarks/synthetic_db.py --scale paper --out data/synthetic_paper.duckdb
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from precompute.store import AnalysisWriter  # noqa: E402

FUNCTION_WORDS = [
    ("the", "DT"), (",", ","), (".", "."), ("of", "IN"), ("and", "CC"), ("in", "IN"),
    ("to", "TO"), ("a", "DT"), ("<unk>", "NN"), ("was", "VBD"), ("@-@", "HYPH"), ("is", "VBZ"),
    ("'s", "POS"), ("for", "IN"), ("on", "IN"), ("as", "IN"), ("with", "IN"), ("by", "IN"),
    ("that", "WDT"), ("he", "PRP"), ("it", "PRP"), ("his", "PRP$"), ("at", "IN"), ("from", "IN"),
    ("were", "VBD"), ("an", "DT"), ("had", "VBD"), ("which", "WDT"), ("be", "VB"),
    ("this", "DT"), ("but", "CC"), ("are", "VBP"), ("not", "RB"), ("(", "-LRB-"), (")", "-RRB-"),
    ("they", "PRP"), ("first", "JJ"), ("one", "CD"), ("also", "RB"), ("has", "VBZ"),
    ("film", "NN"), ("movie", "NN"), ("good", "JJ"), ("bad", "JJ"), ("great", "JJ"),
    ("very", "RB"), ("would", "MD"), ("can", "MD"), ("after", "IN"), ("who", "WP"),
]
OPEN_TAGS = np.array(["NN", "NNS", "NNP", "JJ", "VB", "VBD", "VBG", "VBN", "VBZ", "RB", "CD",
                      "JJR", "NNPS", "VBP"])
OPEN_P = np.array([24, 10, 20, 12, 5, 7, 4, 4, 3, 5, 4, 1, 0.5, 0.5])
SYLLABLES = np.array(["ka", "lo", "mi", "ren", "sa", "tor", "vel", "an", "dri", "pe", "qu", "os",
                      "lin", "mar", "bel", "cor", "den", "fa", "gri", "hul", "ist", "jo", "nu",
                      "ra", "sen", "ti", "um", "wen", "ex", "zo"])


@dataclass(frozen=True)
class Scale:
    """Size of a synthetic analysis."""

    n_neurons: int
    tokens_per_stage: int
    vocab_size: int
    epochs: tuple[int, ...]
    seq_len: int = 64
    n_contexts: int = 10
    all_pairs: bool = True


SCALES = {
    "tiny": Scale(n_neurons=48, tokens_per_stage=6_000, vocab_size=600, epochs=(1, 48, 49)),
    "small": Scale(n_neurons=300, tokens_per_stage=60_000, vocab_size=5_000, epochs=(1, 48, 49)),
    "paper": Scale(n_neurons=1500, tokens_per_stage=400_000, vocab_size=28_000,
                   epochs=(1, 2, 48, 49)),
    "transformer": Scale(n_neurons=40_960, tokens_per_stage=400_000, vocab_size=28_000,
                         epochs=(48, 49), n_contexts=5, all_pairs=False),
}


def make_vocabulary(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    """Token strings, their main PTB tag and an alternative tag (for ambiguous words)."""
    n_open = size - len(FUNCTION_WORDS)
    syl = rng.integers(0, len(SYLLABLES), size=(n_open, 3))
    n_syl = rng.integers(1, 4, size=n_open)
    parts = SYLLABLES[syl]
    parts[:, 1] = np.where(n_syl >= 2, parts[:, 1], "")
    parts[:, 2] = np.where(n_syl >= 3, parts[:, 2], "")
    words = np.char.add(np.char.add(parts[:, 0], parts[:, 1]), parts[:, 2]).astype(str)
    tags = rng.choice(OPEN_TAGS, size=n_open, p=OPEN_P / OPEN_P.sum())
    words = np.where(tags == "NNP", np.char.capitalize(words), words)
    words = np.where(tags == "CD", rng.integers(2, 2030, n_open).astype(str), words)
    s = pd.Series(words, dtype=object)
    dup = s.groupby(s).cumcount().to_numpy()
    words = np.where(dup > 0, s + "-" + dup.astype(str), s)
    fw = np.array([w for w, _ in FUNCTION_WORDS], dtype=object)
    ft = np.array([t for _, t in FUNCTION_WORDS])
    vocab = np.concatenate([fw, words]).astype(str)
    main = np.concatenate([ft, tags])
    alt = np.where(rng.random(size) < 0.15, rng.choice(OPEN_TAGS, size=size), main)
    alt[: len(FUNCTION_WORDS)] = ft
    return vocab, main, alt


def token_stream(rng: np.random.Generator, n: int, vocab_size: int, *, shuffle: float
                 ) -> np.ndarray:
    """Zipfian token ids; `shuffle` permutes part of the open-class ranks (domain shift)."""
    ranks = np.arange(vocab_size)
    if shuffle:
        open_ranks = ranks[len(FUNCTION_WORDS):]
        k = int(len(open_ranks) * shuffle)
        idx = rng.choice(len(open_ranks), size=k, replace=False)
        open_ranks[idx] = open_ranks[rng.permutation(idx)]
    p = 1.0 / (np.arange(vocab_size) + 2.7) ** 1.07
    return ranks[rng.choice(vocab_size, size=n, p=p / p.sum())]


@dataclass(frozen=True)
class StageSpec:
    name: str
    kind: str
    corpus: str
    model: str
    epoch: int
    alive_frac: float
    drift: float
    weighted: bool = False


def stage_specs(scale: Scale) -> list[StageSpec]:
    last = max(scale.epochs)
    specs = [
        StageSpec(f"wiki_ep{e}", "pretrain", "wikitext-2", "lstm_lm", e,
                  alive_frac=min(0.95, 0.36 + 0.012 * e), drift=0.0)
        for e in scale.epochs
    ]
    specs += [
        StageSpec("imdb_zero_shot", "zero_shot", "imdb", "lstm_lm", last, alive_frac=0.84,
                  drift=0.15),
        StageSpec("imdb_supervised", "supervised", "imdb", "lstm_clf", last, alive_frac=0.5,
                  drift=0.35, weighted=True),
    ]
    return specs


def _epoch_drift(epoch: int) -> float:
    """How far an epoch's token->neuron map is from the converged one."""
    return float(np.exp(-(epoch - 1) / 6.0))


def simulate_stage(rng: np.random.Generator, spec: StageSpec, *, scale: Scale,
                   tokens: np.ndarray, pos: np.ndarray, base_pref: np.ndarray,
                   context: tuple[np.ndarray, ...], latent: tuple[np.ndarray, np.ndarray],
                   zero_alive: np.ndarray | None) -> tuple[pd.DataFrame, pd.DataFrame, int, int,
                                                             np.ndarray]:
    """Rows of one stage: (feature_stats, contexts, n_tokens, n_silent, alive mask)."""
    n = scale.n_neurons
    vitality, fallback = latent
    alive = vitality < spec.alive_frac
    if zero_alive is not None:
        revived = (~zero_alive) & (rng.random(n) < 0.8)
        alive = (zero_alive & (rng.random(n) < spec.alive_frac)) | revived
    alive_ids = np.flatnonzero(alive)
    drift = spec.drift if spec.kind != "pretrain" else _epoch_drift(spec.epoch)
    pref = base_pref.copy()
    moved = rng.random(pref.shape) < drift
    pref[moved] = rng.integers(0, n, size=int(moved.sum()))
    pref = np.where(alive[pref], pref, alive_ids[(fallback * len(alive_ids)).astype(np.int64)])
    # The same corpus is fed to every stage: per-position randomness is shared (`context`) and
    # only a drift-sized fraction of positions is redrawn, so converged epochs agree closely.
    u_choice, u_noise, u_target, u_act = (x.copy() for x in context)
    redraw = rng.random(len(tokens)) < min(1.0, drift + 0.03)
    k = int(redraw.sum())
    u_choice[redraw] = rng.integers(0, pref.shape[1], k)
    u_noise[redraw], u_target[redraw] = rng.random(k), rng.random(k)
    u_act[redraw] = rng.normal(0.0, 1.0, k)
    neuron = pref[tokens, u_choice]
    noisy = u_noise < 0.2
    target = (u_target[noisy] * n).astype(np.int64)
    neuron[noisy] = np.where(alive[target], target,
                             alive_ids[(u_choice[noisy] * 7919 + target) % len(alive_ids)])
    scale_n = rng.lognormal(0.0, 0.35, n)
    act = np.exp(-0.7 + 0.5 * u_act) * scale_n[neuron]
    silent = rng.random(len(tokens)) < 0.03
    act[silent] = -act[silent]
    weight = rng.beta(5, 2, len(tokens)) if spec.weighted else None
    keep = ~silent
    rows = pd.DataFrame({"neuron": neuron[keep], "token": tokens[keep], "pos": pos[keep],
                         "act": act[keep]})
    if weight is not None:
        rows["w"] = act[keep] * weight[keep]
    agg = {"n": ("act", "size"), "sum_act": ("act", "sum")}
    if weight is not None:
        agg["sum_act_weighted"] = ("w", "sum")
    fs = rows.groupby(["neuron", "token", "pos"], sort=True).agg(**agg).reset_index()
    if weight is None:
        fs["sum_act_weighted"] = np.nan
    positions = np.flatnonzero(keep)
    order = np.lexsort((-act[keep], neuron[keep]))
    sorted_neuron = neuron[keep][order]
    first = np.searchsorted(sorted_neuron, sorted_neuron, side="left")
    rank = np.arange(len(order)) - first
    top = order[rank < scale.n_contexts]
    ctx = pd.DataFrame({
        "neuron": neuron[keep][top], "rank": rank[rank < scale.n_contexts],
        "seq_id": positions[top] // scale.seq_len, "position": positions[top] % scale.seq_len,
        "act": act[keep][top], "token_id": tokens[keep][top],
    })
    return fs, ctx, len(tokens), int(silent.sum()), np.isin(np.arange(n), np.unique(neuron[keep]))


def sequences_table(corpus: str, token_strings: np.ndarray, seq_len: int,
                    labels: np.ndarray | None) -> pa.Table:
    n_seq = -(-len(token_strings) // seq_len)
    offsets = np.minimum(np.arange(n_seq + 1) * seq_len, len(token_strings)).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(token_strings, type=pa.string()))
    return pa.table({
        "corpus": pa.array([corpus] * n_seq, type=pa.string()),
        "seq_id": pa.array(np.arange(n_seq, dtype=np.int64)),
        "tokens": lists,
        "label": pa.array(labels if labels is not None else np.full(n_seq, None), type=pa.int32()),
    })


def training_log(rng: np.random.Generator, last_epoch: int) -> pd.DataFrame:
    e = np.arange(1, last_epoch + 1)
    ppl = 95 + 420 * np.exp(-(e - 1) / 3.5) + rng.normal(0, 1.5, len(e))
    lm = pd.DataFrame({"model": "lstm_lm", "epoch": e, "train_loss": np.log(ppl * 0.8),
                       "valid_loss": np.log(ppl), "valid_ppl": ppl, "train_f1": np.nan,
                       "test_f1": np.nan, "seconds": rng.normal(300, 10, len(e))})
    c = np.arange(1, 6)
    f1 = 0.81 - 0.25 * np.exp(-(c - 1) / 1.2)
    clf = pd.DataFrame({"model": "lstm_clf", "epoch": c, "train_loss": 0.7 * np.exp(-c / 3),
                        "valid_loss": 0.72 * np.exp(-c / 3.5), "valid_ppl": np.nan,
                        "train_f1": f1 + 0.02, "test_f1": f1, "seconds": rng.normal(90, 5, 5)})
    return pd.concat([lm, clf], ignore_index=True)


def pruning_rows(rng: np.random.Generator, stats: pd.DataFrame, zero: pd.DataFrame
                 ) -> pd.DataFrame:
    """Sets A-D from the supervised stage's neuron stats; F1 effects simulated from AM share."""
    total = stats["mass"].sum()
    alive = stats[stats["alive"]].sort_values("mass")
    sets = {
        "A": ("dead after supervision", stats.loc[~stats["alive"], "neuron"].to_numpy()),
        "B": ("20 least-active alive neurons", alive["neuron"].to_numpy()[:20]),
        "C": ("20 most-active alive neurons", alive["neuron"].to_numpy()[-20:]),
        "D": ("supervision-added neurons",
              stats.loc[stats["alive"].to_numpy() & ~zero["alive"].to_numpy(), "neuron"].to_numpy()),
    }
    base_train, base_test = 0.842, 0.807
    out = []
    for name, (desc, neurons) in sets.items():
        share = float(stats.set_index("neuron").loc[neurons, "mass"].sum() / total)
        effect = {"A": 2.5, "B": -3.0, "C": -4.5, "D": -3.8}[name]
        rel_train = effect * (1 + share) + rng.normal(0, 0.3)
        rel_test = effect * (1 + share) * 0.9 + rng.normal(0, 0.3)
        rnd = rng.normal(-0.4, 0.6, size=(5, 2))
        out.append({
            "experiment": name, "description": desc, "neurons": [int(x) for x in neurons],
            "n": len(neurons), "am_share": share,
            "f1_train": base_train * (1 + rel_train / 100), "f1_test": base_test * (1 + rel_test / 100),
            "base_f1_train": base_train, "base_f1_test": base_test,
            "rel_change_train": rel_train, "rel_change_test": rel_test,
            "random_rel_train_mean": rnd[:, 0].mean(), "random_rel_train_std": rnd[:, 0].std(),
            "random_rel_test_mean": rnd[:, 1].mean(), "random_rel_test_std": rnd[:, 1].std(),
            "random_seeds": 5,
        })
    return pd.DataFrame(out)


def generate(out: str | Path, *, scale: str | Scale = "small", seed: int = 0,
             force: bool = False, variants: tuple[str, ...] = ("paper", "reference"),
             progress: bool = True) -> Path:
    """Write a synthetic analysis database to `out` and return its path."""
    sc = SCALES[scale] if isinstance(scale, str) else scale
    rng = np.random.default_rng(seed)
    vocab, main_tag, alt_tag = make_vocabulary(rng, sc.vocab_size)
    base_pref = rng.integers(0, sc.n_neurons, size=(sc.vocab_size, 3))
    streams = {
        "wikitext-2": token_stream(rng, sc.tokens_per_stage, sc.vocab_size, shuffle=0.0),
        "imdb": token_stream(rng, sc.tokens_per_stage, sc.vocab_size, shuffle=0.3),
    }
    pos_ids = {c: np.where(rng.random(len(t)) < 0.2, alt_tag[t], main_tag[t])
               for c, t in streams.items()}
    latent = (rng.random(sc.n_neurons), rng.random(base_pref.shape))
    contexts = {c: (rng.integers(0, base_pref.shape[1], len(t)), rng.random(len(t)),
                    rng.random(len(t)), rng.normal(0.0, 1.0, len(t)))
                for c, t in streams.items()}
    n_imdb_seq = -(-sc.tokens_per_stage // sc.seq_len)
    labels = {"wikitext-2": None, "imdb": rng.integers(0, 2, n_imdb_seq)}
    specs = stage_specs(sc)
    with AnalysisWriter(out, force=force) as w:
        w.set_meta(config={"preset": f"synthetic-{scale if isinstance(scale, str) else 'custom'}",
                           "seed": seed, "n_neurons": sc.n_neurons,
                           "tokens_per_stage": sc.tokens_per_stage})
        zero_alive = None
        all_ctx = []
        for spec in tqdm(specs, desc="synthetic stages", disable=not progress):
            tokens = streams[spec.corpus]
            fs, ctx, n_tok, n_sil, alive = simulate_stage(
                rng, spec, scale=sc, tokens=tokens, pos=pos_ids[spec.corpus], base_pref=base_pref,
                context=contexts[spec.corpus], latent=latent,
                zero_alive=zero_alive if spec.kind == "supervised" else None)
            if spec.kind == "zero_shot":
                zero_alive = alive
            fs["token"] = vocab[fs["token"].to_numpy()]
            w.add_stage(spec.name, kind=spec.kind, n_neurons=sc.n_neurons, n_tokens=n_tok,
                        n_silent=n_sil, feature_stats=fs, model=spec.model,
                        checkpoint=f"{spec.model}/epoch{spec.epoch}.pt", corpus=spec.corpus,
                        epoch=spec.epoch, layer="lstm.0", has_labels=spec.weighted)
            ctx["stage"] = spec.name
            ctx["token"] = vocab[ctx.pop("token_id").to_numpy()]
            all_ctx.append(ctx)
        w.add_rows("contexts", pd.concat(all_ctx, ignore_index=True))
        for corpus, tokens in streams.items():
            w.add_rows("sequences", sequences_table(corpus, vocab[tokens], sc.seq_len,
                                                    labels[corpus]))
            tags, counts = np.unique(pos_ids[corpus], return_counts=True)
            w.add_rows("corpus_pos", pd.DataFrame({"corpus": corpus, "pos": tags,
                                                   "count": counts}))
        w.add_rows("training_log", training_log(rng, max(sc.epochs)))
        names = [s.name for s in specs]
        pairs = None if sc.all_pairs else list(zip(names, names[1:]))
        steps = tqdm(total=1, desc="measures (comparisons)", disable=not progress)
        w.compute_measures(pairs, variants=variants)
        steps.update()
        steps.close()
        ns = w.con.sql("SELECT stage, neuron, mass, alive FROM neuron_stats "
                       "WHERE feature_kind = 'token' ORDER BY neuron").df()
        w.add_rows("pruning", pruning_rows(rng, ns[ns["stage"] == "imdb_supervised"]
                                           .reset_index(drop=True),
                                           ns[ns["stage"] == "imdb_zero_shot"]
                                           .reset_index(drop=True)))
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    path = generate(args.out, scale=args.scale, seed=args.seed, force=args.force)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
