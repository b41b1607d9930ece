"""The map in docs/architecture.md stays true: every DVC stage leads to its code in one hop,
and no module outgrows one job. (The floors themselves are `lint-imports`, in CI.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "shortlister"
MAX_LINES = 400


def _stage_table() -> dict[str, tuple[str, list[str]]]:
    """stage -> (stage module, [work paths]) from the architecture doc's table."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`\w+`", cells[0]):
            module = cells[1].strip("`")
            work = re.findall(r"`([\w/]+(?:\.py)?/?)`", cells[2].split("(")[0])
            rows[cells[0].strip("`")] = (module, work)
    return rows


def test_every_stage_is_in_the_map_and_its_paths_exist():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    table = _stage_table()
    assert sorted(table) == sorted(stages), "docs/architecture.md's stage table vs dvc.yaml"
    for name, (module, work) in table.items():
        assert module == f"stages/{name}.py", (name, module)
        assert (PACKAGE / module).is_file(), module
        cmd = stages[name].get("cmd") or stages[name]["do"]["cmd"]
        assert f"shortlister.stages.{name}" in cmd, (name, cmd)
        assert work, f"stage {name}: no work package named"
        for path in work:
            assert (PACKAGE / path).exists(), f"stage {name}: {path} does not exist"


def test_stage_packages_are_named_after_their_stage():
    # the examples: a newcomer finds train_encoder in encoder/, ranker in ranking/ltr/
    table = _stage_table()
    assert table["train_encoder"][1][0] == "encoder/"
    assert table["ranker"][1][0] == "ranking/ltr/"
    assert table["finetune"][1][0] == "llm/finetune/"
    assert table["eda"][1][0] == "eda/"


def test_no_module_over_400_lines():
    sizes = {
        p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert len(sizes) > 50
    too_long = {path: n for path, n in sizes.items() if n > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines (split by job): {too_long}"


def test_config_classes_share_one_constructor_name():
    pattern = re.compile(r"def (from_mapping|from_params|split_config)\b")
    offenders = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders, f"config classes build with from_config; found others in {offenders}"
