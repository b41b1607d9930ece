"""No hidden state: a resumed title-encoder run saves the weights an uninterrupted one does.

The same tiny run (packaged MiniLM, 50 synthetic title pairs, both phases) trains
straight through, and stopped after `STOP` steps of phase 1 (as the wall-time budget
stops it: a checkpoint, then the end of training; phase 2 then trains on the short
result) and run again, which resumes phase 1 from its checkpoint and trains phase 2 anew
(its checkpoint was of the short phase 1). The saved weights must be equal, and a third
run, finding both phases finished, must take no step and save them again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortlister.encoder import train as train_module
from shortlister.encoder.train import PhaseConfig, TrainConfig, fingerprint, train_encoder

ROLES = {
    "recruiter": [
        "Personnel Recruiter",
        "Talent Acquisition Specialist",
        "HR Recruiter",
        "Technical Recruiter",
        "Staffing Consultant",
    ],
    "nurse": ["Registered Nurse", "Staff Nurse", "Charge Nurse", "ICU Nurse", "ER Nurse"],
    "welder": ["Welder", "Arc Welder", "Pipe Welder", "MIG Welder", "Welding Technician"],
    "developer": [
        "Software Engineer",
        "Software Developer",
        "Backend Developer",
        "Python Developer",
        "Programmer",
    ],
    "teacher": ["Teacher", "School Teacher", "Math Teacher", "Primary Teacher", "Educator"],
}
STEPS, STOP = 4, 2


def _pairs() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    synonyms = pd.DataFrame(
        [
            (a, b)
            for titles in ROLES.values()
            for i, a in enumerate(titles)
            for b in titles[i + 1 :]
        ],
        columns=["anchor", "positive"],
    )  # 50 pairs
    graded = pd.DataFrame(
        {
            "sentence1": synonyms["anchor"],
            "sentence2": synonyms["positive"].iloc[rng.permutation(len(synonyms))].to_numpy(),
            "score": rng.random(len(synonyms)).astype("float32"),
        }
    )
    return synonyms, graded


def _config(checkpoints: Path, checkpoint_steps: int = STOP) -> TrainConfig:
    return TrainConfig(
        max_seq_length=16,
        threads=2,
        checkpoint_dir=str(checkpoints),
        synonyms=PhaseConfig(
            loss="mnrl_all",
            batch_size=8,
            max_steps=STEPS,
            max_epochs=10.0,
            checkpoint_steps=checkpoint_steps,
            max_minutes=None,
        ),
        relatedness=PhaseConfig(
            enabled=True,
            loss="cosent",
            batch_size=8,
            max_steps=1,
            max_epochs=10.0,
            checkpoint_steps=100,
            max_minutes=None,
        ),
    )


def _stop_at(step: int):
    """What the time budget does when it runs out, at a given step instead of a time."""
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        hit = False

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                self.hit = control.should_training_stop = control.should_save = True
            return control

    return StopAt()


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("resume")
    synonyms, graded = _pairs()

    def run(name: str, checkpoints: str, **kw) -> dict:
        cfg = _config(root / checkpoints, **kw)
        return train_encoder(cfg, synonyms, graded, root / name, root / f"scratch-{name}")

    # Straight through; only the last step is saved (the checkpoint spacing is not part of
    # the fingerprint: it says where a run may resume, not what it trains).
    out = {"straight": run("straight", "ckpt-a", checkpoint_steps=100)}
    patch = pytest.MonkeyPatch()
    patch.setattr(train_module, "time_budget_callback", lambda *a, **k: _stop_at(STOP))
    try:  # phase 1 cut at STOP (phase 2 then trains on the short result, as in real life)
        out["stopped"] = run("stopped", "ckpt-b")
    finally:
        patch.undo()
    out["resumed"] = run("resumed", "ckpt-b")
    out["again"] = run("again", "ckpt-b")  # everything finished: nothing is retrained
    return {"root": root, **out}


def test_resumed_run_saves_the_uninterrupted_weights(runs: dict) -> None:
    import torch

    root = runs["root"]
    phases = {
        r: [(p["steps"], p["resumed_from_step"]) for p in runs[r]["phases"]]
        for r in ("straight", "stopped", "resumed", "again")
    }
    assert phases["straight"] == [(STEPS, 0), (1, 0)]
    assert phases["stopped"] == [(STOP, 0), (1, 0)]
    # Phase 1 resumes at its checkpoint; phase 2's checkpoint was of the short phase 1, so
    # it trains again; a third run finds both finished and takes no step.
    assert phases["resumed"] == [(STEPS, STOP), (1, 0)]
    assert phases["again"] == [(STEPS, STEPS), (1, 1)]
    assert len({runs[r]["fingerprint"] for r in ("straight", "stopped", "resumed")}) == 1
    straight = _weights(root / "straight")
    for other in ("resumed", "again"):
        weights = _weights(root / other)
        assert weights.keys() == straight.keys()
        diff = max(float((straight[k] - weights[k]).abs().max()) for k in straight)
        print(f"max |straight - {other}| = {diff:.3g}")
        assert all(torch.allclose(straight[k], weights[k], rtol=0, atol=1e-7) for k in straight)
    # The stopped run really was short of the full run (the comparison means something).
    stopped = _weights(root / "stopped")
    assert max(float((straight[k] - stopped[k]).abs().max()) for k in straight) > 1e-5


def test_fingerprint_ignores_where_and_how_long_but_not_what() -> None:
    synonyms, graded = _pairs()
    base = fingerprint(_config(Path("a")), synonyms, graded)
    moved = _config(Path("elsewhere"))
    moved.synonyms.max_minutes = 30.0
    assert fingerprint(moved, synonyms, graded) == base
    changed = _config(Path("a"))
    changed.synonyms.lr = 1e-4
    assert fingerprint(changed, synonyms, graded) != base
    assert fingerprint(_config(Path("a")), synonyms.iloc[1:], graded) != base
    with pytest.MonkeyPatch.context() as patch:  # an upgraded library trains differently
        patch.setattr(train_module, "versions", lambda names: {n: "0.0" for n in names})
        assert fingerprint(_config(Path("a")), synonyms, graded) != base
    other_base = _config(Path("a"))
    other_base.base_model = "sentence-transformers/paraphrase-MiniLM-L3-v2"
    assert fingerprint(other_base, synonyms, graded) != base
