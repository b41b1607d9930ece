"""Pointwise LLM re-ranking: score each (role, headline) pair by the model's "Yes".

The monoT5 / RankLLaMA recipe: one short prompt per candidate asks whether the headline
fits the role; the score is the logit of the answer "Yes" minus that of "No" at the
answer position (the log-odds of a relevance answer, so P(yes) = sigmoid(score)). Pairs
are independent, so they go through the model in batches, and only the last position's
logits are computed (`logits_to_keep=1`): with Gemma 3's 262k-token vocabulary, full
logits would cost more than the rest of the forward pass. Fine-tuning teaches the same
prompt to answer " Yes" / " No" from the training judgments (shortlister.llm.finetune).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shortlister.llm.backends import LocalModel
from shortlister.llm.config import LLMConfig
from shortlister.llm.prompts import PromptBuilder, answer_tail, one_line
from shortlister.llm.rerank import RerankResult

logger = logging.getLogger(__name__)


def pair_messages(cfg: LLMConfig, query: str, title: str) -> list[dict[str, str]]:
    prompt = cfg.pointwise.prompt.format(query=one_line(query), title=one_line(title))
    return [{"role": "user", "content": prompt}]


def pointwise_builder(cfg: LLMConfig, tokenizer: Any = None) -> PromptBuilder:
    return PromptBuilder(
        cfg.pointwise.answer_prefix, cfg.prompt_format, tokenizer, cfg.chat_template_kwargs
    )


def answer_text(builder: PromptBuilder, answer: str) -> str:
    """What the model writes for `answer`: ` Yes` after `Answer:`, or `Yes` in a chat turn."""
    return answer_tail(answer, "") if builder.format == "completion" else answer


@dataclass
class PointwiseStats:
    n_pairs: int = 0
    n_batches: int = 0
    seconds: float = 0.0
    prompt_tokens: int = 0


class PointwiseReranker:
    """Re-rank the top `cfg.depth` of each list by the model's yes/no log-odds."""

    def __init__(
        self, cfg: LLMConfig, adapter: str | None = None, lm: LocalModel | None = None
    ) -> None:
        self.cfg = cfg
        self.depth = cfg.depth
        if lm is None:
            lm = LocalModel(cfg, adapter if adapter is not None else cfg.adapter_path("pointwise"))
        self.lm = lm
        self.name = f"pointwise:{lm.name}"
        self.builder = pointwise_builder(cfg, lm.tokenizer)
        self.yes_id = self._token_id(cfg.pointwise.positive)
        self.no_id = self._token_id(cfg.pointwise.negative)
        self.stats = PointwiseStats()

    def _token_id(self, answer: str) -> int:
        ids = self.lm.tokenizer(answer_text(self.builder, answer), add_special_tokens=False)
        ids = ids["input_ids"]
        if not ids:
            raise ValueError(f"llm.pointwise: {answer!r} tokenises to nothing")
        if len(ids) > 1:
            logger.warning("llm.pointwise: %r is %d tokens; scoring its first", answer, len(ids))
        return int(ids[0])

    def render(self, query: str, title: str) -> str:
        return self.builder.prompt(pair_messages(self.cfg, query, title))

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """logit(yes) - logit(no) for each (query, title), `pointwise.batch_size` at a time."""
        size = self.cfg.pointwise.batch_size
        out: list[float] = []
        for start in range(0, len(pairs), size):
            out.extend(self._score_batch(pairs[start : start + size]))
        return out

    def _score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        tok, model = self.lm.tokenizer, self.lm.model
        prompts = [self.render(q, t) for q, t in pairs]
        enc = tok(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=self.builder.add_special_tokens,
        )
        mask = enc["attention_mask"]
        # Left padding: positions count real tokens only, as in training (right padding).
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        t0 = time.perf_counter()
        with torch.inference_mode():
            logits = model(
                input_ids=enc["input_ids"].to(self.lm.device),
                attention_mask=mask.to(self.lm.device),
                position_ids=positions.to(self.lm.device),
                logits_to_keep=1,
            ).logits[:, -1, :]
        self.stats.seconds += time.perf_counter() - t0
        self.stats.n_pairs += len(pairs)
        self.stats.n_batches += 1
        self.stats.prompt_tokens += int(mask.sum())
        scores = logits[:, self.yes_id].float() - logits[:, self.no_id].float()
        return scores.cpu().tolist()

    def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> RerankResult:
        return self.rerank_many([(query, candidates)])[0]

    def rerank_many(
        self, items: Sequence[tuple[str, Sequence[tuple[str, str]]]]
    ) -> list[RerankResult]:
        """Each list's top `depth` sorted by score (ties keep the first-stage order)."""
        heads = [list(c)[: self.depth] for _, c in items]
        pairs = [(q, title) for (q, _), head in zip(items, heads, strict=True) for _, title in head]
        t0 = time.perf_counter()
        scores = iter(self.score(pairs))
        seconds = time.perf_counter() - t0
        results = []
        for (_, cands), head in zip(items, heads, strict=True):
            ids = [str(cid) for cid, _ in cands]
            if len(set(ids)) != len(ids):
                raise ValueError("pointwise re-ranking: candidate ids must be distinct")
            scored = [(next(scores), i) for i in range(len(head))]
            order = [ids[i] for _, i in sorted(scored, key=lambda s: (-s[0], s[1]))]
            share = len(head) / max(len(pairs), 1)
            results.append(RerankResult(ids=order + ids[len(head) :], latency_s=seconds * share))
        return results
