"""Issue 13: choose the dense methods' no-match ratio on the default VALIDATION queries.

For each method, the pool's typical best title-to-title similarity (`nomatch.typical_best`)
and, per validation query, the best candidate's score divided by it. Junk queries
(strings no recruiter means as a role) show where nonsense lands. The ratio is chosen so
that every validation query of every method clears the floor with room to spare; the
junk queries' figures only show what it catches. Test queries are not looked at.

python scripts/experiments/no_match_floor.py --methods tfidf sbert word2vec glove fasttext \
    --out reports/experiments/no_match_floor.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from shortlister.core.logs import configure_logging
from shortlister.core.params import load_params
from shortlister.data.clean import CleanConfig, normalise_query
from shortlister.data.datasets import default_dataset
from shortlister.ranking.nomatch import typical_best
from shortlister.ranking.pool import CandidatePool

JUNK = ["zzqxj", "!!!", "qwxzv plmkj", "asdfgh", "xyz 123", "???", "lorem ipsum dolor", "ññññ"]


def measure(params: dict, method: str) -> dict:
    data = default_dataset(params)
    cfg = CleanConfig.from_config(params["data"]["clean"])
    pool = data.candidates.reset_index(drop=True)
    t0 = time.perf_counter()
    ranker = CandidatePool.fit(pool, dict(params["methods"][method]))
    fit_s = time.perf_counter() - t0
    typical = typical_best(ranker.matrix)
    validation = data.queries[data.queries["split"] == "validation"]

    def best(query: str) -> float:
        return float(ranker.query_scores(normalise_query(query, cfg))[0].max())

    val = np.array([best(q) for q in validation["query"]])
    junk = {q: best(q) for q in JUNK}
    return {
        "method": method,
        "fit_s": round(fit_s, 1),
        "typical_best": typical,
        "validation_best_min": float(val.min()),
        "validation_ratio_min": float(val.min() / typical) if typical else None,
        "validation_ratio_median": float(np.median(val) / typical) if typical else None,
        "junk_ratio": {q: (v / typical if typical else None) for q, v in junk.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--methods", nargs="+", default=["tfidf", "sbert"])
    parser.add_argument("--out", type=Path, default=Path("reports/experiments/no_match_floor.json"))
    args = parser.parse_args()
    configure_logging("WARNING")
    params = load_params(args.params)
    rows = []
    for method in args.methods:
        row = measure(params, method)
        rows.append(row)
        print(json.dumps(row, indent=None))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
