"""The service's built-in defaults are conf/serve/default.yaml's, written once.

`ServeSettings` keeps defaults of its own so `shortlister serve` works without a
params.yaml (or outside the repository, where conf/ is not shipped); this keeps them
the config's, key by key. The few that differ do so on purpose, each for its reason.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from shortlister.serve.settings import DEFAULT_PATHS, ServeSettings

ROOT = Path(__file__).resolve().parents[2]
CONF = yaml.safe_load((ROOT / "conf" / "serve" / "default.yaml").read_text())

# Built-in on purpose, not the pipeline's: without params.yaml there are no stored
# embeddings or trained models, so only the methods that fit on any pool are served.
BUILT_IN = {
    "methods": ["tfidf", "sbert"],
    "fit_methods": ["tfidf", "sbert"],
    # None: the first method that loads. Only consulted when the default method came
    # from the pipeline (embeddings.name), so only with a params.yaml, which sets it.
    "fallback_method": None,
    # The starring stage's knobs (python -m shortlister.stages.starring reads them from
    # params.yaml); the service accepts the section and does not use it.
    "starring": {},
}


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def test_every_default_is_the_configs():
    fields = {f.name: f for f in dataclasses.fields(ServeSettings)}
    assert set(CONF) <= set(fields), f"ServeSettings lacks conf/serve's {set(CONF) - set(fields)}"
    for key, value in CONF.items():
        default = _default(fields[key])
        if isinstance(default, tuple):
            default = list(default)
        expected = BUILT_IN.get(key, value)
        assert default == expected, f"ServeSettings.{key} = {default!r}, conf/serve: {value!r}"


def test_the_deliberate_differences_are_still_differences():
    # A difference that is gone should leave BUILT_IN (then the config holds it alone).
    assert all(CONF[key] != value for key, value in BUILT_IN.items())


def test_default_paths_are_the_root_configs():
    paths = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())["paths"]
    assert {k: paths[k] for k in DEFAULT_PATHS} == DEFAULT_PATHS


def test_settings_without_params_serve_the_built_in_methods():
    settings = ServeSettings.from_config({})
    assert settings.methods == ["tfidf", "sbert"] and settings.method == "tfidf"
    assert settings.port == CONF["port"] and settings.host == CONF["host"]
    assert settings.ltr_model_dir is None and not settings.method_from_pipeline
