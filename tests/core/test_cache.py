"""Repository-local, self-validating caches: a stale or partial entry is rebuilt, never used."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from shortlister.core import cache
from shortlister.core.cache import (
    MARKER,
    build_entry,
    cache_dir,
    cache_key,
    folder_digest,
    is_complete,
    last_complete_checkpoint,
)

ROOT = Path(__file__).resolve().parents[2]


def _writer(calls: list, text: str = "weights"):
    def write(folder: Path) -> None:
        calls.append(folder)
        folder.mkdir()
        (folder / "model.bin").write_text(text)

    return write


def test_an_entry_is_built_once_and_reused(tmp_path: Path) -> None:
    calls: list = []
    key = cache_key({"sha256": "abc", "versions": {"torch": "1"}})
    first = build_entry(tmp_path / "entry", key, _writer(calls))
    assert build_entry(tmp_path / "entry", key, _writer(calls)) == first and len(calls) == 1
    assert is_complete(first, key) and (first / "model.bin").read_text() == "weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]  # no scratch left


def test_an_entry_without_its_marker_is_rebuilt_not_used(tmp_path: Path) -> None:
    """A folder cut short (or copied half-way) has no marker: it is removed and rebuilt."""
    key = cache_key({"sha256": "abc"})
    partial = tmp_path / "entry"
    partial.mkdir()
    (partial / "model.bin").write_text("half")  # what an interrupted write leaves
    calls: list = []
    entry = build_entry(partial, key, _writer(calls))
    assert len(calls) == 1 and (entry / "model.bin").read_text() == "weights"
    assert is_complete(entry, key)


def test_an_entry_of_another_key_is_rebuilt(tmp_path: Path) -> None:
    calls: list = []
    old = cache_key({"sha256": "abc", "versions": {"transformers": "4"}})
    new = cache_key({"sha256": "abc", "versions": {"transformers": "5"}})
    build_entry(tmp_path / "entry", old, _writer(calls, "old"))
    entry = build_entry(tmp_path / "entry", new, _writer(calls, "new"))
    assert len(calls) == 2 and (entry / "model.bin").read_text() == "new"
    (entry / MARKER).write_text("{not json")  # a torn marker is no marker
    assert not is_complete(entry, new)


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def write(folder: Path) -> None:
        folder.mkdir()
        (folder / "model.bin").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_entry(tmp_path / "entry", "k", write)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_checkpoints_are_skipped_and_removed(tmp_path: Path) -> None:
    assert last_complete_checkpoint(tmp_path / "none") is None
    for step in (50, 100):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_text("w")
    (tmp_path / "checkpoint-50" / "trainer_state.json").write_text("{}")
    # checkpoint-100 was cut mid-save (trainer_state.json is written last)
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-50")
    assert not (tmp_path / "checkpoint-100").exists()


def test_folder_digest_follows_content_not_names_of_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_text("w1")
    (tmp_path / "README.md").write_text("card")
    first = folder_digest(tmp_path, skip=("README.md",))
    (tmp_path / "README.md").write_text("another card, same weights")
    assert folder_digest(tmp_path, skip=("README.md",)) == first
    (tmp_path / "model.safetensors").write_text("w2")  # retrained in place
    assert folder_digest(tmp_path, skip=("README.md",)) != first


def test_defaults_are_repository_local_unless_the_env_says(monkeypatch) -> None:
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    assert cache_dir("sbert") == ".cache/sbert"
    monkeypatch.setenv(cache.CACHE_ENV, "/srv/shortlister-cache")
    assert cache_dir("sbert") == "/srv/shortlister-cache/sbert"
    monkeypatch.setenv("MY_CACHE", "/data")
    assert cache.cache_path("$MY_CACHE/x") == Path("/data/x")  # a user's own path keeps working
    assert cache.cache_path("~/x") == Path.home() / "x"


def test_built_in_cache_defaults_are_the_configs(monkeypatch) -> None:
    """The CLI and service without params.yaml cache where the pipeline does."""
    from shortlister.embeddings.distributed import RayConfig
    from shortlister.embeddings.sbert import SbertConfig
    from shortlister.encoder.train import TrainConfig

    monkeypatch.delenv(cache.CACHE_ENV, raising=False)

    def conf(*parts: str) -> dict:
        return yaml.safe_load((ROOT / "conf").joinpath(*parts).read_text())

    assert SbertConfig().cache_dir == conf("embeddings", "sbert.yaml")["cache_dir"]
    assert SbertConfig().cache_dir == conf("embeddings", "sbert-tuned.yaml")["cache_dir"]
    assert RayConfig().shard_dir == conf("embed", "default.yaml")["ray"]["shard_dir"]
    assert (
        TrainConfig().checkpoint_dir == conf("encoder", "default.yaml")["train"]["checkpoint_dir"]
    )
    for value in (asdict(SbertConfig())["cache_dir"], RayConfig().shard_dir):
        assert value.startswith(".cache/")


def test_embedding_cache_without_its_marker_is_not_used(tmp_path: Path) -> None:
    from shortlister.embeddings.cache import EmbeddingCache

    calls: list = []

    def encoder(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 3), dtype=np.float32)

    first = EmbeddingCache(tmp_path, "ns", ident="model-a")
    first.encode(["a", "b"], encoder)
    first.flush()
    assert (tmp_path / "ns" / MARKER).is_file()
    again = EmbeddingCache(tmp_path, "ns", ident="model-a")
    assert again.encode(["a", "b"], encoder)[1] == 0  # complete: reused
    (tmp_path / "ns" / MARKER).unlink()  # a flush cut between its renames
    broken = EmbeddingCache(tmp_path, "ns", ident="model-a")
    assert broken.encode(["a", "b"], encoder)[1] == 2  # not trusted: encoded again
    broken.flush()
    assert EmbeddingCache(tmp_path, "ns", ident="model-a").encode(["a", "b"], encoder)[1] == 0
    # The same folder holding another model's vectors is never read as this model's.
    assert EmbeddingCache(tmp_path, "ns", ident="model-b").encode(["a"], encoder)[1] == 1
