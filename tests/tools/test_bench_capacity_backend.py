"""The capacity bench's backend knob: local unless TALLYHOLD_BENCH_CAPACITY_BACKEND names podman; anything else
stops the bench before it starts a daemon, naming the backends it runs on. The steps: the ladder up to MAX, or the
customer counts STEPS names."""

from __future__ import annotations

import pytest

from bench.bench_capacity import backend_knob, steps_knob
from tallyhold_provision.config import BackendName


def test_the_backend_is_local_when_the_knob_is_unset_or_empty() -> None:
    assert backend_knob({}) is BackendName.local
    assert backend_knob({"TALLYHOLD_BENCH_CAPACITY_BACKEND": ""}) is BackendName.local


def test_the_knob_chooses_local_or_podman() -> None:
    assert backend_knob({"TALLYHOLD_BENCH_CAPACITY_BACKEND": "local"}) is BackendName.local
    assert backend_knob({"TALLYHOLD_BENCH_CAPACITY_BACKEND": "podman"}) is BackendName.podman


@pytest.mark.parametrize("value", ["kubernetes", "Podman", "docker", " local"])
def test_any_other_backend_is_refused_with_the_choices(value: str) -> None:
    with pytest.raises(SystemExit, match="runs on local or podman") as refused:
        backend_knob({"TALLYHOLD_BENCH_CAPACITY_BACKEND": value})
    assert repr(value) in str(refused.value)


def test_the_steps_are_the_ladder_up_to_max_unless_named() -> None:
    assert steps_knob({"TALLYHOLD_BENCH_CAPACITY_MAX": "60"}) == [25, 50, 60]
    named = {"TALLYHOLD_BENCH_CAPACITY_MAX": "60", "TALLYHOLD_BENCH_CAPACITY_STEPS": "200, 100"}
    assert steps_knob(named) == [100, 200]
    assert steps_knob({"TALLYHOLD_BENCH_CAPACITY_STEPS": "4"}) == [4]


@pytest.mark.parametrize("value", ["0,100", "a hundred", ",", "100;200"])
def test_steps_that_are_not_customer_counts_are_refused(value: str) -> None:
    with pytest.raises(SystemExit, match="customer counts"):
        steps_knob({"TALLYHOLD_BENCH_CAPACITY_STEPS": value})
