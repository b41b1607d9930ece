"""A content-hash cache of text embeddings, so repeated titles and re-runs are not re-encoded."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from shortlister.core.cache import MARKER, cache_key, cache_path, entry_key, write_marker

logger = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors of one model, keyed by the SHA-1 of the text.

    Stored as `<dir>/<namespace>/vectors.npy` (float32) + `keys.txt`, loaded whole on first
    use: one read of a contiguous array beats a key-value store for the 10k-1M short
    titles this project sees. Writes go to a temp file and are renamed, so an interrupted
    run never leaves a torn file; the marker (`MARKER`: the namespace's `ident`, the row
    count and the keys' digest) is written after both, so a pair it does not describe (a
    flush cut between the two renames, a copied or hand-edited folder) is never used.
    """

    def __init__(self, directory: str | Path, namespace: str, ident: str = "") -> None:
        self.root = cache_path(directory) / namespace
        self.ident = ident or namespace
        self._index: dict[str, int] | None = None
        self._vectors: np.ndarray | None = None
        self._pending_keys: list[str] = []
        self._pending: list[np.ndarray] = []

    def _load(self) -> None:
        if self._index is not None:
            return
        keys_path, vec_path = self.root / "keys.txt", self.root / "vectors.npy"
        self._index, self._vectors = {}, None
        if keys_path.exists() and vec_path.exists():
            text = keys_path.read_text()
            keys = text.split()
            vectors = np.load(vec_path)
            if len(keys) == len(vectors) and entry_key(self.root) == self._key(text, len(keys)):
                self._index = {k: i for i, k in enumerate(keys)}
                self._vectors = vectors
            else:  # a pair its marker does not describe cannot be trusted; start again
                logger.warning(
                    "%s: keys, vectors and marker disagree (or no marker); ignoring the cache",
                    self.root,
                )

    def _key(self, keys_text: str, rows: int) -> str:
        return cache_key({"ident": self.ident, "rows": rows, "keys": text_key(keys_text)})

    def __len__(self) -> int:
        self._load()
        return len(self._index) + len(self._pending_keys)

    def encode(
        self, texts: Sequence[str], encoder: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts` (in order), calling `encoder` only on unseen distinct texts.

        Returns the vectors and how many texts were encoded.
        """
        self._load()
        unique = list(dict.fromkeys(texts))
        keys = [text_key(t) for t in unique]
        missing = [i for i, k in enumerate(keys) if k not in self._index]
        if missing:
            fresh = np.asarray(encoder([unique[i] for i in missing]), dtype=np.float32)
            self._append([keys[i] for i in missing], fresh)
        rows = np.array([self._index[k] for k in keys], dtype=np.int64)
        by_text = dict(zip(unique, range(len(unique)), strict=True))
        vectors = self._vectors[rows]
        return vectors[[by_text[t] for t in texts]], len(missing)

    def _append(self, keys: list[str], vectors: np.ndarray) -> None:
        start = 0 if self._vectors is None else len(self._vectors)
        self._vectors = vectors if self._vectors is None else np.vstack([self._vectors, vectors])
        self._index.update({k: start + i for i, k in enumerate(keys)})
        self._pending_keys.extend(keys)

    def flush(self) -> None:
        """Persist what was added since the last flush."""
        if not self._pending_keys:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._index, key=self._index.__getitem__)
        tmp_vec = self.root / f"vectors.{os.getpid()}.tmp.npy"
        tmp_keys = self.root / f"keys.{os.getpid()}.tmp"
        text = "\n".join(keys) + "\n"
        np.save(tmp_vec, self._vectors)
        tmp_keys.write_text(text)
        (self.root / MARKER).unlink(missing_ok=True)  # the pair is in flux until re-marked
        os.replace(tmp_vec, self.root / "vectors.npy")
        os.replace(tmp_keys, self.root / "keys.txt")
        write_marker(self.root, self._key(text, len(keys)), {"ident": self.ident})
        logger.info("embedding cache %s: %d vectors", self.root, len(keys))
        self._pending_keys.clear()
