"""Stage: fine-tune the ranking LLM (LoRA on the CPU, QLoRA on CUDA), listwise and pointwise.

python -m shortlister.stages.finetune [finetune=tiny finetune.max_steps=5 ...]

Writes the training data (data/processed/finetune/<scorer>/{train,validation}.jsonl, from
the training and validation queries only: never test queries, never O*NET) and trains
one LoRA adapter per `finetune.scorers` entry into <output_dir>/<scorer>/ (a DVC output
and an MLflow artifact) on `finetune.base_model`, gemma3-270m by default. The `llm`
stage then evaluates base and tuned side by side. When the device or the base model is
not available here it records `skipped: <reason>` and the rest of `dvc repro` goes on.
Arguments are `key=value` overrides of params.yaml, in the grammar of `dvc exp run -S`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shortlister.core.errors import ConfigError, DataError
from shortlister.core.params import compose
from shortlister.data.datasets import default_dataset
from shortlister.evaluation.trec import Run, read_run
from shortlister.llm.config import LLMConfig
from shortlister.llm.finetune.config import FinetuneConfig
from shortlister.llm.finetune.data import (
    PromptSpec,
    build_examples,
    build_pointwise_examples,
    example_stats,
    write_examples,
)
from shortlister.llm.finetune.device import device_ready
from shortlister.llm.finetune.train import train_adapter
from shortlister.llm.prompts import PromptTemplate
from shortlister.stages.common import start, tracked, write_json
from shortlister.stages.tracking import log_artifact, log_metrics

logger = logging.getLogger(__name__)

REPORT = "finetune.json"
TABLE = "finetune.md"


def finetune_config(params: dict[str, Any]) -> FinetuneConfig:
    if "finetune" not in params:
        raise ConfigError("params.yaml: no finetune section (add `- finetune: default` to conf)")
    return FinetuneConfig.from_config(params["finetune"])


def first_stage_run(params: dict[str, Any], cfg: FinetuneConfig) -> Run:
    path = Path(params["paths"]["runs"]) / cfg.first_stage / "default.trec"
    if not path.exists():
        raise DataError(
            f"first-stage run for finetune.first_stage={cfg.first_stage!r} not found "
            f"(run `dvc repro rank@{cfg.first_stage}` first)",
            path=path,
        )
    return read_run(path)


def build_data(
    cfg: FinetuneConfig, llm: LLMConfig, dataset: Any, run: Run
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], dict[str, Any]]:
    """{scorer: {split: records}} (written as JSONL per scorer) and their counts."""
    template = PromptTemplate.from_config(llm.prompt)
    answers = (llm.pointwise.positive, llm.pointwise.negative)
    records: dict[str, dict[str, list[dict[str, Any]]]] = {}
    stats: dict[str, Any] = {}
    for scorer in cfg.scorers:
        records[scorer], stats[scorer] = {}, {}
        for split in ("train", "validation"):
            args = (dataset.queries, dataset.candidates, dataset.qrels, split)
            if scorer == "listwise":
                rows = build_examples(*args, template, cfg, first_stage=run)
            else:
                rows = build_pointwise_examples(
                    *args, llm.pointwise.prompt, answers, cfg, first_stage=run
                )
            records[scorer][split] = rows
            write_examples(rows, Path(cfg.data_dir) / scorer / f"{split}.jsonl")
            stats[scorer][split] = example_stats(rows)
        logger.info(
            "finetune data (%s): %d train / %d validation records",
            scorer,
            stats[scorer]["train"]["n_records"],
            stats[scorer]["validation"]["n_records"],
        )
    write_json(Path(cfg.data_dir) / "stats.json", stats)
    return records, stats


def prompt_spec(llm: LLMConfig, scorer: str) -> PromptSpec:
    """The answer prefix and prompt format the `llm` stage will prompt this scorer with."""
    if scorer == "pointwise":
        prefix = llm.pointwise.answer_prefix
    else:
        prefix = PromptTemplate.from_config(llm.prompt).answer_prefix
    return PromptSpec(prefix, llm.prompt_format, llm.chat_template_kwargs)


TINY_PREFIX = "tiny:"


def resolve_tiny_base(cfg: FinetuneConfig, records: list[dict[str, Any]]) -> None:
    """`base_model: tiny:<family>` builds a tiny random model (CPU smoke runs) and points at it.

    Its tokenizer is trained on the training prompts, so they tokenise to a sane length.
    """
    if not cfg.base_model.startswith(TINY_PREFIX):
        return
    from shortlister.llm.tiny import FAMILIES, build_tiny_model

    family = cfg.base_model.removeprefix(TINY_PREFIX)
    if family not in FAMILIES:
        raise ConfigError(
            f"finetune.base_model: expected tiny:<family> with family one of {sorted(FAMILIES)}, "
            f"got {cfg.base_model!r}"
        )
    corpus = [m["content"] for r in records for m in r["messages"]]
    path = Path(cfg.output_dir).parent / f"tiny-{family}"
    cfg.base_model = str(
        build_tiny_model(family, path, corpus=corpus, vocab_size=1024, seed=cfg.seed)
    )
    logger.warning("finetune: tiny random %s base model built at %s (smoke run only)", family, path)


def model_ready(cfg: FinetuneConfig, llm: LLMConfig) -> tuple[bool, str]:
    """(True, where the base model is) or (False, why not). Never downloads anything."""
    from shortlister.llm.models import model_available

    ok, reason = model_available(cfg.base_model, llm.model_cache)
    return ok, reason if ok else f"base model not available: {reason}"


def write_status(out_dir: Path, status: dict[str, Any]) -> None:
    """The adapter folder of a skipped run: a status file and a README saying why."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a stale adapter must not pass for this run's
    out_dir.mkdir(parents=True)
    write_json(out_dir / "STATUS.json", status)
    (out_dir / "README.md").write_text(
        f"# No adapter: {status['status']}\n\n{status['reason']}\n\nSee docs/finetune.md.\n"
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    """Data always; one adapter per scorer when the device and the base model allow."""
    cfg = finetune_config(params)
    llm = LLMConfig.from_config(params.get("llm"))
    dataset = default_dataset(params)
    first_stage = first_stage_run(params, cfg)
    records, data_stats = build_data(cfg, llm, dataset, first_stage)
    reports = Path(params["paths"]["reports"])
    out_dir = Path(cfg.output_dir)
    ready, reason = device_ready(cfg)
    if ready:
        resolve_tiny_base(cfg, records[cfg.scorers[0]]["train"])
        ready, reason = model_ready(cfg, llm)
    report: dict[str, Any] = {"base_model": cfg.base_model, "data": data_stats}
    if not ready:
        logger.warning("finetune skipped: %s", reason)
        report.update(status="skipped", reason=reason)
        write_status(out_dir, {"status": "skipped", "reason": reason})
        write_json(reports / REPORT, report)
        (reports / TABLE).write_text(f"# Fine-tuning\n\nskipped: {reason}\n")
        return report
    logger.info("finetune: training %s on %s", cfg.scorers, reason)
    write_status(out_dir, {"status": "training", "reason": None})
    report["training"] = {}
    for scorer in cfg.scorers:
        report["training"][scorer] = train_adapter(
            cfg,
            records[scorer]["train"],
            records[scorer]["validation"],
            out_dir / scorer,
            prompt_spec(llm, scorer),
            scorer=scorer,
            model_cache=llm.model_cache,
        )
    report.update(status="ok", reason=None)
    write_json(out_dir / "STATUS.json", {"status": "ok", "reason": None})
    (out_dir / "README.md").write_text(
        f"# LoRA adapters on {cfg.base_model}\n\nOne folder per scorer: "
        f"{', '.join(cfg.scorers)}. reports/finetune.md has their training figures.\n"
    )
    write_json(reports / REPORT, report)
    (reports / TABLE).write_text(training_table(report))
    return report


def training_table(report: dict[str, Any]) -> str:
    lines = [
        f"# Fine-tuning {report['base_model']} (LoRA)",
        "",
        "The `llm` stage compares base and tuned models on the same held-out queries "
        "(reports/llm.json).",
        "",
        "| scorer | device | quantization | steps | minutes | tokens/s | peak memory MB "
        "| train loss | eval loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scorer, t in report["training"].items():
        lines.append(
            f"| {scorer} | {t['device']} | {t['quantization']} | {t['steps']} "
            f"| {t['train_minutes']:.2f} | {t['tokens_per_second']:.0f} "
            f"| {t['peak_memory_mb']:.0f} ({t['peak_memory_kind']}) "
            f"| {t['final_train_loss']:.4f} | {t['eval_loss']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def apply_overrides(params: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Overrides as `dvc exp run -S` takes them, composed from conf/ by `compose` (Hydra's
    grammar): `finetune=tiny` picks conf/finetune/tiny.yaml, `a.b=value` sets one key. The
    overridden sections and keys replace those of `params`; the rest stays."""
    if not overrides:
        return params
    from hydra.errors import HydraException

    try:
        composed = compose(list(overrides))
    except (HydraException, ValueError) as exc:
        raise ConfigError(
            f"overrides {list(overrides)}: {' '.join(str(exc).split())}; expected key=value, "
            "e.g. finetune.device=cpu"
        ) from None
    for item in overrides:
        *parents, leaf = item.partition("=")[0].strip().lstrip("+~").split(".")
        node, source = params, composed
        for part in parents:
            node, source = node.setdefault(part, {}), source.get(part, {})
        if leaf in source:
            node[leaf] = source[leaf]
        else:  # `~key`: deleted
            node.pop(leaf, None)
    return params


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {"trained": float(report["status"] == "ok")}
    for scorer, splits in report["data"].items():
        for split, stats in splits.items():
            out[f"data.{scorer}.{split}.n_records"] = stats["n_records"]
    keys = ("train_loss", "final_train_loss", "eval_loss", "train_seconds", "steps",
            "tokens_per_second", "peak_memory_mb", "trainable_params")  # fmt: skip
    for scorer, training in report.get("training", {}).items():
        for key in keys:
            if key in training:
                out[f"{scorer}.{key}"] = float(training[key])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("overrides", nargs="*", help="params overrides, e.g. finetune.device=cpu")
    args = parser.parse_args(argv)
    params = apply_overrides(start(), args.overrides)
    with tracked("finetune", params, params.get("finetune", {})) as active:
        report = run(params)
        if active is not None:
            import mlflow

            mlflow.set_tags(
                {"finetune.status": report["status"], "finetune.reason": report.get("reason", "")}
            )
        log_metrics(flat_metrics(report))
        for scorer, training in report.get("training", {}).items():
            for point in training.get("curve", []):
                values = {f"{scorer}.{k}": v for k, v in point.items() if k != "step"}
                log_metrics(values, step=point["step"])
        reports = Path(params["paths"]["reports"])
        log_artifact(reports / REPORT)
        log_artifact(reports / TABLE)
        log_artifact(Path(finetune_config(params).output_dir), "finetune/adapters")


if __name__ == "__main__":
    main()
