"""Corpus loaders on the real data (via $TXRAY_DATA_DIR), both IMDB layouts, and the tokenizer."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precompute import corpora
from precompute.corpora import DataNotFoundError, tokenize_review, tokenize_reviews
from tests.precompute.archives import (imdb_rows, real_data_dir, write_acl_folder,
                                       write_acl_tarball, write_imdb_csvs)


@pytest.fixture(scope="module")
def real_data() -> Path:
    return real_data_dir()


@pytest.fixture(scope="module")
def wikitext(real_data):
    return corpora.load_wikitext2(real_data, download=False)


@pytest.fixture(scope="module")
def imdb(real_data):
    return corpora.load_imdb(real_data, download=False)


@pytest.fixture(scope="module")
def imdb_slice(real_data):
    return imdb_rows(real_data, 5)


def test_resolve_data_dir_flag_then_env_then_none(monkeypatch, tmp_path):
    monkeypatch.setenv("TXRAY_DATA_DIR", str(tmp_path / "env"))
    assert corpora.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert corpora.resolve_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert corpora.resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("TXRAY_DATA_DIR")
    assert corpora.resolve_data_dir(None) is None


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TXRAY_CACHE_DIR", raising=False)
    repo = Path(corpora.__file__).resolve().parents[1]
    assert corpora.default_cache_dir() == repo / "data" / "cache"
    monkeypatch.setenv("TXRAY_CACHE_DIR", str(tmp_path))
    assert corpora.default_cache_dir() == tmp_path


def test_wikitext2_matches_published_counts(wikitext, real_data):
    published = {"train": (36_718, 2_088_628), "valid": (3_760, 217_646),
                 "test": (4_358, 245_569)}
    assert set(wikitext) == {"train", "valid", "test"}
    for split, (lines_incl_blank, tokens_incl_eos) in published.items():
        n_words = sum(map(len, wikitext[split]))
        assert n_words + lines_incl_blank == tokens_incl_eos
        with open(real_data / "wikitext-2" / f"wiki.{split}.tokens", encoding="utf-8") as f:
            assert sum(1 for _ in f) == lines_incl_blank
    assert len(wikitext["train"]) == 23_767
    assert sum(map(len, wikitext["train"])) == 2_051_910
    assert wikitext["train"][0] == ["=", "Valkyria", "Chronicles", "III", "="]
    assert all(line for line in wikitext["train"])
    assert "<eos>" not in {t for line in wikitext["valid"] for t in line}
    vocab = {t for line in wikitext["train"] for t in line}
    assert len(vocab) + 1 == 33_278


def test_imdb_csv_layout_on_real_data(imdb):
    assert set(imdb) == {"train", "test"}
    for split in imdb.values():
        assert len(split) == 25_000 and len(split.labels) == 25_000
        assert split.labels.dtype == np.int8
        assert int(split.labels.sum()) == 12_500
        assert split.labels[0] == 0 and split.labels[-1] == 1
    assert "<br />" in " ".join(imdb["train"].texts[:200])
    assert len(set(imdb["train"].texts)) == 24_904


def test_both_imdb_layouts_and_tarball_agree(tmp_path, imdb_slice):
    layouts = {
        "csv": lambda root: write_imdb_csvs(root / "imdb", imdb_slice),
        "folder": lambda root: write_acl_folder(root / "imdb", imdb_slice),
        "tarball": lambda root: write_acl_tarball(
            (root / "imdb").mkdir(parents=True) or root / "imdb" / "aclImdb_v1.tar.gz",
            imdb_slice),
    }
    loaded = {}
    for name, build in layouts.items():
        build(tmp_path / name)
        loaded[name] = corpora.load_imdb(tmp_path / name, download=False)
    for split, rows in imdb_slice.items():
        for name, data in loaded.items():
            assert data[split].texts == [r["text"] for r in rows], name
            assert data[split].labels.tolist() == [0] * 5 + [1] * 5, name


def test_data_dir_without_data_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"missing .*wiki\.train\.tokens.*--data-dir"):
        corpora.load_wikitext2(tmp_path)
    with pytest.raises(DataNotFoundError, match=r"no supported IMDB layout under .*imdb"):
        corpora.load_imdb(tmp_path)


def test_imdb_csv_with_wrong_columns_is_rejected(tmp_path):
    (tmp_path / "imdb").mkdir()
    for split in ("train", "test"):
        with gzip.open(tmp_path / "imdb" / f"{split}.csv.gz", "wt") as f:
            f.write("review,sentiment\ngreat,positive\n")
    with pytest.raises(DataNotFoundError, match="columns 'text' and 'label'"):
        corpora.load_imdb(tmp_path)


@pytest.mark.parametrize("raw, tokens", [
    ("Great film.<br /><br />Loved it!", ["Great", "film", ".", "Loved", "it", "!"]),
    ("It cost $1,000,000 (or 3.5 million).",
     ["It", "cost", "$", "1", "@,@", "000", "@,@", "000", "(", "or", "3", "@.@", "5", "million",
      ")", "."]),
    ("a well-made, low-budget B-movie", ["a", "well", "@-@", "made", ",", "low", "@-@", "budget",
                                         "B", "@-@", "movie"]),
    ("I don't think it's Peter's; they're fine", ["I", "don", "'t", "think", "it", "'s", "Peter",
                                                  "'s", ";", "they", "'re", "fine"]),
    ("The U.S. cut, e.g. Dr. Smith's, ran 7/10.", ["The", "U.S.", "cut", ",", "e.g.", "Dr.",
                                                   "Smith", "'s", ",", "ran", "7", "/", "10", "."]),
    ("Wait.... what -- really?? 'Classic'", ["Wait", "...", "what", "\u2014", "really", "?", "?",
                                             "'", "Classic", "'"]),
    ("\u201cOK\u201d \x96 Tom&amp;Jerry\u2026 and so did I.",
     ['"', "OK", '"', "\u2013", "Tom", "&", "Jerry", "...", "and", "so", "did", "I", "."]),
    ("bad.The end", ["bad", ".", "The", "end"]),
])
def test_tokenize_review_wikitext_style(raw, tokens):
    assert tokenize_review(raw) == tokens


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ19 .,'-!?\"()/:;$%", max_size=60))
def test_tokenize_review_loses_and_invents_no_characters(text):
    tokens = tokenize_review(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    glued = [t for t in tokens if len(t) > 1 and t != "@,@" and any(c in t for c in '!?"(),/:;$%')]
    assert glued == []
    joined = "".join(tokens)
    for artefact, char in (("@,@", ","), ("@.@", "."), ("@-@", "-")):
        joined = joined.replace(artefact, char)
    expected = re.sub(r"\.{2,}", "...", re.sub("-{2,}", "\u2014", text)).replace(" ", "")
    assert joined == expected


def test_tokenized_reviews_match_the_wikitext_vocabulary(imdb, wikitext):
    vocab = {t for line in wikitext["train"] for t in line}
    texts = imdb["train"].texts[::25]
    toks = tokenize_reviews(texts)
    assert toks == [tokenize_review(t) for t in texts]
    flat = [t for review in toks for t in review]
    assert sum(t in vocab for t in flat) / len(flat) > 0.94
    glued = [t for t in flat if len(t) > 1 and t != "@,@" and any(c in t for c in '<>,!?;()"')]
    assert glued == []


def test_tokenize_review_is_fast(imdb):
    texts = imdb["train"].texts[:2500]
    start = time.perf_counter()
    tokenize_reviews(texts)
    assert time.perf_counter() - start < 5.0
