"""The shared config validators and the training time budget (core floor)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from transformers import TrainerControl, TrainerState

from shortlister.core.budget import time_budget_callback
from shortlister.core.checks import build, check_choice, check_int, check_number, is_number
from shortlister.core.errors import ConfigError


@pytest.mark.parametrize("value", [True, 1.0, "3", None, -1])
def test_check_int_refuses_what_yaml_gets_wrong(value):
    with pytest.raises(ConfigError, match=r"encoder\.epochs must be an integer >= 0, got"):
        check_int("encoder.epochs", value)


def test_check_int_returns_the_value():
    assert check_int("k", 3, minimum=1) == 3


@pytest.mark.parametrize(
    ("value", "kwargs", "ok"),
    [
        (0.5, {"low": 0, "high": 1}, True),
        (0.0, {"low": 0, "low_open": True}, False),
        (1.0, {"high": 1, "high_open": True}, False),
        (math.inf, {}, False),
        (True, {}, False),
        ("0.1", {}, False),
    ],
)
def test_check_number_bounds(value, kwargs, ok):
    if ok:
        assert check_number("lr", value, **kwargs) == value
    else:
        with pytest.raises(ConfigError, match=r"lr must be a number"):
            check_number("lr", value, **kwargs)


def test_check_choice_and_is_number():
    assert check_choice("llm.scorer", "pointwise", ("pointwise", "listwise")) == "pointwise"
    expected = r"llm\.scorer must be one of \['listwise', 'pointwise'\]"
    with pytest.raises(ConfigError, match=expected):
        check_choice("llm.scorer", "pairwise", ("pointwise", "listwise"))
    assert is_number(2) and not is_number(False) and not is_number(math.nan)


@dataclass
class _Cfg:
    a: int = 1
    b: str = "x"


def test_build_refuses_unknown_keys_by_name():
    assert build(_Cfg, {"a": 2}, "demo") == _Cfg(a=2)
    assert build(_Cfg, None, "demo") == _Cfg()
    expected = r"demo: unknown keys \['c'\]; expected some of \['a', 'b'\]"
    with pytest.raises(ConfigError, match=expected):
        build(_Cfg, {"c": 1}, "demo")


def _step(callback, global_step=1, max_steps=10):
    state = TrainerState(global_step=global_step, max_steps=max_steps)
    return callback.on_step_end(None, state, TrainerControl())


def test_time_budget_stops_and_saves_only_when_asked():
    never = time_budget_callback(None)
    control = _step(never)
    assert not control.should_training_stop and not never.hit

    spent = time_budget_callback(0.0, save=True)
    control = _step(spent)
    assert control.should_training_stop and control.should_save and spent.hit

    no_save = time_budget_callback(0.0)
    control = _step(no_save)
    assert control.should_training_stop and not control.should_save


def test_time_budget_saves_the_last_step_for_a_resumable_run():
    control = _step(time_budget_callback(None, save=True), global_step=10, max_steps=10)
    assert control.should_save and not control.should_training_stop
