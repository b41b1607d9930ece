"""The `shortlister` command: rank candidates, and gate metrics in CI."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from shortlister.cli.errors import Commands
from shortlister.cli.rank import (
    LEARNED_RANKERS,
    clean_config,
    fail,
    load_pool,
    normalised_queries,
    normalised_query,
    rank_embedding,
    rank_learned,
    rank_with_cross,
    rank_with_llm,
)
from shortlister.core.outputs import guard_outputs

logger = logging.getLogger("shortlister")

# The method `rank` uses without --method: serve.fallback_method, the project's default
# while the selected method (embeddings.name, sbert-tuned) has no trained model, as it
# has not until the pipeline ran. Read from --params when given; without one, this
# built-in copy of conf/serve/default.yaml's value (tests/test_cli_defaults.py keeps
# the two equal).
DEFAULT_METHOD = "sbert"


def default_method(params_path: Path | None) -> str:
    """serve.fallback_method of the --params file, else the built-in DEFAULT_METHOD."""
    if params_path is None:
        return DEFAULT_METHOD
    from shortlister.core.params import load_params

    serve = load_params(params_path).get("serve") or {}
    return serve.get("fallback_method") or DEFAULT_METHOD


@click.group(cls=Commands)
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an internal error.")
@click.pass_context
def main(ctx: click.Context, log_level: str, debug: bool) -> None:
    """shortlister: rank job candidates by fit to a target role."""
    from shortlister.core.logs import configure_logging

    ctx.obj = {"debug": debug}
    configure_logging(log_level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@main.command()
@click.option(
    "--candidates",
    type=click.Path(path_type=Path),
    required=True,
    help="CSV or Parquet with id, title (or job_title), location[, screening_score].",
)
@click.option("--query", help="Target role, e.g. 'aspiring human resources'.")
@click.option(
    "--queries",
    type=click.Path(path_type=Path),
    help="Batch mode: TSV with header query_id<TAB>query.",
)
@click.option("--star", "stars", multiple=True, help="Starred candidate id (up to 5; repeat).")
@click.option(
    "--star-weight",
    type=float,
    default=0.5,
    show_default=True,
    help="Share of the score from similarity to the starred candidates.",
)
@click.option(
    "--method",
    help="Ranking method: tfidf, word2vec, glove, fasttext, sbert, sbert-tuned (after the "
    "train_encoder stage), a learned re-ranker "
    "(ranknet, lambdarank; see --model-dir), cross-encoder (the cross_encoder stage's model "
    "re-ranks the top of cross.rerank.first_stage), or llm (an LLM re-ranks --first-stage's "
    f"top --rerank-depth). [default: serve.fallback_method of --params, {DEFAULT_METHOD}]",
)
@click.option(
    "--llm-backend",
    type=click.Choice(["transformers", "openai"]),
    help="--method llm: a local transformers model or an OpenAI-compatible API [default: "
    "llm.backend, transformers].",
)
@click.option(
    "--llm-model",
    help="--method llm: gemma3-270m (packaged), a .gguf file, hub id or local folder "
    "(transformers), or the API's model name [default: llm.model, gemma3-270m; "
    "llm.openai.model for openai].",
)
@click.option(
    "--llm-base-url",
    help="--llm-backend openai: the server, e.g. http://127.0.0.1:8000/v1 [default: "
    "$OPENAI_BASE_URL, else llm.openai.base_url].",
)
@click.option(
    "--llm-endpoint",
    type=click.Choice(["chat", "completions"]),
    help="--llm-backend openai: chat (instruct models) or completions (base models without "
    "a chat template) [default: llm.openai.endpoint, chat].",
)
@click.option(
    "--llm-adapter",
    type=click.Path(path_type=Path, file_okay=False),
    help="--method llm: a LoRA adapter folder loaded on top of --llm-model [default: "
    "llm.adapter, auto: the finetune stage's adapter for the scorer when trained].",
)
@click.option(
    "--llm-scorer",
    type=click.Choice(["pointwise", "listwise"]),
    help="--method llm: pointwise (the model's Yes/No log-odds per candidate) or listwise "
    "(it writes the ranking) [default: llm.scorer, pointwise].",
)
@click.option("--rerank-depth", type=click.IntRange(min=1), help="--method llm [default: 10].")
@click.option("--llm-window", type=click.IntRange(min=2), help="--method llm [default: 10].")
@click.option("--llm-step", type=click.IntRange(min=1), help="--method llm [default: 5].")
@click.option(
    "--first-stage",
    default=DEFAULT_METHOD,
    show_default=True,
    help="--method llm: the ranking it re-ranks (an embedding method, ranknet or lambdarank).",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="A trained re-ranker (python -m shortlister.stages.ranker) "
    "[default: models/ranker/<method>].",
)
@click.option("--top-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Batch mode: TREC run file to write.")
@click.option(
    "--params",
    "params_path",
    type=click.Path(path_type=Path),
    help="Take the method's settings from this params.yaml (methods.<method>; without "
    "--method, serve.fallback_method).",
)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    help="Where rejected rows go [default: ./<candidates>.rejects.csv].",
)
@click.option(
    "--warnings",
    "warnings_path",
    type=click.Path(path_type=Path),
    help="Where per-row warnings (control characters removed) go, when there are any "
    "[default: ./<candidates>.warnings.csv].",
)
def rank(
    candidates,
    query,
    queries,
    stars,
    star_weight,
    method,
    llm_backend,
    llm_model,
    llm_base_url,
    llm_endpoint,
    llm_adapter,
    llm_scorer,
    rerank_depth,
    llm_window,
    llm_step,
    first_stage,
    model_dir,
    top_k,
    out,
    params_path,
    rejects,
    warnings_path,
) -> None:
    """Rank candidates for one target role, or for a file of queries (batch mode)."""
    if method is None:
        method = default_method(params_path)
    if queries is not None and (query is not None or stars):
        fail("use either --queries (batch) or --query/--star (one search), not both")
    if queries is None and query is None and not stars:
        fail("give --query TEXT, --star ID, or --queries FILE")
    if queries is not None and out is None:
        fail("batch mode needs --out RUN.tsv for the TREC run file")
    learned = model_dir is not None or method in LEARNED_RANKERS
    empty_query = query is not None and not query.strip()
    if method == "llm" and (stars or empty_query):
        fail("--method llm re-ranks for a --query; --star works with embedding and learned methods")
    if learned and empty_query and not stars:
        fail(f"--method {method}: the --query is empty; give a target role, --star IDs, or both")
    # Before any work: no output may be an input (or another output), by inode.
    default_rejects = Path.cwd() / f"{candidates.stem}.rejects.csv"
    default_warnings = Path.cwd() / f"{candidates.stem}.warnings.csv"
    guard_outputs(
        {
            "--out": out,
            "--rejects": rejects or default_rejects,
            "--warnings": warnings_path or default_warnings,
        },
        {"the candidate file": candidates, "the queries file": queries,
         "the params file": params_path},
        deferred=[label for label, given in (("--rejects", rejects),
                                             ("--warnings", warnings_path)) if given is None],
    )  # fmt: skip
    clean_cfg = clean_config(params_path)
    text = None if query is None else normalised_query(query, clean_cfg, stars=bool(stars))
    batch = None if queries is None else normalised_queries(queries, clean_cfg)
    pool = load_pool(
        candidates, clean_cfg, rejects or default_rejects, warnings_path or default_warnings
    )
    if method == "llm":
        overrides = {
            "backend": llm_backend,
            "model": llm_model,
            "base_url": llm_base_url,
            "endpoint": llm_endpoint,
            "adapter": None if llm_adapter is None else str(llm_adapter),
            "scorer": llm_scorer,
            "depth": rerank_depth,
            "window": llm_window,
            "step": llm_step,
        }
        rank_with_llm(pool, text, batch, out, top_k, params_path, first_stage, model_dir,
                       overrides)  # fmt: skip
        return
    if method == "cross-encoder":
        rank_with_cross(pool, text, batch, out, top_k, params_path, stars, star_weight)
        return
    if learned:
        rank_learned(pool, text, batch, out, top_k, method, model_dir, stars, star_weight)
        return
    rank_embedding(pool, text, batch, out, top_k, method, params_path, stars, star_weight)


@main.command()
@click.option("--host", help="Interface to bind [default: serve.host, 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="[default: serve.port, 8000]")
@click.option(
    "--candidates",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="CSV or Parquet to serve [default: the pipeline's cleaned default pool].",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    help="Method(s) to serve, the first being the default (repeat) [default: serve.methods]; "
    "llm: an LLM re-ranks llm.first_stage's top within llm.serve_timeout_s.",
)
@click.option(
    "--params",
    "params_path",
    type=click.Path(path_type=Path),
    default=Path("params.yaml"),
    show_default=True,
    help="Settings: serve.*, methods.*, data.clean, paths (built-in defaults if absent).",
)
def serve(host, port, candidates, methods, params_path) -> None:
    """Serve the HTTP API and the recruiter page (embeds the pool once at start-up)."""
    from shortlister.core.params import load_params
    from shortlister.serve.app import serve as run_server
    from shortlister.serve.settings import ServeSettings

    # A ShortlisterError (bad file, bad config) becomes one line in `Commands`.
    params = load_params(params_path) if params_path.exists() else {}
    settings = ServeSettings.from_config(
        params,
        host=host,
        port=port,
        candidates=candidates,
        methods=list(methods) or None,
        method=methods[0] if methods else None,
    )
    click.echo(f"embedding the pool; then serving on http://{settings.host}:{settings.port}/")
    run_server(settings)


@main.command("check-regression")
@click.option(
    "--current",
    type=click.Path(path_type=Path),
    default=Path("reports/metrics.json"),
    show_default=True,
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=Path("baselines/default.json"),
    show_default=True,
)
@click.option(
    "--tolerance",
    type=float,
    default=0.02,
    show_default=True,
    help="Largest allowed absolute drop of a quality metric.",
)
def check_regression(current: Path, baseline: Path, tolerance: float) -> None:
    """Fail when a quality metric fell more than TOLERANCE below its baseline."""
    from tabulate import tabulate

    from shortlister.evaluation.regression import compare, read_metrics

    rows = compare(read_metrics(current), read_metrics(baseline))
    if not rows:
        fail(f"{baseline}: no quality metrics to compare against")
    table = [
        [
            r.key,
            f"{r.baseline:.4f}",
            "missing" if r.current is None else f"{r.current:.4f}",
            "" if r.delta is None else f"{r.delta:+.4f}",
            "FAIL" if r.failed(tolerance) else "ok",
        ]
        for r in rows
    ]
    click.echo(tabulate(table, headers=["metric", "baseline", "current", "delta", ""]))
    failed = [r for r in rows if r.failed(tolerance)]
    if failed:
        click.echo(f"{len(failed)} of {len(rows)} metrics regressed beyond {tolerance}", err=True)
        sys.exit(1)
    click.echo(f"all {len(rows)} metrics within {tolerance} of {baseline}")


if __name__ == "__main__":
    main()
