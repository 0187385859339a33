"""Corpora: WikiText-2 (tokenized v1) and IMDB, from a local data directory or the download cache.

Expected layout of a data directory (``--data-dir`` / ``$TXRAY_DATA_DIR``) and of the cache::

    wikitext-2/wiki.{train,valid,test}.tokens
    imdb/{train,test}.csv.gz                 columns text,label[,...]; label 1 = positive
      or imdb/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt
      or imdb/aclImdb_v1.tar.gz

Without a data directory the loaders use the cache (``$TXRAY_CACHE_DIR`` or ``<repo>/data/cache``)
and, with ``download=True``, fetch the official archives into it once.
"""

from __future__ import annotations

import csv
import gzip
import html
import os
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from precompute.download import (IMDB, WIKITEXT2, ArchiveSpec, DataNotFoundError, DownloadError,
                                  fetch)

__all__ = ["DataNotFoundError", "ImdbSplit", "default_cache_dir", "load_imdb", "load_wikitext2",
           "resolve_data_dir", "tokenize_review", "tokenize_reviews"]

WIKITEXT_SPLITS = ("train", "valid", "test")
IMDB_SPLITS = ("train", "test")
_REPO = Path(__file__).resolve().parents[1]
_ACL_NAME = re.compile(r"^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


@dataclass
class ImdbSplit:
    """One IMDB split: review texts and labels (int8, 1 = positive, 0 = negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The data directory to use: the argument, else ``$TXRAY_DATA_DIR``, else None (use cache)."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get("TXRAY_DATA_DIR") or None
    return None if chosen is None else Path(chosen).expanduser()


def default_cache_dir() -> Path:
    """``$TXRAY_CACHE_DIR`` or ``<repo>/data/cache``."""
    env = os.environ.get("TXRAY_CACHE_DIR")
    return Path(env).expanduser() if env else _REPO / "data" / "cache"


def _how_to_provide(spec: ArchiveSpec, cache_dir: Path) -> str:
    return (
        "Provide it in one of two ways: (1) pass --data-dir DIR or set TXRAY_DATA_DIR=DIR, "
        "where DIR holds wikitext-2/wiki.{train,valid,test}.tokens (WikiText-2 v1, tokenized) and "
        "imdb/{train,test}.csv.gz (columns text,label), imdb/aclImdb/{train,test}/{pos,neg}/*.txt "
        "or imdb/aclImdb_v1.tar.gz; or (2) leave --data-dir and TXRAY_DATA_DIR unset and run on a "
        "machine with internet access so that "
        f"{spec.filename} is downloaded from {spec.resolved_url()} into the cache {cache_dir} "
        "(TXRAY_CACHE_DIR changes the cache location).")


def _missing(spec: ArchiveSpec, what: str, cache_dir: Path, reason: str = "") -> DataNotFoundError:
    return DataNotFoundError(f"{spec.name} not found: {what}.{' ' + reason if reason else ''} "
                             + _how_to_provide(spec, cache_dir))


def _fetch_or_explain(spec: ArchiveSpec, cache_dir: Path) -> Path:
    try:
        return fetch(spec, cache_dir)
    except DownloadError as e:
        if type(e) is not DownloadError:
            raise
        raise _missing(spec, f"not in the cache {cache_dir}", cache_dir,
                       f"Downloading failed ({e}).") from e


# ---------------------------------------------------------------------------------------------
# WikiText-2


def _wikitext_files(root: Path) -> dict[str, Path]:
    return {s: root / "wikitext-2" / f"wiki.{s}.tokens" for s in WIKITEXT_SPLITS}


def _read_wikitext(files: dict[str, Path]) -> dict[str, list[list[str]]]:
    out = {}
    for split, path in files.items():
        with open(path, encoding="utf-8") as f:
            out[split] = [toks for toks in map(str.split, f) if toks]
    return out


def _extract_wikitext(archive: Path, cache_dir: Path) -> None:
    """Extract the three token files of wikitext-2-v1.zip into ``cache_dir/wikitext-2``."""
    dest = cache_dir / "wikitext-2"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        for split in WIKITEXT_SPLITS:
            member = f"wikitext-2/wiki.{split}.tokens"
            if member not in names:
                raise DataNotFoundError(
                    f"{archive} is not a WikiText-2 v1 archive: it has no {member}. Delete it and "
                    f"check {WIKITEXT2.url_env} if you set it.")
            part = dest / f"wiki.{split}.tokens.{os.getpid()}.part"
            with zf.open(member) as src, open(part, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(part, dest / f"wiki.{split}.tokens")


def load_wikitext2(data_dir: str | os.PathLike | None = None, *,
                   cache_dir: str | os.PathLike | None = None,
                   download: bool = True) -> dict[str, list[list[str]]]:
    """WikiText-2 splits 'train', 'valid', 'test': the non-empty lines, each a list of tokens
    exactly as in ``wiki.*.tokens`` (whitespace split, no ``<eos>``)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = resolve_data_dir(data_dir)
    if root is not None:
        files = _wikitext_files(root)
        absent = [str(p) for p in files.values() if not p.is_file()]
        if absent:
            raise _missing(WIKITEXT2, f"missing {', '.join(absent)} in the data directory {root}",
                           cache)
        return _read_wikitext(files)
    files = _wikitext_files(cache)
    if not all(p.is_file() for p in files.values()):
        if not download:
            raise _missing(WIKITEXT2, f"not in the cache {cache} and downloading is disabled",
                           cache)
        _extract_wikitext(_fetch_or_explain(WIKITEXT2, cache), cache)
    return _read_wikitext(files)


# ---------------------------------------------------------------------------------------------
# IMDB


def _split_from_rows(rows: list[tuple[str, int]]) -> ImdbSplit:
    labels = np.fromiter((r[1] for r in rows), dtype=np.int8, count=len(rows))
    return ImdbSplit(texts=[r[0] for r in rows], labels=labels)


def _read_imdb_csv(path: Path) -> ImdbSplit:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None) or []
        if "text" not in header or "label" not in header:
            raise DataNotFoundError(f"{path} must be a CSV with columns 'text' and 'label' "
                                    f"(1 = positive, 0 = negative); its header is {header}.")
        ti, li = header.index("text"), header.index("label")
        texts, labels = [], []
        for row in reader:
            if len(row) <= max(ti, li):
                raise DataNotFoundError(f"{path}, line {reader.line_num}: expected "
                                        f"{len(header)} columns, found {len(row)}.")
            texts.append(row[ti])
            labels.append(row[li])
    try:
        arr = np.asarray(labels, dtype=np.int64)
    except ValueError as e:
        raise DataNotFoundError(f"{path}: column 'label' must hold 0/1 integers ({e}).") from e
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise DataNotFoundError(f"{path}: column 'label' must hold 0 (negative) or 1 (positive), "
                                f"found {sorted(set(np.unique(arr).tolist()) - {0, 1})}.")
    return ImdbSplit(texts=texts, labels=arr.astype(np.int8))


def _acl_key(name: str) -> tuple[str, str, int, int] | None:
    m = _ACL_NAME.match(name)
    return None if m is None else (m[1], m[2], int(m[3]), int(m[4]))


def _order(items: list[tuple[tuple[str, str, int, int], str]]) -> dict[str, ImdbSplit]:
    """Group (key, text) by split; neg before pos, each by numeric review id (like the CSVs)."""
    items.sort(key=lambda kt: (kt[0][1] != "neg", kt[0][2]))
    return {s: _split_from_rows([(t, int(k[1] == "pos")) for k, t in items if k[0] == s])
            for s in IMDB_SPLITS}


def _read_acl_folder(root: Path) -> dict[str, ImdbSplit]:
    items = []
    paths = [p for s in IMDB_SPLITS for lab in ("neg", "pos")
             for p in (root / "aclImdb" / s / lab).glob("*.txt")]
    for p in tqdm(paths, desc="read aclImdb", unit="file", mininterval=1.0):
        key = _acl_key(p.relative_to(root).as_posix())
        if key is not None:
            items.append((key, p.read_text(encoding="utf-8")))
    return _order(items)


def _read_acl_tarball(path: Path) -> dict[str, ImdbSplit]:
    items = []
    with tarfile.open(path, "r:*") as tf, tqdm(desc=f"read {path.name}", unit="file",
                                                mininterval=1.0) as bar:
        for member in tf:
            bar.update()
            key = _acl_key(member.name.removeprefix("./"))
            if key is None or not member.isfile():
                continue
            items.append((key, tf.extractfile(member).read().decode("utf-8")))
    return _order(items)


def _write_imdb_csv(split: ImdbSplit, path: Path) -> None:
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    with gzip.open(part, "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows(zip(split.texts, split.labels.tolist()))
    os.replace(part, path)


def _imdb_in(imdb_dir: Path) -> dict[str, ImdbSplit] | None:
    """Load IMDB from whichever supported layout ``imdb_dir`` holds, or None."""
    csvs = {s: imdb_dir / f"{s}.csv.gz" for s in IMDB_SPLITS}
    if all(p.is_file() for p in csvs.values()):
        return {s: _read_imdb_csv(p) for s, p in csvs.items()}
    acl = imdb_dir / "aclImdb"
    if all((acl / s / lab).is_dir() for s in IMDB_SPLITS for lab in ("pos", "neg")):
        return _read_acl_folder(imdb_dir)
    if (imdb_dir / IMDB.filename).is_file():
        return _read_acl_tarball(imdb_dir / IMDB.filename)
    return None


def _check_imdb(data: dict[str, ImdbSplit], where: Path, cache: Path) -> dict[str, ImdbSplit]:
    empty = [s for s, d in data.items() if len(d) == 0]
    if empty:
        raise _missing(IMDB, f"{where} holds no reviews for split(s) {', '.join(empty)}", cache)
    return data


def load_imdb(data_dir: str | os.PathLike | None = None, *,
              cache_dir: str | os.PathLike | None = None,
              download: bool = True) -> dict[str, ImdbSplit]:
    """IMDB labelled splits 'train' and 'test' (raw review texts, labels 1 = positive)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = resolve_data_dir(data_dir)
    if root is not None:
        data = _imdb_in(root / "imdb")
        if data is None:
            raise _missing(IMDB, f"no supported IMDB layout under {root / 'imdb'}", cache)
        return _check_imdb(data, root / "imdb", cache)
    imdb_cache = cache / "imdb"
    data = _imdb_in(imdb_cache)
    if data is None:
        if not download:
            raise _missing(IMDB, f"not in the cache {cache} and downloading is disabled", cache)
        data = _read_acl_tarball(_fetch_or_explain(IMDB, cache))
        _check_imdb(data, cache / IMDB.filename, cache)
        imdb_cache.mkdir(parents=True, exist_ok=True)
        for split, d in data.items():
            _write_imdb_csv(d, imdb_cache / f"{split}.csv.gz")
    return _check_imdb(data, imdb_cache, cache)


# ---------------------------------------------------------------------------------------------
# WikiText-style tokenisation of raw reviews

_TAG = re.compile(r"<[^>]*>|[\x00-\x08]")
# Typographic and cp1252-mojibake quotes/dashes (IMDB has raw \x96 etc.) -> WikiText's characters.
_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'", "\x91": "'",
                            "\x92": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\x93": '"',
                            "\x94": '"', "\u2026": "...", "\x85": "...", "\x96": "\u2013",
                            "\x97": "\u2014", "\u00a0": " "})
# Every pattern starts with a literal or a character set so `re` can skip ahead quickly. Number
# separators and inner hyphens become placeholder characters first so the punctuation split
# leaves them alone; they are expanded to " @,@ " etc. at the end.
_NUM_COMMA = re.compile(r",(?<=\d,)(?=\d)")
_NUM_DOT = re.compile(r"\.(?<=\d\.)(?=\d)")
_HYPHEN = re.compile(r"-(?<=\w-)(?=\w)")
_DASHES = re.compile(r"-{2,}")
_DOTS = re.compile(r"\.+")
# A full stop stays attached (as in WikiText's "U.S.", "e.g.", "Dr.", initials "J.") after these.
_ABBR_BEFORE = re.compile(r"(?:^|[^\w.'])(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|Prof|Mt|Lt|Col|Gen|Sgt|Capt|"
                          r"Inc|Ltd|Bros|Vol|Op|pp|[B-HJ-Z]|(?:[A-Za-z]\.)+[A-Za-z])$")
_ACRONYM_NEXT = re.compile(r"[A-Za-z]\.")
_PUNCT = re.compile(r"[,!?;:()\[\]{}\"/\\&%$#*+=<>|~^_£€\u2013\u2014-]")
_QUOTE = re.compile(r"'(?:(?<!\w')|(?!\w))")
_CLITIC = re.compile(r"'(?<=\w')(?=\w)")
_PLACEHOLDERS = (("\x01", " @,@ "), ("\x02", " @.@ "), ("\x03", " @-@ "))


def _dots(m: re.Match) -> str:
    if m.end() - m.start() > 1:
        return " ... "
    s, i = m.string, m.start()
    if _ABBR_BEFORE.search(s[max(0, i - 12):i]):
        return "."
    if i > 0 and s[i - 1].isalpha() and (i < 2 or not s[i - 2].isalnum()) \
            and _ACRONYM_NEXT.match(s, i + 1):
        return "."
    return " . "


def tokenize_review(text: str) -> list[str]:
    """Tokenise a raw IMDB review like WikiText-2 so its tokens match that vocabulary.

    Strips HTML tags, splits punctuation into tokens, ``1,000`` -> ``1 @,@ 000``, ``3.5`` ->
    ``3 @.@ 5``, ``well-made`` -> ``well @-@ made``, ``--`` -> ``—``, ``....`` -> ``...``, keeps
    abbreviations (``U.S.``, ``e.g.``, ``Dr.``, ``J.``) and splits an apostrophe inside a word off
    with what follows, as WikiText does (``film's`` -> ``film 's``, ``don't`` -> ``don 't``:
    WikiText-2 has ``'t`` 592 times and no ``n't``). Case is kept.
    """
    text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii() or "`" in text:
        text = text.translate(_TRANSLATE)
    text = _NUM_COMMA.sub("\x01", text)
    text = _NUM_DOT.sub("\x02", text)
    text = _HYPHEN.sub("\x03", text)
    text = _DASHES.sub(" \u2014 ", text)
    text = _DOTS.sub(_dots, text)
    text = _PUNCT.sub(r" \g<0> ", text)
    text = _QUOTE.sub(" ' ", text)
    text = _CLITIC.sub(" '", text)
    for ch, rep in _PLACEHOLDERS:
        if ch in text:
            text = text.replace(ch, rep)
    return text.split()


def tokenize_reviews(texts: list[str]) -> list[list[str]]:
    """:func:`tokenize_review` over many reviews, with a progress bar."""
    return [tokenize_review(t) for t in tqdm(texts, desc="tokenize reviews", unit="review",
                                             mininterval=1.0)]
