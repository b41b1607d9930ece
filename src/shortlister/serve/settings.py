"""Service settings: the `serve` config group plus what it needs from the rest of params."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shortlister.core.checks import check_int, check_number
from shortlister.core.errors import ConfigError
from shortlister.index.config import IndexConfig
from shortlister.ranking.starred import MAX_STARS, StarConfig

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_ANY_ADDRESS = ("", "0.0.0.0", "::")

# The built-in defaults below are conf/serve/default.yaml's (and conf/config.yaml's paths),
# for a service started without params.yaml; tests/serve/test_settings_defaults.py keeps
# them equal, but for the few that differ on purpose (methods: what fits on any pool).
DEFAULT_PATHS = {
    "interim": "data/interim",
    "models": "models",
    "embeddings": "data/processed/embeddings",
}


@dataclass
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    method: str | None = None  # default method of a request; None: the first of `methods`
    # When the default method came from the pipeline (embeddings.name, not chosen by the
    # user) and cannot be served (e.g. sbert-tuned before its training stage ran), this one
    # is the default instead; None: the first method that loads.
    fallback_method: str | None = None
    method_from_pipeline: bool = False
    methods: Sequence[str] = ("tfidf", "sbert")
    fit_methods: Sequence[str] = ("tfidf", "sbert")  # may be fitted on a pool at start-up
    candidates: str | None = None  # None: the pipeline's cleaned default pool
    star_weight: float = 0.5
    max_stars: int = MAX_STARS
    default_top_k: int = 20
    max_top_k: int = 200
    max_query_chars: int = 200
    max_body_bytes: int = 16384
    # A candidate file uploaded from the page (POST /pools/upload); larger ones get 413.
    max_upload_bytes: int = 20 * 2**20
    query_cache_size: int = 256
    score_cache_mb: float = 64.0
    token_env: str = "SHORTLISTER_API_TOKEN"
    # Saved shortlists: an SQLite file (relative to the working folder) or an SQLAlchemy
    # URL (postgresql+psycopg://...); the SHORTLISTER_DB environment variable overrides it.
    db: str = "var/shortlists.db"
    # The Host header names requests may carry (port aside); others get 400. None: the
    # loopback names, plus serve.host when it is not a loopback address (see host_allowlist).
    allowed_hosts: Sequence[str] | None = None
    # A trained learned-to-rank model (models/ranker/<name>/), served as method <name> when
    # the folder holds one. None or "": no learned ranker. from_config fills None in from
    # params: <paths.models>/ranker/<ranker.name>.
    ltr_model_dir: str | None = None
    starring: Mapping[str, Any] = field(default_factory=dict)  # the starring stage's knobs
    # From the rest of params: methods.<name>, data.clean, paths, llm (method `llm`: its
    # model, first stage and time limit, llm.serve_timeout_s) and index (pools of at least
    # index.min_pool candidates are searched through <paths.models>/index/<method>/default).
    method_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    llm: Mapping[str, Any] = field(default_factory=dict)
    cross: Mapping[str, Any] = field(default_factory=dict)  # method cross-encoder: cross.*
    clean: Mapping[str, Any] = field(default_factory=dict)
    index: Mapping[str, Any] = field(default_factory=dict)  # {}: IndexConfig()'s defaults
    paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))

    def __post_init__(self) -> None:
        self.methods = list(dict.fromkeys(self.methods))
        self.fit_methods = list(self.fit_methods)
        if self.method is None:
            if not self.methods:
                raise ConfigError("serve.methods must name at least one method")
            self.method = self.methods[0]
        elif self.method not in self.methods:
            self.methods.insert(0, self.method)
        if check_int("serve.port", self.port) > 65535:
            raise ConfigError(f"serve.port must be in 0..65535, got {self.port}")
        StarConfig(star_weight=self.star_weight, max_stars=self.max_stars)  # validates both
        for name in ("default_top_k", "max_top_k", "max_query_chars", "max_body_bytes"):
            check_int(f"serve.{name}", getattr(self, name), minimum=1)
        check_int("serve.max_upload_bytes", self.max_upload_bytes, minimum=1)
        if self.default_top_k > self.max_top_k:
            raise ConfigError(
                f"serve.default_top_k ({self.default_top_k}) must be <= max_top_k "
                f"({self.max_top_k})"
            )
        check_int("serve.query_cache_size", self.query_cache_size, minimum=0)
        if isinstance(self.db, Path):
            self.db = str(self.db)
        if not isinstance(self.db, str) or not self.db.strip():
            raise ConfigError(
                f"serve.db must be an SQLite file path or a database URL, got {self.db!r}"
            )
        check_number("serve.score_cache_mb", self.score_cache_mb, low=0.0)
        self.paths = {**DEFAULT_PATHS, **dict(self.paths)}
        if self.allowed_hosts is not None:
            hosts = self.allowed_hosts
            if isinstance(hosts, str) or not all(isinstance(h, str) and h.strip() for h in hosts):
                raise ConfigError(
                    "serve.allowed_hosts must be null or a list of host names "
                    f"(e.g. [127.0.0.1, localhost]), got {hosts!r}"
                )
            if not hosts:
                raise ConfigError("serve.allowed_hosts is empty; use null for the default")
            self.allowed_hosts = [h.strip() for h in hosts]
        if self.ltr_model_dir is not None:
            self.ltr_model_dir = str(self.ltr_model_dir) or None
        self.index = dict(self.index or {})
        IndexConfig.from_config(self.index)  # validated now: a bad section stops the start-up

    @property
    def index_config(self) -> IndexConfig:
        """The `index` section's settings (see ranking.indexed.index_for)."""
        return IndexConfig.from_config(self.index)

    @property
    def ltr_name(self) -> str | None:
        """The method name the learned ranker is expected under (its folder's name)."""
        return Path(self.ltr_model_dir).name if self.ltr_model_dir else None

    def host_allowlist(self) -> list[str]:
        """The Host names served: serve.allowed_hosts, or a default derived from serve.host.

        Bound to a loopback address, only the loopback names: a page elsewhere cannot reach
        the server through a rebound domain name. Bound to another address, that address
        too (for 0.0.0.0 or ::, this machine's host name), with a warning: clients that use
        any other name get 400 until serve.allowed_hosts lists it.
        """
        if self.allowed_hosts is not None:
            return list(self.allowed_hosts)
        if _is_loopback(self.host):
            return list(dict.fromkeys([*LOOPBACK_HOSTS, self.host.strip("[]")]))
        own = socket.gethostname() if self.host in _ANY_ADDRESS else self.host.strip("[]")
        hosts = list(dict.fromkeys([own, *LOOPBACK_HOSTS]))
        logger.warning(
            "serve.host is %s and serve.allowed_hosts is not set: only requests whose Host "
            "is one of %s are answered (others get 400); set serve.allowed_hosts to the "
            "names clients use",
            self.host or "''",
            ", ".join(hosts),
        )
        return hosts

    @classmethod
    def from_config(cls, params: Mapping[str, Any], **overrides: Any) -> ServeSettings:
        """Settings from a params.yaml mapping; `overrides` that are not None win.

        The serve section is optional (its defaults are this class's); the default method
        falls back to the pipeline's selected one (embeddings.name); the learned ranker's
        folder (serve.ltr_model_dir: null) to <paths.models>/ranker/<ranker.name> when
        params has a `ranker` section ("" turns the learned ranker off).
        """
        serve = dict(params.get("serve") or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(serve) - known)
        if unknown:
            raise ConfigError(
                f"serve: unknown option(s) {unknown}; expected some of {sorted(known)}"
            )
        serve.update({k: v for k, v in overrides.items() if v is not None})
        if serve.get("method") is None and "embeddings" in params:
            serve["method"] = params["embeddings"].get("name")
            serve["method_from_pipeline"] = True
        serve.setdefault("method_configs", params.get("methods", {}))
        serve.setdefault("llm", params.get("llm") or {})
        serve.setdefault("cross", params.get("cross") or {})
        serve.setdefault("clean", params.get("data", {}).get("clean", {}))
        serve.setdefault("index", params.get("index") or {})
        serve.setdefault("paths", {k: v for k, v in params.get("paths", {}).items()})
        ranker_name = (params.get("ranker") or {}).get("name")
        if serve.get("ltr_model_dir") is None and ranker_name:
            models = {**DEFAULT_PATHS, **serve["paths"]}["models"]
            serve["ltr_model_dir"] = str(Path(models) / "ranker" / str(ranker_name))
        if isinstance(serve.get("ltr_model_dir"), Path):
            serve["ltr_model_dir"] = str(serve["ltr_model_dir"])
        if isinstance(serve.get("candidates"), Path):
            serve["candidates"] = str(serve["candidates"])
        return cls(**serve)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
