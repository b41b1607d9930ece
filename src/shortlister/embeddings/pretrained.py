"""Word vectors not trained here: a pretrained vectors file (its format detected from the
suffix and content, every row checked), or arrays wrapped as gensim KeyedVectors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shortlister.core.errors import DataError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

logger = logging.getLogger(__name__)

PRETRAINED_FORMATS = (
    "GloVe .txt (no header), word2vec .txt/.vec (header '<count> <dim>') or .bin "
    "(binary), or fastText .bin (load_facebook_vectors, keeps subwords)"
)
_FASTTEXT_MAGIC = 793712314  # first int32 of every fastText .bin file
GLOVE_TEXT = "GloVe text (no header)"
WORD2VEC_TEXT = "word2vec text (with header)"
WORD2VEC_BINARY = "word2vec binary"
FASTTEXT_BINARY = "fastText binary"



def load_pretrained_vectors(path: str | Path) -> KeyedVectors:
    """Load word vectors from a file; the format is detected from the suffix and content.

    Raises DataError naming the file and the expected format when it is missing, of an
    unknown kind, or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"pretrained vectors file not found; expected {PRETRAINED_FORMATS}", path=path
        )
    kind = _detect_format(path)
    if kind in (GLOVE_TEXT, WORD2VEC_TEXT):
        _check_text_rows(path, has_header=kind == WORD2VEC_TEXT)
    try:
        vectors = _read_vectors(path, kind)
    except Exception as exc:  # gensim raises many types on a bad file; all mean "garbled"
        raise DataError(
            f"cannot read as {kind} ({exc!r}); expected {PRETRAINED_FORMATS}", path=path
        ) from exc
    if len(vectors) == 0 or not np.isfinite(vectors.vectors).all():
        raise DataError(
            f"read as {kind} but found no finite vectors; expected {PRETRAINED_FORMATS}", path=path
        )
    logger.info(
        "loaded %d pretrained vectors (dim %d) from %s as %s",
        len(vectors),
        vectors.vector_size,
        path,
        kind,
    )
    return vectors


def _detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".bin":
        with path.open("rb") as fh:
            magic = int.from_bytes(fh.read(4), "little")
        return FASTTEXT_BINARY if magic == _FASTTEXT_MAGIC else WORD2VEC_BINARY
    if suffix in (".txt", ".vec"):
        # word2vec text files start with "<count> <dim>"; GloVe files start with a word.
        try:
            with path.open(encoding="utf-8") as fh:
                parts = fh.readline().split()
        except UnicodeDecodeError as exc:
            raise DataError(
                f"cannot read as UTF-8 text ({exc}); expected {PRETRAINED_FORMATS}", path=path
            ) from exc
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return WORD2VEC_TEXT
        return GLOVE_TEXT
    raise DataError(
        f"unknown pretrained vectors suffix {suffix!r}; expected {PRETRAINED_FORMATS}", path=path
    )


def _check_text_rows(path: Path, *, has_header: bool) -> None:
    """Every row must be a word and `dim` numbers: gensim silently broadcasts a short row."""
    kind = WORD2VEC_TEXT if has_header else GLOVE_TEXT
    expected = f"{kind}; expected {PRETRAINED_FORMATS}"
    try:
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
            if has_header:
                count, dim = (int(x) for x in first.split())
                n_rows, lines = 0, enumerate(fh, start=2)
            else:
                count, dim = None, len(first.rstrip().split(" ")) - 1
                n_rows, lines = 0, enumerate([first, *fh], start=1)
            for row, line in lines:
                n_fields = len(line.rstrip().split(" "))
                if dim < 1 or n_fields != dim + 1:
                    raise DataError(
                        f"expected a word and {dim} numbers, got {n_fields - 1} value(s) "
                        f"(reading as {expected})",
                        path=path,
                        row=row,
                    )
                n_rows += 1
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc}); reading as {expected}", path=path) from exc
    if count is not None and n_rows != count:
        raise DataError(
            f"header announces {count} vectors but {n_rows} follow (reading as {expected})",
            path=path,
        )


def _read_vectors(path: Path, kind: str) -> KeyedVectors:
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    if kind == FASTTEXT_BINARY:
        return load_facebook_vectors(str(path))
    return KeyedVectors.load_word2vec_format(
        str(path), binary=kind == WORD2VEC_BINARY, no_header=kind == GLOVE_TEXT
    )


def vectors_from_arrays(words: Sequence[str], matrix: np.ndarray) -> KeyedVectors:
    """Wrap a (len(words), dim) array as gensim KeyedVectors."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=matrix.shape[1])
    kv.add_vectors(list(words), np.asarray(matrix, dtype=np.float32))
    return kv
