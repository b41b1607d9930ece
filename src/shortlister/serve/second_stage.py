"""The service's second stages: method `llm` and method `cross-encoder`, each re-ranking
the top of a first-stage method's list (loaded after the first stages, in build_state)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from shortlister.core.errors import ConfigError
from shortlister.embeddings.base import available_methods
from shortlister.serve.cross_rerank import CROSS_METHOD, CrossStage
from shortlister.serve.llm_rerank import LLM_METHOD, LLMStage
from shortlister.serve.method_state import MethodState
from shortlister.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

SECOND_STAGES = (CROSS_METHOD, LLM_METHOD)


def llm_config(settings: ServeSettings) -> Any:
    """llm.* when method llm is served; its first stage joins the methods to load when no
    other method is served (`serve --method llm` alone)."""
    if LLM_METHOD not in settings.methods:
        return None
    from shortlister.llm.config import LLMConfig

    cfg = LLMConfig.from_config(settings.llm)
    if all(m == LLM_METHOD for m in settings.methods):
        wanted = [cfg.first_stage, cfg.first_stage_fallback]
        extra = [
            m for m in wanted if m and (m in available_methods() or m in settings.method_configs)
        ]
        settings.methods = [*settings.methods, *dict.fromkeys(extra)]
    return cfg


def load_llm(settings: ServeSettings, cfg: Any, methods: Mapping[str, MethodState]) -> MethodState:
    """Method llm over the first served of llm.first_stage, its fallback, the default."""
    if cfg is None:
        cfg = llm_config(settings)
    order = [cfg.first_stage, cfg.first_stage_fallback, settings.method, *methods]
    first = next((m for m in order if m and m != LLM_METHOD and m in methods), None)
    if first is None:
        raise ConfigError(
            f"no first-stage method served (llm.first_stage {cfg.first_stage!r}, "
            f"llm.first_stage_fallback {cfg.first_stage_fallback!r})"
        )
    t0 = time.perf_counter()
    stage = LLMStage.load(cfg, first)
    logger.info(
        "llm ready: %s re-ranks the top %d of %s within %gs (%.2fs)",
        stage.model, stage.depth, first, stage.timeout_s, stage.load_seconds,
    )  # fmt: skip
    return MethodState(LLM_METHOD, methods[first].ranker, "llm", time.perf_counter() - t0, stage)


def cross_first_stage(settings: ServeSettings) -> str:
    """cross.rerank.first_stage (the method the pipeline's choice of N and blend is for)."""
    return str(dict(settings.cross.get("rerank") or {}).get("first_stage", "sbert-tuned"))


def load_cross(settings: ServeSettings, methods: Mapping[str, MethodState]) -> MethodState:
    """Method cross-encoder over its first stage, which must be served: the blend weight
    was chosen for that method's scores."""
    first = cross_first_stage(settings)
    if first not in methods:
        raise ConfigError(
            f"its first stage {first!r} (cross.rerank.first_stage) is not served; add it to "
            "serve.methods"
        )
    t0 = time.perf_counter()
    stage = CrossStage.load(dict(settings.cross), settings.paths["models"], first)
    logger.info(
        "cross-encoder ready: re-ranks the top %d of %s within %.0f ms (%.2f ms a pair, %.2fs)",
        stage.depth, first, stage.timeout_s * 1000, stage.ms_per_pair, stage.load_seconds,
    )  # fmt: skip
    return MethodState(
        CROSS_METHOD, methods[first].ranker, "cross-encoder", time.perf_counter() - t0, stage
    )


def load_second_stage(
    name: str, settings: ServeSettings, llm_cfg: Any, methods: Mapping[str, MethodState]
) -> MethodState:
    if name == CROSS_METHOD:
        return load_cross(settings, methods)
    return load_llm(settings, llm_cfg, methods)
