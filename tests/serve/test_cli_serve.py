from __future__ import annotations

from click.testing import CliRunner

import shortlister.serve.app as serve_app
from shortlister.cli import main


def test_serve_command_builds_settings_from_params_and_flags(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(serve_app, "serve", lambda settings: seen.setdefault("s", settings))
    params = tmp_path / "params.yaml"
    params.write_text(
        "embeddings: {name: sbert}\n"
        "serve: {port: 8100, max_top_k: 50, default_top_k: 10}\n"
        "methods: {tfidf: {name: tfidf, char_weight: 0.7}}\n"
    )
    candidates = tmp_path / "c.csv"
    candidates.write_text("id,title,location\n1,HR Manager,Paris\n")
    result = CliRunner().invoke(
        main,
        ["serve", "--params", str(params), "--candidates", str(candidates), "--method", "tfidf"],
    )
    assert result.exit_code == 0, result.output
    settings = seen["s"]
    assert settings.methods == ["tfidf"] and settings.method == "tfidf"
    assert settings.port == 8100 and settings.host == "127.0.0.1" and settings.max_top_k == 50
    assert settings.candidates == str(candidates)
    assert settings.method_configs["tfidf"]["char_weight"] == 0.7
    assert "http://127.0.0.1:8100/" in result.output


def test_serve_command_reports_config_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(serve_app, "serve", lambda settings: None)
    params = tmp_path / "params.yaml"
    params.write_text("serve: {max_top_k: 5, default_top_k: 10}\n")
    result = CliRunner().invoke(main, ["serve", "--params", str(params)])
    assert result.exit_code != 0 and "default_top_k" in result.output
