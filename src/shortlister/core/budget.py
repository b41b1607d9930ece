"""A wall-time budget for a transformers `Trainer` (title encoder and LLM fine-tuning)."""

from __future__ import annotations

import logging
import time
from typing import Any

logger = logging.getLogger(__name__)


def time_budget_callback(max_minutes: float | None, *, save: bool = False) -> Any:
    """A `TrainerCallback` that stops training once `max_minutes` of training have passed
    (None: never); `.hit` says whether it did. The clock starts at `on_train_begin`, so
    model loading and set-up do not count. `save`: also ask for a checkpoint when it
    stops and at the last step, so a re-run resumes from where this one ended."""
    from transformers import TrainerCallback  # transformers is heavy: only when training

    class TimeBudget(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()
            self.hit = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if save and state.global_step >= state.max_steps:
                control.should_save = True
            if max_minutes is not None and time.perf_counter() - self.start > 60 * max_minutes:
                step = state.global_step
                logger.warning("wall-time budget of %.1f min reached at step %d", max_minutes, step)
                self.hit = True
                control.should_training_stop = True
                control.should_save = save
            return control

    return TimeBudget()
