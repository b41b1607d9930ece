"""`shortlister rank`'s defaults come from the config: serve.fallback_method, star_weight."""

from __future__ import annotations

from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from shortlister.cli import DEFAULT_METHOD, default_method, main

ROOT = Path(__file__).resolve().parents[1]
SERVE = yaml.safe_load((ROOT / "conf" / "serve" / "default.yaml").read_text())


def _option(name: str) -> click.Option:
    rank = main.commands["rank"]
    return next(p for p in rank.params if isinstance(p, click.Option) and p.name == name)


def test_the_built_in_default_method_is_the_configs_fallback():
    # Without --params the CLI cannot read conf/ (not shipped): its copy must agree.
    assert DEFAULT_METHOD == SERVE["fallback_method"] == "sbert"
    assert default_method(None) == DEFAULT_METHOD


def test_the_default_method_is_read_from_params(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"serve": {"fallback_method": "tfidf"}}))
    assert default_method(params) == "tfidf"
    params.write_text(yaml.safe_dump({"data": {}}))  # no serve section: the built-in one
    assert default_method(params) == DEFAULT_METHOD
    assert default_method(ROOT / "params.yaml") == SERVE["fallback_method"]


def test_rank_without_method_uses_the_params_fallback(tmp_path):
    (tmp_path / "c.csv").write_text("id,title,location\n1,Registered Nurse,Rome\n")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"serve": {"fallback_method": "tfidf"}}))
    args = ["rank", "--candidates", str(tmp_path / "c.csv"), "--query", "nurse",
            "--params", str(params)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    # methods.<method> is read from the same file: its absence names the method chosen.
    assert result.exit_code == 1 and "no methods.tfidf section" in result.output


def test_star_weight_default_is_the_services():
    assert _option("star_weight").default == SERVE["star_weight"]


def test_the_built_in_index_settings_are_conf_index():
    """Without --params the CLI indexes large pools with IndexConfig(): conf/index's copy."""
    from shortlister.cli.rank import index_config
    from shortlister.index.config import IndexConfig

    conf = yaml.safe_load((ROOT / "conf" / "index" / "default.yaml").read_text())
    assert index_config(None) == IndexConfig.from_config(conf) == IndexConfig()
