"""The `shortlister` command: rank candidates, and gate metrics in CI."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from shortlister.errors import ShortlisterError
from shortlister.outputs import guard_outputs

logger = logging.getLogger("shortlister")

DEFAULT_METHOD = "sbert"


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _method_config(method: str, params_path: Path | None) -> dict:
    """methods.<method> from a params file when given, else the method's defaults."""
    from dataclasses import asdict

    from shortlister.embeddings.base import REGISTRY, available_methods

    if method not in available_methods():
        _fail(f"unknown method {method!r}; expected one of {', '.join(available_methods())}")
    if params_path is not None:
        from shortlister.params import load_params

        methods = load_params(params_path).get("methods", {})
        if method not in methods:
            _fail(f"{params_path}: no methods.{method} section")
        return dict(methods[method])
    return {"name": method, **asdict(REGISTRY[method].config_class())}


LEARNED_RANKERS = ("ranknet", "lambdarank")


def _learned_ranker(method: str, model_dir: Path | None):
    """A trained re-ranker from --model-dir [default: models/ranker/<method>]."""
    from shortlister.ranking.ltr import load_ltr_ranker

    try:
        return load_ltr_ranker(model_dir or Path("models") / "ranker" / method)
    except FileNotFoundError as exc:
        _fail(str(exc))


def _llm_config(params_path: Path | None, overrides: dict):
    """llm.* from a params file (or the built-in defaults), with the --llm-* flags on top."""
    from shortlister.llm.config import LLMConfig

    cfg: dict = {}
    if params_path is not None:
        from shortlister.params import load_params

        cfg = dict(load_params(params_path).get("llm") or {})
        if not cfg:
            _fail(f"{params_path}: no llm section")
    model = overrides.pop("model")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    if model is not None:
        if cfg.get("backend") == "openai":
            cfg["openai"] = {**cfg.get("openai", {}), "model": model}
        else:
            cfg["model"] = model
    return LLMConfig.from_mapping(cfg)


def _first_stage(name: str, pool, model_dir: Path | None, params_path: Path | None):
    """search(query, k) -> row order of the best k, by an embedding method or learned ranker."""
    if name == "llm":
        _fail("--first-stage llm: expected an embedding method or a learned re-ranker")
    if model_dir is not None or name in LEARNED_RANKERS:
        ltr = _learned_ranker(name, model_dir)
        return lambda query, k: ltr.search(query, pool, k=k)[0]
    from shortlister.ranking.ranker import Ranker

    ranker = Ranker.fit(pool, _method_config(name, params_path))
    return lambda query, k: ranker.search(query, [], k=k)[0]


def _rank_llm(pool, queries: list[tuple[str, str]], cfg, search, top_k: int):
    """{query_id: [(candidate id, score)]}: the first stage's top `depth` re-ranked by the LLM.

    Scores are rank-derived (top_k for the first, then one less per position).
    """
    from shortlister.llm.backends import backend_available, build_backend
    from shortlister.llm.prompts import PromptTemplate
    from shortlister.llm.rerank import LLMReranker, RerankStats

    ok, reason = backend_available(cfg)
    if not ok:
        _fail(f"--method llm: model not available: {reason}")
    backend = build_backend(cfg)
    template = PromptTemplate.from_config(cfg.prompt)
    reranker = LLMReranker(backend, template, cfg.window, cfg.step, cfg.depth)
    ids, titles = pool["id"].tolist(), pool["title"].tolist()
    items = []
    for _, query in queries:
        order = search(query, max(top_k, cfg.depth))
        items.append((query, [(ids[i], titles[i]) for i in order]))
    results = reranker.rerank_many(items)
    stats = RerankStats.of(results)
    click.echo(
        f"llm: {backend.name} re-ranked the top {cfg.depth} for {len(queries)} "
        f"quer{'y' if len(queries) == 1 else 'ies'} in {stats.n_calls} calls "
        f"({stats.mean_latency_s:.2f}s each); "
        f"{stats.repair_share:.0%} of the answers needed repair",
        err=True,
    )
    return {
        qid: [(cid, float(top_k - r)) for r, cid in enumerate(result.ids[:top_k])]
        for (qid, _), result in zip(queries, results, strict=True)
    }


def _clean_config(params_path: Path | None):
    """data.clean from --params when given, else the defaults: titles and queries alike."""
    from shortlister.data.clean import CleanConfig

    if params_path is None:
        return CleanConfig()
    from shortlister.params import load_params

    return CleanConfig(**(load_params(params_path).get("data", {}).get("clean") or {}))


def _load_pool(candidates: Path, clean_cfg, rejects_path: Path, warnings_path: Path):
    """The cleaned pool; rejected rows and per-row warnings written where they belong."""
    from shortlister.data.clean import clean_candidates, write_rejects, write_warnings
    from shortlister.data.loader import load_candidates

    result = clean_candidates(load_candidates(candidates), clean_cfg)
    if len(result.rejects):
        write_rejects(result.rejects, rejects_path)
        click.echo(f"{len(result.rejects)} row(s) rejected, reasons in {rejects_path}", err=True)
    if len(result.warnings):
        write_warnings(result.warnings, warnings_path)
        click.echo(
            f"{result.counts['n_control_chars_removed']} control character(s) removed from "
            f"{result.counts['n_rows_with_control_chars']} row(s), listed in {warnings_path}",
            err=True,
        )
    if result.clean.empty:
        _fail(f"{candidates}: no candidate left after cleaning")
    return result.clean


def _normalised_query(query: str, clean_cfg, *, stars: bool) -> str | None:
    """--query as titles are cleaned (None: empty, allowed only with stars)."""
    from shortlister.data.clean import normalise_query

    text = normalise_query(query, clean_cfg, field="--query")
    if not text and not stars and query.strip():
        _fail(
            f"--query {query!r} has no text left after normalisation (only control "
            "characters or separators); expected a target role"
        )
    return text or None


def _normalised_queries(path: Path, clean_cfg):
    """The batch queries file, read and checked (ids, text) before any ranking work; each
    query normalised as titles are, as the pipeline stages load them."""
    from shortlister.data.datasets import load_queries

    return load_queries(path, clean_cfg)


def _report_batch_matches(matches: dict, method: str) -> None:
    missed = sorted(qid for qid, m in matches.items() if not m.matched)
    if missed:
        shown = ", ".join(missed[:10]) + (", ..." if len(missed) > 10 else "")
        click.echo(
            f"notice: {len(missed)} of {len(matches)} queries match no candidate with "
            f"{method} (best score at or below the method's floor): {shown}",
            err=True,
        )


def _print_table(pool, order, scores, starred: set[str]) -> None:
    from tabulate import tabulate

    rows = []
    for rank_, i in enumerate(order, start=1):
        cid = pool["id"].iat[i]
        rows.append(
            [
                rank_,
                ("* " if cid in starred else "") + cid,
                pool["title"].iat[i],
                f"{scores[i]:.4f}",
            ]
        )
    click.echo(
        tabulate(
            rows,
            headers=["rank", "id", "title", "score"],
            tablefmt="simple",
            disable_numparse=True,
            maxcolwidths=[None, None, 70, None],
        )
    )
    if starred:
        click.echo("* starred (pinned at the top)")


class _Commands(click.Group):
    """Every failure a user can cause ends in one line and exit status 1.

    Click's usage errors keep status 2. Anything unexpected prints a one-line summary and
    the file its full traceback was written to (`--debug` shows it instead).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except ShortlisterError as exc:
            raise click.ClickException(_one_line(str(exc))) from None
        except BrokenPipeError:
            # `shortlister rank ... | head`: the reader left; nothing more to say.
            sys.stderr.close()
            sys.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(
                _one_line(f"cannot access{where}: {exc.strerror or exc}; check the path")
            ) from None
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            raise click.ClickException(_internal_error(exc)) from None


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _internal_error(exc: Exception) -> str:
    import tempfile
    import traceback

    summary = _one_line(f"internal error: {type(exc).__name__}: {exc}")[:300]
    try:
        fd, path = tempfile.mkstemp(prefix="shortlister-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        return f"{summary}; rerun with --debug for the traceback"
    return f"{summary}; the full traceback is in {path} (or rerun with --debug); please report it"


@click.group(cls=_Commands)
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
    from shortlister.logs import configure_logging

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
    default=DEFAULT_METHOD,
    show_default=True,
    help="Ranking method: tfidf, word2vec, glove, fasttext, sbert, sbert-tuned (after the "
    "train_encoder stage), a learned re-ranker "
    "(ranknet, lambdarank; see --model-dir), or llm (an LLM re-ranks --first-stage's top "
    "--rerank-depth).",
)
@click.option(
    "--llm-backend",
    type=click.Choice(["transformers", "openai"]),
    help="--method llm: a local transformers model or an OpenAI-compatible API [default: "
    "llm.backend, transformers].",
)
@click.option(
    "--llm-model",
    help="--method llm: hub id or local folder (transformers), or the API's model name "
    "[default: llm.model, Qwen/Qwen3-0.6B; llm.openai.model for openai].",
)
@click.option(
    "--llm-adapter",
    type=click.Path(path_type=Path, file_okay=False),
    help="--method llm: a LoRA adapter folder loaded on top of --llm-model.",
)
@click.option("--rerank-depth", type=click.IntRange(min=1), help="--method llm [default: 20].")
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
    help="Take the method's settings from this params.yaml (methods.<method>).",
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
    llm_adapter,
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
    if queries is not None and (query is not None or stars):
        _fail("use either --queries (batch) or --query/--star (one search), not both")
    if queries is None and query is None and not stars:
        _fail("give --query TEXT, --star ID, or --queries FILE")
    if queries is not None and out is None:
        _fail("batch mode needs --out RUN.tsv for the TREC run file")
    learned = model_dir is not None or method in LEARNED_RANKERS
    empty_query = query is not None and not query.strip()
    if method == "llm" and (stars or empty_query):
        _fail("--method llm re-ranks for a --query; --star works with embedding methods")
    if learned and (stars or empty_query):
        _fail(f"--method {method} re-ranks for a --query; --star works with embedding methods")
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
    clean_cfg = _clean_config(params_path)
    text = None if query is None else _normalised_query(query, clean_cfg, stars=bool(stars))
    batch = None if queries is None else _normalised_queries(queries, clean_cfg)
    pool = _load_pool(
        candidates, clean_cfg, rejects or default_rejects, warnings_path or default_warnings
    )
    if method == "llm":
        overrides = {
            "backend": llm_backend,
            "model": llm_model,
            "adapter": None if llm_adapter is None else str(llm_adapter),
            "depth": rerank_depth,
            "window": llm_window,
            "step": llm_step,
        }
        _rank_with_llm(pool, text, batch, out, top_k, params_path, first_stage, model_dir,
                       overrides)  # fmt: skip
        return
    if learned:
        _rank_learned(pool, text, batch, out, top_k, method, model_dir)
        return
    from shortlister.evaluation.trec import write_run
    from shortlister.ranking.ranker import Ranker

    ranker = Ranker.fit(pool, _method_config(method, params_path))
    if batch is not None:
        run = ranker.batch(batch, top_k)
        write_run(out, run, tag=method)
        click.echo(f"wrote {len(batch)} queries x top {top_k} to {out}", err=True)
        _report_batch_matches(ranker.batch_matches(run), method)
        return
    if text is not None and not stars:
        match = ranker.match(text)
        if not match.matched:
            click.echo(f"notice: {match.notice(text, method)}", err=True)
            return
    order, scores = ranker.search(text, list(stars), k=top_k, star_weight=star_weight)
    _print_table(pool, order, scores, set(stars))


def _rank_learned(pool, query, batch, out, top_k, method, model_dir) -> None:
    from shortlister.evaluation.trec import write_run
    from shortlister.ranking.ranker import Ranker

    ltr = _learned_ranker(method, model_dir)
    # No-match is judged on the ranker's own Sentence-BERT space, like the embedding methods.
    sbert = Ranker(pool.reset_index(drop=True), ltr.sbert, ltr.index(pool).sbert)
    if batch is not None:
        write_run(out, ltr.batch(batch, pool, top_k), tag=method)
        click.echo(f"wrote {len(batch)} queries x top {top_k} to {out}", err=True)
        _report_batch_matches(sbert.batch_matches(sbert.batch(batch, 1)), method)
        return
    match = sbert.match(query)
    if not match.matched:
        click.echo(f"notice: {match.notice(query, method)}", err=True)
        return
    order, scores = ltr.search(query, pool, k=top_k)
    _print_table(pool, order, scores, set())


def _rank_with_llm(
    pool, query, batch, out, top_k, params_path, first_stage, model_dir, overrides
) -> None:
    from shortlister.evaluation.trec import write_run

    cfg = _llm_config(params_path, overrides)
    search = _first_stage(first_stage, pool, model_dir, params_path)
    if batch is not None:
        pairs = list(zip(batch["query_id"], batch["query"], strict=True))
        write_run(out, _rank_llm(pool, pairs, cfg, search, top_k), tag="llm")
        click.echo(f"wrote {len(pairs)} queries x top {top_k} to {out}", err=True)
        return
    ranked = _rank_llm(pool, [("query", query)], cfg, search, top_k)["query"]
    import numpy as np

    rows = {cid: i for i, cid in enumerate(pool["id"])}
    scores = np.zeros(len(pool))
    for cid, score in ranked:
        scores[rows[cid]] = score
    _print_table(pool, [rows[cid] for cid, _ in ranked], scores, set())


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
    help="Method(s) to serve, the first being the default (repeat) [default: serve.methods].",
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
    from shortlister.params import load_params
    from shortlister.serve.app import serve as run_server
    from shortlister.serve.settings import ServeSettings

    try:
        params = load_params(params_path) if params_path.exists() else {}
        settings = ServeSettings.from_params(
            params,
            host=host,
            port=port,
            candidates=candidates,
            methods=list(methods) or None,
            method=methods[0] if methods else None,
        )
        click.echo(f"embedding the pool; then serving on http://{settings.host}:{settings.port}/")
        run_server(settings)
    except ShortlisterError as exc:
        _fail(str(exc))


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

    try:
        rows = compare(read_metrics(current), read_metrics(baseline))
    except ShortlisterError as exc:
        _fail(str(exc))
    if not rows:
        _fail(f"{baseline}: no quality metrics to compare against")
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
