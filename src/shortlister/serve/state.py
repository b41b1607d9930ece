"""What the service holds in memory: one candidate pool, embedded once per method."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import scipy.sparse as sp

from shortlister.core.errors import ConfigError, DataError
from shortlister.data.clean import CleanConfig, clean_candidates
from shortlister.data.loader import load_candidates
from shortlister.embeddings.base import REGISTRY, available_methods
from shortlister.index.ann import IndexMismatch
from shortlister.ranking.pool import CandidatePool
from shortlister.serve.facets import PoolFacets
from shortlister.serve.method_state import MethodState
from shortlister.serve.second_stage import SECOND_STAGES, llm_config, load_second_stage
from shortlister.serve.settings import ServeSettings

if TYPE_CHECKING:  # torch: imported when a learned ranker is loaded (load_learned), not before
    pass

logger = logging.getLogger(__name__)

DEFAULT_POOL = "default"  # the dataset name the embed stage stores the default pool under


@dataclass
class ServiceState:
    settings: ServeSettings
    pool: pd.DataFrame
    pool_source: str
    methods: dict[str, MethodState]
    unavailable: dict[str, str] = field(default_factory=dict)  # method -> why it is not served

    def __post_init__(self) -> None:
        # Built once, for every method: a 1M pool has no million dicts, one id mapping.
        column = self.pool["id"]
        as_is = pd.api.types.is_string_dtype(column)  # the rankers' own ids are these
        ids: list[str] = column.tolist() if as_is else column.astype(str).tolist()
        self.positions = {cid: i for i, cid in enumerate(ids)}
        self.rows = PoolRows(self.pool)  # JSON-ready candidate fields, made on demand
        self.titles = (ids, TextColumn(self.pool["title"]))  # by row: what method llm sends
        # Per row: country, screening score, headline key; a request's filters mask these.
        self.facets = PoolFacets.build(self.pool)
        # Queries are cleaned with the pool's title settings (data.clean).
        self.clean_config = CleanConfig.from_config(self.settings.clean)
        if as_is:
            for state in self.methods.values():
                for ranker in (state.ranker, getattr(state.ranker, "stars", None)):
                    if isinstance(ranker, CandidatePool) and len(ranker.pool) == len(ids):
                        ranker.ids, ranker.positions = ids, self.positions  # cached_property


class PoolRows(Sequence[dict[str, Any]]):
    """The pool's candidates as JSON-ready rows (`_row`), each made when it is asked for."""

    def __init__(self, pool: pd.DataFrame) -> None:
        self._n, names = len(pool), ("id", "title", "title_raw", "location", "screening_score")
        self._columns = {c: pool[c].array for c in names if c in pool.columns}  # no copies

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        if not -len(self) <= i < len(self):
            raise IndexError(f"pool row {i} out of range (0..{len(self) - 1})")
        return self.take([i])[0]

    def take(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The rows at `positions`, in that order (µs a row: no pandas call per request)."""
        return [_row({c: a[p] for c, a in self._columns.items()}) for p in positions]


class TextColumn(Sequence[str]):
    """One text column by position, without a Python list of every value."""

    def __init__(self, column: pd.Series) -> None:
        self._values = column.array

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i: Any) -> Any:
        return str(self._values[i])


def _row(record: dict[str, Any]) -> dict[str, Any]:
    score = record.get("screening_score")
    if score is None or (isinstance(score, float) and math.isnan(score)):
        score = None
    return {
        "id": str(record["id"]),
        "title": str(record["title"]),
        "title_raw": None if record.get("title_raw") is None else str(record["title_raw"]),
        "location": "" if pd.isna(record.get("location")) else str(record.get("location")),
        "screening_score": None if score is None else float(score),
    }


def load_pool(settings: ServeSettings) -> tuple[pd.DataFrame, str]:
    """The configured candidate file, cleaned; else the pipeline's cleaned default pool."""
    if settings.candidates is None:
        path = Path(settings.paths["interim"]) / "candidates.parquet"
        if not path.exists():
            raise DataError(
                "no cleaned default pool; run `dvc repro clean` or give a candidate file",
                path=path,
            )
        return pd.read_parquet(path).reset_index(drop=True), DEFAULT_POOL
    path = Path(settings.candidates)
    result = clean_candidates(load_candidates(path), CleanConfig.from_config(settings.clean))
    if len(result.rejects):
        logger.warning("%s: %d row(s) rejected while cleaning", path, len(result.rejects))
    if result.clean.empty:
        raise DataError("no candidate left after cleaning", path=path)
    return result.clean.reset_index(drop=True), str(path)


def method_config(settings: ServeSettings, method: str) -> dict[str, Any]:
    if method in settings.method_configs:
        return dict(settings.method_configs[method])
    if method not in available_methods():
        raise ConfigError(
            f"serve.methods: unknown method {method!r}; expected one of {available_methods()}"
        )
    return {"name": method, **asdict(REGISTRY[method].config_class())}


def load_method(
    settings: ServeSettings, pool: pd.DataFrame, pool_source: str, method: str
) -> MethodState:
    """The pipeline's stored embeddings when they are this pool's; else fit at start-up.

    A pool of at least index.min_pool candidates is searched through an ANN index: the
    stored one (<paths.models>/index/<method>/default) for the stored default pool, else
    one built now. A stored index that is not this pool's stops the start-up
    (IndexMismatch): serving it would answer with other candidates' rows.
    """
    t0 = time.perf_counter()
    stem = Path(settings.paths["embeddings"]) / method / DEFAULT_POOL
    index_cfg = settings.index_config
    index_dir = Path(settings.paths["models"]) / "index" / method / DEFAULT_POOL
    kwargs = {**_cache_sizes(settings), "index_depth": settings.max_top_k}
    ranker, index_stored = None, False
    if pool_source == DEFAULT_POOL and Path(f"{stem}.ids.txt").exists():
        try:
            ranker = CandidatePool.from_stored(
                pool,
                Path(settings.paths["models"]) / method / DEFAULT_POOL,
                stem,
                index_cfg=index_cfg,
                index_dir=index_dir,
                **kwargs,
            )
            source = "stored"
            index_stored = ranker.index is not None and (index_dir / "index.json").is_file()
        except IndexMismatch as exc:
            hint = str(exc).replace("index@<method>", f"index@{method}")
            raise IndexMismatch(f"serve: method {method}: {hint}") from exc
        except (DataError, FileNotFoundError) as exc:
            logger.warning("%s: stored embeddings not usable (%s)", method, exc)
    if ranker is None:
        if method not in settings.fit_methods:
            raise DataError(
                f"no stored embeddings for this pool and {method} is not in serve.fit_methods "
                f"{list(settings.fit_methods)}"
            )
        cfg = method_config(settings, method)
        ranker = CandidatePool.fit(pool, cfg, index_cfg=index_cfg, **kwargs)
        source = "fitted"
    _serve_ready(ranker)
    state = MethodState(method, ranker, source, time.perf_counter() - t0, index_stored=index_stored)
    if state.index_info() is not None:
        logger.info("%s: searched through an index %s", method, state.index_info())
    return state


def _cache_sizes(settings: ServeSettings) -> dict[str, int]:
    return {
        "query_cache_size": settings.query_cache_size,
        "score_cache_bytes": int(settings.score_cache_mb * 2**20),
    }


def _serve_ready(ranker: CandidatePool) -> None:
    # Sentence-BERT's disk cache rewrites its file after every new text: right for pools,
    # wrong for one query per request. Queries are cached in memory (the ranker's LRU).
    config = ranker.embedder.config
    if getattr(config, "cache_dir", None) is not None:
        config.cache_dir = None
    # Loads lazily-built models (Sentence-BERT: seconds) now, not on the first request;
    # the no-match floor (one sampled pass over the pool) too.
    ranker.embedder.encode(["warm up"])
    _ = ranker.match_floor


def load_learned(
    settings: ServeSettings, pool: pd.DataFrame, methods: dict[str, MethodState]
) -> MethodState:
    """The trained ranker of settings.ltr_model_dir over this pool, indexed once.

    When the served `sbert` method uses the ranker's Sentence-BERT model, its embedder and
    pool vectors are reused (no second model load or pool encoding).
    """
    from shortlister.ranking.ltr.io import load_ltr_ranker
    from shortlister.ranking.ltr.pool import LearnedRanker

    t0 = time.perf_counter()
    model_dir = Path(str(settings.ltr_model_dir))
    if not model_dir.is_dir():
        raise FileNotFoundError(
            f"no trained ranker at {model_dir} (run `python -m shortlister.stages.ranker "
            f"--name {model_dir.name}` first, or set serve.ltr_model_dir)"
        )
    sbert, sbert_matrix = _shared_sbert(settings, model_dir, methods.get("sbert"))
    ltr = load_ltr_ranker(model_dir, sbert=sbert)
    config = getattr(ltr.sbert, "config", None)
    if getattr(config, "cache_dir", None) is not None:  # see _serve_ready
        config.cache_dir = None
    learned = LearnedRanker.build(ltr, pool, sbert_matrix=sbert_matrix, **_cache_sizes(settings))
    _ = learned.stars.match_floor  # computed at start-up, not on the first request
    return MethodState(ltr.name, learned, "trained", time.perf_counter() - t0)


def _shared_sbert(
    settings: ServeSettings, model_dir: Path, served: MethodState | None
) -> tuple[Any, Any]:
    """(embedder, pool matrix) of the served sbert method when it is the ranker's model."""
    if served is None or not isinstance(served.ranker, CandidatePool):
        return None, None
    try:
        from shortlister.ranking.features import FeatureConfig
        from shortlister.ranking.ltr.io import FEATURES_FILE

        wanted = FeatureConfig.load(model_dir / FEATURES_FILE).sbert
    except (OSError, ValueError, TypeError, ConfigError):
        return None, None
    config = served.ranker.embedder.config
    default_model = getattr(type(config)(), "model", None)
    if wanted.get("name", "sbert") != "sbert" or wanted.get("model", default_model) != getattr(
        config, "model", None
    ):
        return None, None
    matrix = served.ranker.matrix
    if sp.issparse(matrix):
        return served.ranker.embedder, None
    return served.ranker.embedder, matrix


def build_state(settings: ServeSettings) -> ServiceState:
    pool, source = load_pool(settings)
    methods: dict[str, MethodState] = {}
    unavailable: dict[str, str] = {}
    try:
        llm_cfg = llm_config(settings)
    except ConfigError:
        llm_cfg = None  # reported when method llm is loaded, below
    for method in settings.methods:
        if method == settings.ltr_name or method in SECOND_STAGES:
            continue  # the learned ranker and the second stages, loaded below
        try:
            methods[method] = load_method(settings, pool, source, method)
        except IndexMismatch:
            raise  # a stale index is fixed by rebuilding it, not by serving without it
        except (DataError, ConfigError, FileNotFoundError, ImportError) as exc:
            if method == settings.method and not settings.method_from_pipeline:
                raise
            unavailable[method] = str(exc)
            logger.warning("method %s not served: %s", method, exc)
            continue
        logger.info(
            "%s ready: %d candidates (%s, %.2fs)",
            method,
            len(pool),
            methods[method].source,
            methods[method].load_seconds,
        )
    if settings.ltr_model_dir:
        try:
            state = load_learned(settings, pool, methods)
        except (DataError, ConfigError, FileNotFoundError, ImportError, ValueError) as exc:
            if settings.method == settings.ltr_name:
                raise
            unavailable[str(settings.ltr_name)] = str(exc)
            logger.warning("learned ranker %s not served: %s", settings.ltr_name, exc)
        else:
            methods[state.name] = state
            logger.info(
                "%s ready: %d candidates indexed (%.2fs)", state.name, len(pool), state.load_seconds
            )
    for name in (m for m in SECOND_STAGES if m in settings.methods):
        try:
            methods[name] = load_second_stage(name, settings, llm_cfg, methods)
        except Exception as exc:  # an optional model: any failure to load it is reported
            if settings.method == name:
                raise ConfigError(f"serve: method {name} cannot be served: {exc}") from exc
            unavailable[name] = str(exc)
            logger.warning("method %s not served: %s", name, exc)
    if settings.method not in methods:
        settings.method = fallback_default(settings, methods, unavailable)
    return ServiceState(settings, pool, source, methods, unavailable)


def fallback_default(
    settings: ServeSettings, methods: Mapping[str, MethodState], unavailable: Mapping[str, str]
) -> str:
    """The request default when the pipeline's selected method could not be loaded."""
    order = [settings.fallback_method, *settings.methods]
    chosen = next((m for m in order if m in methods), None)
    if chosen is None:
        raise ConfigError(f"serve: no method could be served: {dict(unavailable)}")
    logger.warning(
        "default method %s not served (%s); requests default to %s",
        settings.method,
        unavailable.get(str(settings.method), "not loaded"),
        chosen,
    )
    return chosen
