"""POS tagging with the real spaCy model on slices of the real corpora, and the per-corpus cache."""

from __future__ import annotations

import numpy as np
import pytest

from precompute.corpora import load_imdb, load_wikitext2, tokenize_reviews
from precompute.tagging import (ARTEFACTS, OPEN_CLASS, PTB_TAGS, NoTagger, SpacyTagger,
                                decode_tags, encode_tags, get_tagger, tag_corpus,
                                tag_corpus_ids)
from tests.precompute.archives import real_data_dir


@pytest.fixture(scope="module")
def spacy_tagger() -> SpacyTagger:
    return SpacyTagger()


@pytest.fixture(scope="module")
def wiki_slice() -> list[list[str]]:
    """About 3,000 tokens of WikiText-2 valid, with @-@, @,@, @.@ and <unk>."""
    lines, n = [], 0
    for line in load_wikitext2(real_data_dir(), download=False)["valid"]:
        if n >= 3000:
            break
        lines.append(line)
        n += len(line)
    return lines


@pytest.fixture(scope="module")
def wiki_tags(spacy_tagger, wiki_slice) -> list[list[str]]:
    return spacy_tagger.tag(wiki_slice)


class CountingSpacyTagger(SpacyTagger):
    """The real spaCy tagger, counting how often it actually tags."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def tag_ids(self, sentences):
        self.calls += 1
        return super().tag_ids(sentences)


class ListTagger:
    """A tagger exposing only ``tag`` (the generic path of tag_corpus), backed by spaCy."""

    name = "spacy-list"

    def __init__(self, inner: SpacyTagger) -> None:
        self.inner = inner

    def tag(self, sentences):
        return self.inner.tag(sentences)


def test_ptb_tags_cover_the_spacy_tagger(spacy_tagger):
    labels = set(spacy_tagger.nlp.get_pipe("tagger").labels)
    assert len(PTB_TAGS) == len(set(PTB_TAGS)) == 49
    assert labels - set(PTB_TAGS) == {"_SP"}
    assert {",", ".", ":", "``", "''", "-LRB-", "-RRB-", "HYPH", "NN", "VBZ"} <= set(PTB_TAGS)
    assert spacy_tagger.nlp.pipe_names == ["tok2vec", "tagger"]


def test_one_ptb_tag_per_token(wiki_slice, wiki_tags):
    assert [len(t) for t in wiki_tags] == [len(s) for s in wiki_slice]
    assert {t for line in wiki_tags for t in line} <= set(PTB_TAGS)


def test_wikitext_artefacts_and_common_words(wiki_slice, wiki_tags):
    pairs = [(w, t) for s, ts in zip(wiki_slice, wiki_tags) for w, t in zip(s, ts)]
    by_word: dict[str, set[str]] = {}
    for w, t in pairs:
        by_word.setdefault(w, set()).add(t)
    assert by_word["@-@"] == {"HYPH"}
    assert by_word["@,@"] == {","}
    assert by_word["@.@"] == {"."}
    assert by_word["="] == {"SYM"}
    assert by_word["<unk>"] <= OPEN_CLASS and "NNP" in by_word["<unk>"]
    assert by_word["the"] == {"DT"}
    assert by_word["of"] == {"IN"}
    assert by_word[","] == {","}
    assert by_word["("] == {"-LRB-"}
    counts = {t: sum(1 for _, x in pairs if x == t) for t in ("NN", "IN", "DT", "VBD", "JJ")}
    assert all(c > 50 for c in counts.values()), counts


def test_pretokenized_input_is_not_resplit(spacy_tagger):
    sents = [["I", "don't", "like", "U.S.", "well-made", "films", "!"], [], ["Great", "."]]
    tags = spacy_tagger.tag(sents)
    assert [len(t) for t in tags] == [7, 0, 2]
    assert tags[0][0] == "PRP" and tags[2][1] == "."


def test_imdb_reviews_are_tagged(spacy_tagger):
    texts = load_imdb(real_data_dir(), download=False)["test"].texts[:5]
    toks = tokenize_reviews(texts)
    tags = spacy_tagger.tag(toks)
    assert [len(t) for t in tags] == [len(t) for t in toks]
    flat = [(w, t) for s, ts in zip(toks, tags) for w, t in zip(s, ts)]
    assert {t for w, t in flat if w in ("'s", "'t", "n't")} <= {"POS", "VBZ", "RB", "PRP", "NN"}


def test_get_tagger():
    assert isinstance(get_tagger("none"), NoTagger)
    assert get_tagger("spacy").name == "spacy"
    with pytest.raises(ValueError, match="unknown POS tagger 'nltk'; choose one of: none, spacy"):
        get_tagger("nltk")


def test_no_tagger_tags_nothing_and_writes_nothing(tmp_path, wiki_slice):
    assert NoTagger().tag(wiki_slice) is None
    assert tag_corpus(wiki_slice, get_tagger("none"), cache_dir=tmp_path, key="wt") is None
    assert tag_corpus_ids(wiki_slice, get_tagger("none"), cache_dir=tmp_path, key="wt") is None
    assert list(tmp_path.iterdir()) == []


def test_tag_corpus_runs_once_per_corpus(tmp_path, wiki_slice, wiki_tags):
    tagger = CountingSpacyTagger()
    first = tag_corpus(wiki_slice, tagger, cache_dir=tmp_path, key="wikitext2.valid")
    assert first == wiki_tags and tagger.calls == 1
    files = list((tmp_path / "pos").iterdir())
    assert len(files) == 1 and files[0].name.startswith("wikitext2.valid.spacy.")
    with np.load(files[0]) as z:
        assert z["ids"].dtype == np.int8 and len(z["ids"]) == sum(map(len, wiki_slice))
        assert z["offsets"][0] == 0 and len(z["offsets"]) == len(wiki_slice) + 1

    again = tag_corpus(wiki_slice, tagger, cache_dir=tmp_path, key="wikitext2.valid")
    assert again == first and tagger.calls == 1
    ids = tag_corpus_ids(wiki_slice, tagger, cache_dir=tmp_path, key="wikitext2.valid")
    assert tagger.calls == 1 and all(a.dtype == np.int8 for a in ids)
    assert [[PTB_TAGS[i] for i in a] for a in ids] == first

    changed = [line[:] for line in wiki_slice[:10]]
    changed[0][0] = "Lobster"
    tag_corpus(changed, tagger, cache_dir=tmp_path, key="wikitext2.valid")
    assert tagger.calls == 2 and len(list((tmp_path / "pos").iterdir())) == 2


def test_generic_tagger_path_and_bad_keys(tmp_path, spacy_tagger, wiki_slice, wiki_tags):
    got = tag_corpus(wiki_slice, ListTagger(spacy_tagger), cache_dir=tmp_path, key="wt-2")
    assert got == wiki_tags
    with pytest.raises(ValueError, match="cache key"):
        tag_corpus(wiki_slice, spacy_tagger, cache_dir=tmp_path, key="../escape")


def test_encode_decode_round_trip(wiki_tags):
    ids, offsets = encode_tags(wiki_tags)
    assert ids.dtype == np.int8 and offsets.dtype == np.int64
    assert decode_tags(ids, offsets) == wiki_tags
    assert [PTB_TAGS[i] for i in ids[:len(wiki_tags[0])]] == wiki_tags[0]
    with pytest.raises(ValueError, match=r"\['NOUN'\] are not Penn Treebank tags"):
        encode_tags([["DT", "NOUN"]])


def test_artefact_table_uses_ptb_tags():
    assert {forced for _, forced in ARTEFACTS.values() if forced} <= set(PTB_TAGS)
    assert OPEN_CLASS <= set(PTB_TAGS)
