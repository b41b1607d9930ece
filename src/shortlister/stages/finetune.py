"""Stage: instruction data, QLoRA fine-tuning of the ranking LLM, and a before/after check.

python -m shortlister.stages.finetune [finetune.device=cpu finetune.base_model=PATH ...]

Always writes the training data (data/processed/finetune/{train,validation}.jsonl, from
the training and validation queries only). When CUDA is present and the base model is
available locally (no downloads), trains a LoRA adapter on the 4-bit base (QLoRA) and
re-ranks the test queries with the base model and with base + adapter. Otherwise it
records `skipped: <reason>` in reports/finetune.json and the adapter folder, so the rest
of `dvc repro` goes on. `finetune.device=cpu` with a small local model runs the same path
as plain LoRA on the CPU (what the tests do). Arguments are `key=value` overrides of
params.yaml (values parsed as YAML).
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path
from typing import Any

import yaml

from shortlister.data.datasets import default_dataset
from shortlister.errors import ConfigError, DataError
from shortlister.evaluation.trec import Run, read_run
from shortlister.llm.finetune import (
    FinetuneConfig,
    build_examples,
    compare_base_and_tuned,
    cuda_available,
    example_stats,
    rerank_items,
    train_adapter,
    write_examples,
)
from shortlister.llm.prompts import PromptTemplate
from shortlister.params import DEFAULT_CONFIG_DIR, compose
from shortlister.stages.common import start, tracked, write_json
from shortlister.tracking import child_run, log_artifact, log_metrics

logger = logging.getLogger(__name__)

REPORT = "finetune.json"
TABLE = "finetune.md"


def finetune_config(params: dict[str, Any]) -> FinetuneConfig:
    if "finetune" not in params:
        raise ConfigError("params.yaml: no finetune section (add `- finetune: default` to conf)")
    return FinetuneConfig.from_config(params["finetune"])


def prompt_template(params: dict[str, Any]) -> PromptTemplate:
    """The LLM ranking prompt (`llm.prompt`): training and inference must share it."""
    return PromptTemplate.from_config(params.get("llm", {}).get("prompt"))


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
    cfg: FinetuneConfig, template: PromptTemplate, dataset: Any, run: Run
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Training/validation records (written as JSONL) and their counts."""
    data_dir = Path(cfg.data_dir)
    records, stats = {}, {}
    for split in ("train", "validation"):
        records[split] = build_examples(
            dataset.queries,
            dataset.candidates,
            dataset.qrels,
            split,
            template,
            cfg,
            first_stage=run,
        )
        write_examples(records[split], data_dir / f"{split}.jsonl")
        stats[split] = example_stats(records[split])
    write_json(data_dir / "stats.json", stats)
    logger.info(
        "finetune data: %d train / %d validation prompts in %s",
        stats["train"]["n_records"],
        stats["validation"]["n_records"],
        data_dir,
    )
    return records, stats


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


def device_ready(cfg: FinetuneConfig) -> tuple[bool, str]:
    """(True, device) or (False, why the configured device cannot train)."""
    if cfg.device == "auto" and not cuda_available():
        return False, (
            "no CUDA device (torch.cuda.is_available() is False): QLoRA needs a GPU; "
            "set finetune.device=cpu and a small local finetune.base_model for plain LoRA on CPU"
        )
    if cfg.device == "cuda" and not cuda_available():
        return False, "finetune.device=cuda but torch.cuda.is_available() is False"
    return True, "cuda" if cfg.device == "auto" else cfg.device


def model_ready(cfg: FinetuneConfig) -> tuple[bool, str]:
    """(True, where the base model is) or (False, why not). Never downloads anything."""
    from shortlister.llm.backends import backend_available

    ok, reason = backend_available({"model": cfg.base_model})
    return ok, reason if ok else f"base model not available: {reason}"


def write_status(out_dir: Path, status: dict[str, Any]) -> None:
    """The adapter folder of a skipped run: a status file and a README saying why."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a stale adapter must not pass for this run's
    out_dir.mkdir(parents=True)
    write_json(out_dir / "STATUS.json", status)
    (out_dir / "README.md").write_text(
        f"# No adapter: {status['status']}\n\n{status['reason']}\n\n"
        "See docs/finetune.md to run the QLoRA stage on a GPU machine.\n"
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    """Data always; training and the before/after evaluation when a GPU (or device=cpu) allows."""
    cfg = finetune_config(params)
    template = prompt_template(params)
    dataset = default_dataset(params)
    first_stage = first_stage_run(params, cfg)
    records, data_stats = build_data(cfg, template, dataset, first_stage)
    reports = Path(params["paths"]["reports"])
    out_dir = Path(cfg.output_dir)
    ready, reason = device_ready(cfg)
    if ready:
        resolve_tiny_base(cfg, records["train"])
        ready, reason = model_ready(cfg)
    report: dict[str, Any] = {"base_model": cfg.base_model, "data": data_stats}
    if not ready:
        logger.warning("finetune skipped: %s", reason)
        report.update(status="skipped", reason=reason)
        write_status(out_dir, {"status": "skipped", "reason": reason})
        write_json(reports / REPORT, report)
        (reports / TABLE).write_text(f"# Fine-tuning\n\nskipped: {reason}\n")
        return report
    logger.info("finetune: training on %s", reason)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    report["training"] = train_adapter(cfg, records["train"], records["validation"], out_dir)
    items = rerank_items(
        dataset.queries,
        dataset.candidates,
        first_stage,
        depth=int(params.get("llm", {}).get("depth", 20)),
        split="test",
        max_queries=cfg.eval_max_queries,
    )
    ev = params["evaluation"]
    report["evaluation"] = compare_base_and_tuned(
        params.get("llm", {}),
        cfg,
        out_dir,
        template,
        items,
        dataset.qrels,
        ev["ndcg_k"],
        ev["gain"],
    )
    report["status"] = "ok"
    write_json(reports / REPORT, report)
    (reports / TABLE).write_text(before_after_table(report, ev["ndcg_k"]))
    return report


def before_after_table(report: dict[str, Any], ndcg_k: int = 10) -> str:
    ev = report["evaluation"]
    key = f"ndcg@{ndcg_k}"
    lines = [
        f"# Fine-tuning: {report['base_model']} before and after LoRA",
        "",
        f"Test queries: {ev['base']['n_queries']}; first-stage {key}: {ev['first_stage'][key]:.4f}",
        "",
        f"| model | clean-parse share | {key} | s per call | completion tokens |",
        "|---|---|---|---|---|",
    ]
    for name in ("base", "tuned"):
        m = ev[name]
        lines.append(
            f"| {name} | {m['clean_share']:.3f} | {m[key]:.4f} | {m['mean_latency_s']:.3f} "
            f"| {m['completion_tokens']} |"
        )
    t = report["training"]
    lines += [
        "",
        f"Training: {t['steps']} steps on {t['device']} ({t['quantization']}), "
        f"{t['tokens_per_second']:.0f} tokens/s, peak memory {t['peak_memory_mb']:.0f} MB "
        f"({t['peak_memory_kind']}), train loss {t['final_train_loss']:.4f}, "
        f"eval loss {t['eval_loss']:.4f}.",
        "",
    ]
    return "\n".join(lines)


def apply_overrides(params: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Overrides as `dvc exp run -S` takes them: `finetune=tiny` picks conf/finetune/tiny.yaml,
    `a.b=value` sets one key (the value read as YAML: 1, true, null, [x])."""
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. finetune.device=cpu")
        if "." not in key and (DEFAULT_CONFIG_DIR / key).is_dir():
            params[key] = compose([item])[key]
            continue
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(value)
    return params


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {"trained": float(report["status"] == "ok")}
    for split, stats in report["data"].items():
        out[f"data.{split}.n_records"] = stats["n_records"]
        out[f"data.{split}.n_queries"] = stats["n_queries"]
    training = report.get("training", {})
    for key in (
        "train_loss",
        "final_train_loss",
        "eval_loss",
        "train_seconds",
        "tokens_per_second",
        "peak_memory_mb",
        "trainable_params",
    ):
        if key in training:
            out[f"train.{key}"] = training[key]
    return out


def log_evaluation(report: dict[str, Any], params: dict[str, Any]) -> None:
    """One child run per model, keyed like the evaluate stage's methods (default.test.ndcg@10)."""
    ev = report.get("evaluation")
    if not ev:
        return
    for name in ("base", "tuned"):
        metrics = {k: v for k, v in ev[name].items() if isinstance(v, int | float)}
        with child_run(
            f"method-llm-{name}",
            params={"model": report["base_model"], "adapter": name == "tuned"},
            tags={"shortlister.method": f"llm-{name}"},
        ):
            log_metrics(metrics, prefix="default.test.")
        log_metrics(metrics, prefix=f"{name}.")
    log_metrics(ev["first_stage"], prefix="first_stage.")


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
        for point in report.get("training", {}).get("curve", []):
            log_metrics({k: v for k, v in point.items() if k != "step"}, step=point["step"])
        log_evaluation(report, params)
        reports = Path(params["paths"]["reports"])
        log_artifact(reports / REPORT)
        log_artifact(reports / TABLE)
        log_artifact(Path(finetune_config(params).output_dir), "finetune/adapter")


if __name__ == "__main__":
    main()
