"""torch only when needed: a TF-IDF service and `rank --method tfidf` never import it.

Importing torch costs seconds of start-up (and the learned rankers, Sentence-BERT, the
tuned encoder and the LLM all need it); the service imports their modules when it
loads such a method, the CLI when it ranks with one. Each check runs in a fresh
interpreter, since this test process has imported torch long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "sentence_transformers")


def _run(code: str, cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


REPORT = f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"


def test_importing_the_app_does_not_import_torch(tmp_path):
    loaded = _run(f"import json, sys\nimport shortlister.serve.app\n{REPORT}", tmp_path)
    assert loaded == dict.fromkeys(HEAVY, False)


def test_a_tfidf_service_never_imports_torch(small_pool_csv, tmp_path):
    code = f"""
import json, sys
from starlette.testclient import TestClient
from shortlister.serve.app import create_app
from shortlister.serve.settings import ServeSettings
from shortlister.serve.state import build_state

settings = ServeSettings(candidates={str(small_pool_csv)!r}, methods=["tfidf"])
state = build_state(settings)
assert list(state.methods) == ["tfidf"], state.unavailable
client = TestClient(create_app(settings, state=state), base_url="http://127.0.0.1")
response = client.post("/rank", json={{"query": "aspiring human resources", "top_k": 3}})
assert response.status_code == 200, response.text
{REPORT}
"""
    assert _run(code, tmp_path) == dict.fromkeys(HEAVY, False)


def test_cli_rank_with_tfidf_never_imports_torch(small_pool_csv, tmp_path):
    code = f"""
import json, sys
from click.testing import CliRunner
from shortlister.cli import main

result = CliRunner().invoke(main, ["rank", "--candidates", {str(small_pool_csv)!r},
                                   "--method", "tfidf", "--query", "registered nurse",
                                   "--star-weight", "0.5"])
assert result.exit_code == 0, result.output
{REPORT}
"""
    assert _run(code, tmp_path) == dict.fromkeys(HEAVY, False)
