"""Benchmark: IMDB review tokenisation and spaCy POS tagging throughput on the real data.

Times :func:`precompute.corpora.tokenize_reviews` on all 25,000 IMDB train reviews, the spaCy
model load, and :class:`precompute.tagging.SpacyTagger` on a WikiText-2 train slice and on an IMDB
slice of about ``--tokens`` tokens each (``--repeats`` runs; median and best reported).

    python -m benchmarks.bench_corpora [--data-dir DIR] [--tokens 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from precompute.corpora import load_imdb, load_wikitext2, tokenize_reviews
from precompute.tagging import SpacyTagger


def _first_tokens(lines: list[list[str]], n: int) -> list[list[str]]:
    out, total = [], 0
    for line in lines:
        if total >= n:
            break
        out.append(line)
        total += len(line)
    return out


def _timed(fn, repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return runs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="default: $TXRAY_DATA_DIR or the cache")
    p.add_argument("--tokens", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)

    texts = load_imdb(args.data_dir)["train"].texts
    runs = _timed(lambda: tokenize_reviews(texts), args.repeats)
    n_tok = sum(map(len, tokenize_reviews(texts[:2000])))
    print(f"tokenize_reviews: {len(texts):,} reviews, runs {[round(r, 2) for r in runs]} s, "
          f"best {min(runs):.2f} s ({n_tok:,} tokens in the first 2,000 reviews)")

    start = time.perf_counter()
    tagger = SpacyTagger(batch_size=args.batch_size)
    tagger.tag([["Model", "load", "."]])
    print(f"spaCy model load + first call: {time.perf_counter() - start:.2f} s")

    slices = {
        "WikiText-2 train": _first_tokens(load_wikitext2(args.data_dir)["train"], args.tokens),
        "IMDB train": _first_tokens(tokenize_reviews(texts[:500]), args.tokens),
    }
    for name, sents in slices.items():
        n = sum(map(len, sents))
        runs = _timed(lambda: tagger.tag(sents), args.repeats)
        print(f"spaCy tagging {name}: {n:,} tokens in {len(sents)} sequences, runs "
              f"{[round(r, 2) for r in runs]} s -> median {n / statistics.median(runs):,.0f} "
              f"tok/s, best {n / min(runs):,.0f} tok/s")


if __name__ == "__main__":
    main()
