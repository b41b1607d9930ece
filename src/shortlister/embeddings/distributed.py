"""Batch embedding on Ray Data (`embed.engine: ray`): the same vectors as the local path.

The driver keeps what the local path keeps: the content-hash embedding cache
(`EmbeddingCache`) is looked up first and only the distinct titles it has never seen go to
Ray; their vectors are added to the cache afterwards, and the pool's matrix is assembled
from it exactly as `SbertEmbedder.encode` does. (Doing the lookup on the driver, not in
each actor, means one cache file with one writer, and a re-run of a cached pool starts no
cluster at all.)

The unseen titles are cut, in first-appearance order, into shards of `shard_rows`. A shard
is named `<index>-<key>.npy`, the key hashing the encoder's cache identity and the shard's
titles, so a changed pool or model never reuses a stale shard. Shards already on disk are
skipped (resume after an interruption); the rest are written as a Parquet file that
`ray.data.read_parquet` reads, encoded by `map_batches` actors (one encoder loaded per
actor), streamed back to the driver and written shard by shard. Every row carries its
shard and position, so the output order never depends on which actor finished first.

Only dense neural methods run here (`RAY_METHODS`); `ray` is imported inside functions so
importing this module stays light.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shortlister.core.cache import cache_dir, cache_path
from shortlister.core.checks import check_int
from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import Embedder, build_embedder, l2_normalise

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
RAY_METHODS = ("sbert", "sbert-tuned")
# embed.ray.backend (sbert-tuned only): `method` keeps methods.sbert-tuned.backend.
RAY_BACKENDS = ("method", "torch", "onnx", "onnx-int8")


@dataclass
class RayConfig:
    address: str | None = None  # None: ray.init() on this machine; else passed unchanged
    num_workers: int = 2  # encoder actors (the map_batches actor pool size)
    cpus_per_worker: int = 1  # CPUs each actor reserves, and its torch/ONNX threads
    num_cpus: int | None = None  # local ray.init's CPUs; None: workers * cpus + 1 (the reader)
    batch_size: int = 512  # rows per map_batches call (the encoder batches inside it)
    shard_rows: int = 10000  # rows per shard file: the unit of resume
    # sbert-tuned: torch, the measured choice (docs/embed_ray.md: int8 is batch-dependent)
    backend: str = "torch"  # method | torch | onnx | onnx-int8
    # In the repository's .cache/ (keyed by model and titles); None: <emb_dir>/<ds>.shards
    shard_dir: str | None = field(default_factory=lambda: cache_dir("embed-shards"))
    keep_shards: bool = False  # keep shard files after a successful run
    progress: bool = True  # a tqdm bar of titles embedded (Ray Data's own bars are off)
    runtime_env: dict[str, Any] | None = None  # for a cluster: e.g. {"pip": [...]}

    def __post_init__(self) -> None:
        for name in ("num_workers", "cpus_per_worker", "batch_size", "shard_rows"):
            check_int(f"embed.ray.{name}", getattr(self, name), minimum=1)
        if self.num_cpus is not None:
            check_int("embed.ray.num_cpus", self.num_cpus, minimum=1)
        if self.backend not in RAY_BACKENDS:
            raise ConfigError(
                f"embed.ray.backend must be one of {RAY_BACKENDS}, got {self.backend!r}"
            )


@dataclass
class EmbedConfig:
    engine: str = "local"
    ray: RayConfig = field(default_factory=RayConfig)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> EmbedConfig:
        cfg = dict(cfg or {})
        engine = cfg.pop("engine", "local")
        if engine not in ENGINES:
            raise ConfigError(f"embed.engine must be one of {ENGINES}, got {engine!r}")
        ray_cfg = dict(cfg.pop("ray", None) or {})
        if cfg:
            raise ConfigError(f"embed: unknown key(s) {sorted(cfg)}; expected engine, ray")
        known = set(RayConfig.__dataclass_fields__)
        unknown = sorted(set(ray_cfg) - known)
        if unknown:
            raise ConfigError(
                f"embed.ray: unknown key(s) {unknown}; expected some of {sorted(known)}"
            )
        return cls(engine, RayConfig(**ray_cfg))


def ray_unsupported(method_cfg: Mapping[str, Any]) -> str | None:
    """Why this method cannot run on Ray (None: it can)."""
    name = method_cfg.get("name")
    if name in RAY_METHODS:
        return None
    return (
        f"embed.engine=ray supports only the dense neural methods {list(RAY_METHODS)}; "
        f"{name!r} is fitted on the pool in one process, so it runs locally"
    )


def resolve_backend(method_cfg: Mapping[str, Any], ray: RayConfig) -> dict[str, Any]:
    """The method config the engine runs: sbert-tuned gets the configured backend."""
    cfg = dict(method_cfg)
    if cfg.get("name") != "sbert-tuned" or ray.backend == "method":
        return cfg
    cfg["backend"] = ray.backend
    return cfg


def init_kwargs(ray: RayConfig) -> dict[str, Any]:
    """ray.init's arguments: a cluster address is passed unchanged; else a local instance."""
    kwargs: dict[str, Any] = {"log_to_driver": False}
    if ray.runtime_env:
        kwargs["runtime_env"] = dict(ray.runtime_env)
    if ray.address is not None:
        return {"address": ray.address, **kwargs}
    num_cpus = ray.num_cpus or ray.num_workers * ray.cpus_per_worker + 1
    return {"num_cpus": num_cpus, "include_dashboard": False, **kwargs}


def shard_key(ident: str, titles: Sequence[str]) -> str:
    digest = hashlib.sha1(ident.encode("utf-8"))
    for title in titles:
        digest.update(b"\0" + title.encode("utf-8"))
    return digest.hexdigest()[:16]


class EncodeActor:
    """A map_batches actor: one encoder, loaded once, with `threads` torch/ONNX threads."""

    def __init__(self, method_cfg: dict[str, Any], threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        # Cache off (the driver owns it) and no per-call progress bar (the driver has one).
        cfg = {**method_cfg, "cache_dir": None, "progress_min": 1 << 62}
        self.embedder = build_embedder(cfg)
        if cfg.get("backend", "torch") != "torch":
            from shortlister.embeddings.onnx import OnnxEncoder

            self.embedder._onnx = OnnxEncoder(
                self.embedder._model_dir(),
                int8=cfg["backend"] == "onnx-int8",
                max_seq_length=self.embedder.config.max_seq_length,
                threads=threads,
            )
        self.embedder.fit([])
        self.ready_at = time.time()  # wall clock: start-up vs steady state in the stats

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["title"]])
        n = len(vectors)
        return {
            "shard": batch["shard"],
            "pos": batch["pos"],
            "vector": vectors,
            "ready_at": np.full(n, self.ready_at),
            "done_at": np.full(n, time.time()),
        }


@dataclass
class RayStats:
    n_unique_sent: int = 0  # distinct titles that needed encoding (not in the cache)
    shards_total: int = 0
    shards_skipped: int = 0  # already on disk (resume)
    shards_embedded: int = 0
    n_encoded: int = 0  # titles the actors encoded in this run
    init_s: float = 0.0  # ray.init (0 when Ray was already up or not needed)
    first_batch_s: float = 0.0  # pipeline start (read + actor start + model load) to 1st batch
    first_batch_rows: int = 0
    actor_ready_s: float = 0.0  # pipeline start to the first actor's model loaded
    steady_s: float = 0.0  # the first actor ready to the last batch encoded
    pipeline_s: float = 0.0  # pipeline start to the last shard written

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


class RayEngine:
    """Encodes a pool with Ray Data; `encode` returns what `SbertEmbedder.encode` would."""

    def __init__(self, method_cfg: Mapping[str, Any], ray: RayConfig, work_dir: str | Path):
        reason = ray_unsupported(method_cfg)
        if reason:
            raise ConfigError(reason)
        self.ray = ray
        self.cfg = resolve_backend(method_cfg, ray)
        self.embedder: Embedder = build_embedder(self.cfg)  # the driver never loads the model
        self.work_dir = cache_path(work_dir).resolve()  # Ray read tasks run elsewhere
        self.stats = RayStats()

    def encode(self, titles: Sequence[str]) -> np.ndarray:
        titles = list(titles)
        if not titles:  # nothing for Ray to do; the local embedder knows the dimension
            return self.embedder.encode([])
        cache = self.embedder.cache
        if cache is None:
            unique, inverse = np.unique(np.asarray(titles, dtype=object), return_inverse=True)
            return l2_normalise(self._encode_distinct([str(t) for t in unique])[inverse])
        vectors, n_new = cache.encode(titles, self._encode_distinct)
        if n_new:
            cache.flush()
        return l2_normalise(vectors)

    def _encode_distinct(self, titles: list[str]) -> np.ndarray:
        """Vectors of distinct titles, in order, via shards (skipping those on disk)."""
        self.stats.n_unique_sent = len(titles)
        ident = self.embedder._cache_ident()
        rows = self.ray.shard_rows
        plan = []
        for index in range(math.ceil(len(titles) / rows)):
            chunk = titles[index * rows : (index + 1) * rows]
            plan.append(
                (index, chunk, self.work_dir / f"{index:05d}-{shard_key(ident, chunk)}.npy")
            )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        wanted = {path.name for _, _, path in plan}
        for stale in self.work_dir.glob("*.npy"):  # another pool's or model's shards
            if stale.name not in wanted:
                stale.unlink()
        pending = [(i, chunk, path) for i, chunk, path in plan if not path.is_file()]
        self.stats.shards_total = len(plan)
        self.stats.shards_skipped = len(plan) - len(pending)
        if pending:
            self._run_ray(pending)
        out = np.concatenate([np.load(path) for _, _, path in plan]) if plan else None
        if not self.ray.keep_shards:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return out

    def _run_ray(self, pending: list[tuple[int, list[str], Path]]) -> None:
        import pandas as pd
        import ray

        started = False
        if not ray.is_initialized():
            t0 = time.perf_counter()
            ray.init(**init_kwargs(self.ray))
            self.stats.init_s = round(time.perf_counter() - t0, 3)
            started = True
        try:
            frame = pd.DataFrame(
                [(i, pos, t) for i, chunk, _ in pending for pos, t in enumerate(chunk)],
                columns=["shard", "pos", "title"],
            )
            self._stream(frame, {i: (len(chunk), path) for i, chunk, path in pending})
        finally:
            if started:
                ray.shutdown()

    def _dataset(self, frame):
        import ray

        n_blocks = max(1, math.ceil(len(frame) / self.ray.batch_size))
        if self.ray.address is None:  # the Parquet file is visible to this machine's workers
            path = self.work_dir / "pending.parquet"
            frame.to_parquet(path, index=False, row_group_size=self.ray.batch_size)
            # One file is one read task: split it so every actor gets batches.
            return ray.data.read_parquet(str(path)).repartition(n_blocks)
        # A cluster may not see this disk: ship the rows through the object store.
        return ray.data.from_pandas(frame, override_num_blocks=n_blocks)

    def _stream(self, frame, shards: dict[int, tuple[int, Path]]) -> None:
        import ray
        from tqdm.auto import tqdm

        ray.data.DataContext.get_current().enable_progress_bars = False
        actor_cfg = dict(self.cfg)
        model = actor_cfg.get("model")
        if model and Path(model).expanduser().is_dir():  # workers do not run in this directory
            actor_cfg["model"] = str(Path(model).expanduser().resolve())
        t0, wall0 = time.perf_counter(), time.time()
        ready, done = math.inf, 0.0
        ds = self._dataset(frame).map_batches(
            EncodeActor,
            fn_constructor_kwargs={"method_cfg": actor_cfg, "threads": self.ray.cpus_per_worker},
            compute=ray.data.ActorPoolStrategy(size=self.ray.num_workers),
            num_cpus=self.ray.cpus_per_worker,
            batch_size=self.ray.batch_size,
            batch_format="numpy",
        )
        buffers: dict[int, np.ndarray] = {}
        filled: dict[int, int] = {}
        bar = tqdm(
            total=len(frame), unit="title", desc="embed (ray)", disable=not self.ray.progress
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            if not self.stats.first_batch_s:
                self.stats.first_batch_s = round(time.perf_counter() - t0, 3)
                self.stats.first_batch_rows = len(batch["pos"])
            vectors = np.asarray(batch["vector"], dtype=np.float32)
            ready, done = min(ready, batch["ready_at"].min()), max(done, batch["done_at"].max())
            for shard in np.unique(batch["shard"]):
                mask = batch["shard"] == shard
                size, path = shards[int(shard)]
                if int(shard) not in buffers:
                    buffers[int(shard)] = np.zeros((size, vectors.shape[1]), dtype=np.float32)
                    filled[int(shard)] = 0
                buffers[int(shard)][batch["pos"][mask]] = vectors[mask]
                filled[int(shard)] += int(mask.sum())
                if filled[int(shard)] == size:  # complete: persist it now (resume point)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                    np.save(tmp, buffers.pop(int(shard)))
                    os.replace(tmp, path)
                    self.stats.shards_embedded += 1
            self.stats.n_encoded += len(vectors)
            bar.update(len(vectors))
        bar.close()
        self.stats.pipeline_s = round(time.perf_counter() - t0, 3)
        if done:
            self.stats.actor_ready_s = round(float(ready - wall0), 3)
            self.stats.steady_s = round(float(done - ready), 3)
        (self.work_dir / "pending.parquet").unlink(missing_ok=True)
        missing = [i for i, (_, path) in shards.items() if not path.is_file()]
        if missing:
            raise RuntimeError(f"Ray returned no vectors for shard(s) {missing[:5]}")


def embed_with_ray(
    method_cfg: Mapping[str, Any], titles: Sequence[str], ray: RayConfig, work_dir: str | Path
) -> tuple[np.ndarray, Embedder, dict[str, float]]:
    """(L2-normalised matrix, the embedder to save, stats) of `titles` encoded on Ray."""
    engine = RayEngine(method_cfg, ray, work_dir)
    matrix = engine.encode(titles)
    return matrix, engine.embedder, engine.stats.as_dict()
