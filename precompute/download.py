"""Download official dataset archives into a cache: progress bar, sha256 check, atomic, cached.

The archive is streamed to ``<name>.<pid>.part`` while its sha256 is computed; only a verified
file is renamed to its final name, so a file with the final name in the cache is always complete
and verified, and a second call never downloads again.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20


class DataNotFoundError(Exception):
    """A data set is neither in the data directory nor in the cache (and was not downloaded)."""


class DownloadError(DataNotFoundError):
    """An archive could not be downloaded (network problem, HTTP error)."""


class ChecksumError(DownloadError):
    """A downloaded archive does not have the expected sha256 (the partial file is deleted)."""


@dataclass(frozen=True)
class ArchiveSpec:
    """One official archive: where it lives, its sha256, and the env vars that override both."""

    name: str
    url: str
    sha256: str
    filename: str
    url_env: str
    sha256_env: str

    def resolved_url(self) -> str:
        return os.environ.get(self.url_env) or self.url

    def resolved_sha256(self) -> str:
        return (os.environ.get(self.sha256_env) or self.sha256).strip().lower()


# sha256 of wikitext-2-v1.zip (4,475,746 bytes) as published with the dataset's download checksums
# (Hugging Face `wikitext` dataset_infos; also used by ml-explore/mlx-data and several Julia
# DataDeps registrations). Its SHA-1 3c914d17d80b1459be871a5039ac23e752a53cbe is the one d2l uses.
WIKITEXT2 = ArchiveSpec(
    name="WikiText-2 (v1, tokenized)",
    url="https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
    sha256="92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
    filename="wikitext-2-v1.zip",
    url_env="TXRAY_WIKITEXT2_URL",
    sha256_env="TXRAY_WIKITEXT2_SHA256",
)

# sha256 of aclImdb_v1.tar.gz (84,125,825 bytes) as listed in TensorFlow Datasets' imdb_reviews
# url checksums (also used by Julia's CorpusLoaders DataDeps and other loaders).
IMDB = ArchiveSpec(
    name="IMDB Large Movie Review Dataset v1.0",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    filename="aclImdb_v1.tar.gz",
    url_env="TXRAY_IMDB_URL",
    sha256_env="TXRAY_IMDB_SHA256",
)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fetch(spec: ArchiveSpec, cache_dir: Path, *, timeout: float = 60.0) -> Path:
    """Return the verified archive ``cache_dir/spec.filename``, downloading it once if absent."""
    cache_dir = Path(cache_dir)
    target = cache_dir / spec.filename
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    url, expected = spec.resolved_url(), spec.resolved_sha256()
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=f"download {spec.filename}") as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"could not download {spec.name} from {url}: {e}") from e
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    actual = h.hexdigest()
    if actual != expected:
        part.unlink()
        raise ChecksumError(
            f"checksum mismatch for {spec.name} downloaded from {url}: expected sha256 "
            f"{expected}, got {actual}. The partial file was deleted. The download was corrupted "
            f"or the URL serves a different file: retry, or fix {spec.url_env} / "
            f"{spec.sha256_env} if you point them to a mirror.")
    os.replace(part, target)
    return target
