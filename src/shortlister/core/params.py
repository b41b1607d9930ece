"""Reading the pipeline's parameters: params.yaml, composed from conf/ by Hydra."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from shortlister.core.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")
DEFAULT_CONFIG_DIR = Path("conf")


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """The one file stage code reads (DVC tracks its keys per stage)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: not found; run from the repository root (or compose it from conf/)"
        )
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a params YAML file")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 ({exc.reason}); expected YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: cannot parse YAML{where}: {problem}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def compose(
    overrides: Sequence[str] = (),
    config_dir: str | Path = DEFAULT_CONFIG_DIR,
    config_name: str = "config",
) -> dict[str, Any]:
    """Compose conf/ with Hydra overrides, exactly as `dvc exp run -S` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(Path(config_dir).resolve()), version_base=None):
        cfg = hydra_compose(config_name, overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def write_params(params: dict[str, Any], path: str | Path = DEFAULT_PARAMS) -> None:
    Path(path).write_text(yaml.safe_dump(params, sort_keys=False))
