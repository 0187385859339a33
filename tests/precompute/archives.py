"""Small archives in the official WikiText-2 / aclImdb layouts, from slices of the real data."""

from __future__ import annotations

import csv
import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

SPLITS = ("train", "valid", "test")


def real_data_dir() -> Path:
    """$TXRAY_DATA_DIR, or skip the test with the reason."""
    env = os.environ.get("TXRAY_DATA_DIR")
    if not env:
        pytest.skip("TXRAY_DATA_DIR is not set: point it to the shared data (e.g. "
                    "TXRAY_DATA_DIR=/work/shared/data) to run tests on the real data")
    return Path(env)


def wikitext_slice(data: Path, n_lines: int) -> dict[str, bytes]:
    """The first ``n_lines`` lines (bytes, blank lines included) of each WikiText-2 split."""
    out = {}
    for s in SPLITS:
        with open(data / "wikitext-2" / f"wiki.{s}.tokens", "rb") as f:
            out[s] = b"".join(f.readline() for _ in range(n_lines))
    return out


def imdb_rows(data: Path, per_class: int) -> dict[str, list[dict[str, str]]]:
    """``per_class`` neg and pos rows of each IMDB split (CSV order: neg first, by review id)."""
    out = {}
    for s in ("train", "test"):
        with gzip.open(data / "imdb" / f"{s}.csv.gz", "rt", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        neg = [r for r in rows if r["label"] == "0"][:per_class]
        pos = [r for r in rows if r["label"] == "1"][:per_class]
        out[s] = neg + pos
    return out


def write_wikitext_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for s, data in files.items():
            zf.writestr(f"wikitext-2/wiki.{s}.tokens", data)
    return path


def write_acl_tarball(path: Path, rows: dict[str, list[dict[str, str]]]) -> Path:
    """aclImdb_v1.tar.gz layout, plus members the loader must ignore (README, unsup, vocab)."""
    def add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w:gz") as tf:
        add(tf, "aclImdb/README", b"Large Movie Review Dataset v1.0\n")
        add(tf, "aclImdb/imdb.vocab", b"the\nand\n")
        add(tf, "aclImdb/train/unsup/0_0.txt", b"an unlabelled review")
        for split_rows in reversed(list(rows.values())):
            for r in reversed(split_rows):
                add(tf, f"aclImdb/{r['file']}", r["text"].encode("utf-8"))
    return path


def write_acl_folder(root: Path, rows: dict[str, list[dict[str, str]]]) -> Path:
    for split_rows in rows.values():
        for r in split_rows:
            p = root / "aclImdb" / r["file"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(r["text"], encoding="utf-8")
    (root / "aclImdb" / "train" / "unsup").mkdir(parents=True, exist_ok=True)
    (root / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf-8")
    return root


def write_imdb_csvs(root: Path, rows: dict[str, list[dict[str, str]]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for s, split_rows in rows.items():
        with gzip.open(root / f"{s}.csv.gz", "wt", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["text", "label", "rating", "file"],
                               lineterminator="\n")
            w.writeheader()
            w.writerows(split_rows)
    return root
