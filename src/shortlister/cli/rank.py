"""The work behind `shortlister rank`: methods, the pool, queries, LLM re-ranking, output.

`cli.py` declares the flags; these functions do what they ask. A problem the user can
fix raises click.ClickException (one line, exit status 1) or a ShortlisterError, which
the command group turns into one line too.
"""

from __future__ import annotations

from pathlib import Path

import click


def fail(message: str) -> None:
    raise click.ClickException(message)


def method_config(method: str, params_path: Path | None) -> dict:
    """methods.<method> from a params file when given, else the method's defaults."""
    from dataclasses import asdict

    from shortlister.embeddings.base import REGISTRY, available_methods

    if method not in available_methods():
        fail(f"unknown method {method!r}; expected one of {', '.join(available_methods())}")
    if params_path is not None:
        from shortlister.core.params import load_params

        methods = load_params(params_path).get("methods", {})
        if method not in methods:
            fail(f"{params_path}: no methods.{method} section")
        return dict(methods[method])
    return {"name": method, **asdict(REGISTRY[method].config_class())}


def index_config(params_path: Path | None):
    """The index settings (params' `index` when given, else conf/index's defaults): pools of
    at least `min_pool` candidates are searched through an ANN index built for them."""
    from shortlister.index.config import IndexConfig

    if params_path is not None:
        from shortlister.core.params import load_params

        return IndexConfig.from_config(load_params(params_path).get("index"))
    return IndexConfig()


LEARNED_RANKERS = ("ranknet", "lambdarank")


def learned_ranker(method: str, model_dir: Path | None):
    """A trained re-ranker from --model-dir [default: models/ranker/<method>]."""
    from shortlister.ranking.ltr.io import load_ltr_ranker

    try:
        return load_ltr_ranker(model_dir or Path("models") / "ranker" / method)
    except FileNotFoundError as exc:
        fail(str(exc))


def _llm_config(params_path: Path | None, overrides: dict):
    """llm.* from a params file (or the built-in defaults), with the --llm-* flags on top."""
    from shortlister.llm.config import LLMConfig

    cfg: dict = {}
    if params_path is not None:
        from shortlister.core.params import load_params

        cfg = dict(load_params(params_path).get("llm") or {})
        if not cfg:
            fail(f"{params_path}: no llm section")
    model, base_url = overrides.pop("model"), overrides.pop("base_url")
    endpoint = overrides.pop("endpoint")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    openai = cfg.get("backend") == "openai"
    if model is not None and not openai:
        cfg["model"] = model
    api = {"model": model if openai else None, "base_url": base_url, "endpoint": endpoint}
    api = {k: v for k, v in api.items() if v is not None}
    if base_url is not None:
        api["base_url_env"] = None  # the flag beats $OPENAI_BASE_URL: it is not read at all
    if api:
        cfg["openai"] = {**cfg.get("openai", {}), **api}
    return LLMConfig.from_config(cfg)


def _first_stage(name: str, pool, model_dir: Path | None, params_path: Path | None):
    """search(query, k) -> row order of the best k, by an embedding method or learned ranker."""
    from shortlister.llm.run import first_stage_search

    if name == "llm":
        fail("--first-stage llm: expected an embedding method or a learned re-ranker")
    if model_dir is not None or name in LEARNED_RANKERS:
        return first_stage_search(pool, ltr=learned_ranker(name, model_dir))
    return first_stage_search(pool, method=method_config(name, params_path))


def clean_config(params_path: Path | None):
    """data.clean from --params when given, else the defaults: titles and queries alike."""
    from shortlister.data.clean import CleanConfig

    if params_path is None:
        return CleanConfig()
    from shortlister.core.params import load_params

    return CleanConfig.from_config(load_params(params_path).get("data", {}).get("clean"))


def load_pool(candidates: Path, clean_cfg, rejects_path: Path, warnings_path: Path):
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
        fail(f"{candidates}: no candidate left after cleaning")
    return result.clean


def normalised_query(query: str, clean_cfg, *, stars: bool) -> str | None:
    """--query as titles are cleaned (None: empty, allowed only with stars)."""
    from shortlister.data.clean import normalise_query

    text = normalise_query(query, clean_cfg, field="--query")
    if not text and not stars and query.strip():
        fail(
            f"--query {query!r} has no text left after normalisation (only control "
            "characters or separators); expected a target role"
        )
    return text or None


def normalised_queries(path: Path, clean_cfg):
    """The batch queries file, read and checked (ids, text) before any ranking work; each
    query normalised as titles are, as the pipeline stages load them."""
    from shortlister.data.datasets import load_queries

    return load_queries(path, clean_cfg)


def report_batch_matches(matches: dict, method: str) -> None:
    missed = sorted(qid for qid, m in matches.items() if not m.matched)
    if missed:
        shown = ", ".join(missed[:10]) + (", ..." if len(missed) > 10 else "")
        click.echo(
            f"notice: {len(missed)} of {len(matches)} queries match no candidate with "
            f"{method} (best score at or below the method's floor): {shown}",
            err=True,
        )


def print_table(pool, order, scores, starred: set[str]) -> None:
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


def rank_embedding(pool, query, batch, out, top_k, method, params_path, stars=(), star_weight=0.5):
    """An embedding method: a CandidatePool fitted on the pool, then one search or a batch."""
    from shortlister.evaluation.trec import write_run
    from shortlister.ranking.pool import CandidatePool

    ranker = CandidatePool.fit(pool, method_config(method, params_path), index_config(params_path))
    if batch is not None:
        run = ranker.batch(batch, top_k)
        write_run(out, run, tag=method)
        click.echo(f"wrote {len(batch)} queries x top {top_k} to {out}", err=True)
        report_batch_matches(ranker.batch_matches(run), method)
        return
    if query is not None and not stars:
        match = ranker.match(query)
        if not match.matched:
            click.echo(f"notice: {match.notice(query, method)}", err=True)
            return
    order, scores = ranker.search(query, list(stars), k=top_k, star_weight=star_weight)
    print_table(pool, order, scores, set(stars))


def rank_learned(pool, query, batch, out, top_k, method, model_dir, stars=(), star_weight=0.5):
    """A trained re-ranker over the pool, as the service's learned methods rank: without
    stars its own ranking; with stars pinned first, the min-max normalised learned score
    blended with the stars' similarity (ranking.ltr.pool.LearnedRanker)."""
    from shortlister.evaluation.trec import write_run
    from shortlister.ranking.ltr.pool import LearnedRanker
    from shortlister.ranking.starred import StarConfig, star_indices

    # Stars are validated before the (possibly slow) model load and pool indexing.
    star_indices(pool["id"].tolist(), stars, StarConfig(star_weight=star_weight).max_stars)
    ltr = learned_ranker(method, model_dir)
    # No-match is judged on the ranker's own Sentence-BERT space, like the embedding methods.
    learned = LearnedRanker.build(ltr, pool)
    if batch is not None:
        write_run(out, ltr.batch(batch, pool, top_k), tag=method)
        click.echo(f"wrote {len(batch)} queries x top {top_k} to {out}", err=True)
        report_batch_matches(learned.stars.batch_matches(learned.stars.batch(batch, 1)), method)
        return
    if stars:
        scores = None if query is None else learned.query_scores(query)[0]
        result = learned.rank_scores(scores, stars, k=top_k, star_weight=star_weight)
        print_table(pool, result.order, result.scores, set(stars))
        return
    match = learned.match(query)
    if not match.matched:
        click.echo(f"notice: {match.notice(query, method)}", err=True)
        return
    order, scores = ltr.search(query, pool, k=top_k)
    print_table(pool, order, scores, set())


def rank_with_llm(
    pool, query, batch, out, top_k, params_path, first_stage, model_dir, overrides
) -> None:
    from shortlister.evaluation.trec import write_run
    from shortlister.llm.rerank import ModelUnavailable
    from shortlister.llm.run import rerank_queries

    cfg = _llm_config(params_path, overrides)
    search = _first_stage(first_stage, pool, model_dir, params_path)
    if batch is not None:
        pairs = list(zip(batch["query_id"], batch["query"], strict=True))
    else:
        pairs = [("query", query)]
    try:
        reranked = rerank_queries(pool, pairs, cfg, search, top_k)
    except ModelUnavailable as exc:
        fail(f"--method llm: {exc}")
    click.echo(reranked.summary, err=True)
    if batch is not None:
        write_run(out, reranked.run, tag="llm")
        click.echo(f"wrote {len(pairs)} queries x top {top_k} to {out}", err=True)
        return
    ranked = reranked.run["query"]
    import numpy as np

    rows = {cid: i for i, cid in enumerate(pool["id"])}
    scores = np.zeros(len(pool))
    for cid, score in ranked:
        scores[rows[cid]] = score
    print_table(pool, [rows[cid] for cid, _ in ranked], scores, set())


def cross_settings(params_path: Path | None) -> tuple[dict, dict]:
    """(cross.* of --params or the defaults, the stage's serving choice: N, weight)."""
    import json

    from shortlister.cross.scorer import MODEL_DIR, SERVING_FILE

    params = {}
    if params_path is not None:
        from shortlister.core.params import load_params

        params = load_params(params_path)
    models = Path(params.get("paths", {}).get("models", "models"))
    serving = models / MODEL_DIR / SERVING_FILE
    if not serving.is_file():
        fail(f"--method cross-encoder: {serving} not found; run `dvc repro cross_encoder` first")
    return dict(params.get("cross") or {}), {
        **json.loads(serving.read_text()),
        "dir": str(models / MODEL_DIR),
    }


def rank_with_cross(pool, query, batch, out, top_k, params_path, stars=(), star_weight=0.5):
    """The first stage (cross.rerank.first_stage) re-ranked by the cross-encoder: its top
    N after the stars, blended as the pipeline chose on validation (serving.json)."""
    import numpy as np

    from shortlister.cross.config import CrossConfig
    from shortlister.cross.rerank import rerank_list
    from shortlister.cross.scorer import CrossScorer
    from shortlister.evaluation.trec import write_run
    from shortlister.ranking.pool import CandidatePool

    cross, serving = cross_settings(params_path)
    cfg = CrossConfig.from_config(cross)
    first = method_config(serving.get("first_stage", cfg.rerank.first_stage), params_path)
    ranker = CandidatePool.fit(pool, first, index_config(params_path))
    scorer = CrossScorer(serving["dir"], cfg.rerank.backend, cfg.train.max_length)
    ids, titles = pool["id"].tolist(), pool["title"].tolist()
    depth = int(serving["top_n"])

    def rerank(text: str, order, scores, n_starred: int) -> list[tuple[int, float]]:
        head = [(int(i), float(scores[i])) for i in order[n_starred:]]
        cross_scores = scorer.score(text, [titles[i] for i, _ in head[:depth]])
        mixed = rerank_list(head, cross_scores, depth, float(serving["weight"]))
        pinned = [(int(i), float(scores[i])) for i in order[:n_starred]]
        return pinned + mixed

    k = max(top_k, depth)
    if batch is not None:
        run = {}
        for qid, text in zip(batch["query_id"], batch["query"], strict=True):
            order, scores = ranker.search(text, [], k=k)
            run[qid] = [(ids[i], s) for i, s in rerank(text, order, scores, 0)[:top_k]]
        write_run(out, run, tag="cross-encoder")
        click.echo(f"wrote {len(batch)} queries x top {top_k} to {out}", err=True)
        return
    if query is None:
        fail("--method cross-encoder re-ranks for a --query (stars alone: use its first stage)")
    if not stars:
        match = ranker.match(query)
        if not match.matched:
            click.echo(f"notice: {match.notice(query, 'cross-encoder')}", err=True)
            return
    order, scores = ranker.search(query, list(stars), k=k + len(stars), star_weight=star_weight)
    ranked = rerank(query, order, scores, len(stars))[: top_k + len(stars)]
    shown = np.zeros(len(pool))
    for i, s in ranked:
        shown[i] = s
    print_table(pool, [i for i, _ in ranked], shown, set(stars))
