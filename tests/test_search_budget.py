"""Budget strings, the device-hour ledger and the launch rule."""

from __future__ import annotations

import json

import pytest

from nas.search.budget import Budget, Ledger


@pytest.mark.parametrize(
    "text, kind, amount",
    [
        ("100gpuh", "gpuh", 100.0),
        ("2cpuh", "cpuh", 2.0),
        ("0.5gpuh", "gpuh", 0.5),
        ("30m", "wall", 1800.0),
        ("2h", "wall", 7200.0),
        ("90s", "wall", 90.0),
        ("500trials", "trials", 500.0),
        ("1trial", "trials", 1.0),
    ],
)
def test_parse(text: str, kind: str, amount: float) -> None:
    b = Budget.parse(text)
    assert len(b.limits) == 1
    assert b.limits[0].kind == kind and b.limits[0].amount == pytest.approx(amount)


def test_parse_combined() -> None:
    b = Budget.parse("2h, 500trials")
    assert [lim.kind for lim in b.limits] == ["wall", "trials"]


@pytest.mark.parametrize(
    "text", ["100gpu", "-1h", "", "h", "0trials", "0h", "1.5trials", "2h,3h", "10 parsecs"]
)
def test_bad_budget_strings(text: str) -> None:
    with pytest.raises(ValueError, match="budget"):
        Budget.parse(text)


def test_ledger_counts_fractional_gpus_failed_and_not_cached() -> None:
    led = Ledger()
    led.add(3600.0, cpus=2, gpus=0.5, status="ok", cached=False)
    led.add(1800.0, cpus=2, gpus=0.5, status="failed", cached=False)  # failed trials count
    led.add(9999.0, cpus=2, gpus=0.5, status="ok", cached=True)  # cached trials cost nothing
    assert led.gpu_hours == pytest.approx(0.75)
    assert led.cpu_hours == pytest.approx(3.0)
    assert (led.trials, led.launched, led.failed, led.cached) == (3, 2, 1, 1)
    assert Ledger.from_dict(json.loads(json.dumps(led.to_dict()))) == led


def test_launch_rule_estimates_from_the_mean_trial_cost() -> None:
    b = Budget.parse("1gpuh")
    led = Ledger()
    assert b.allows_launch(led, running=0, gpus=1, cpus=1)  # nothing known yet: launch
    led.add(1200.0, cpus=1, gpus=1, status="ok", cached=False)  # 1/3 gpuh used, mean trial 1/3 gpuh
    assert b.allows_launch(led, running=0, gpus=1, cpus=1)  # 2/3 <= 1
    assert b.allows_launch(led, running=1, gpus=1, cpus=1)  # 1/3 + 2 * 1/3 = 1 <= 1
    assert not b.allows_launch(led, running=2, gpus=1, cpus=1)  # would overrun
    assert b.allows_launch(led, running=2, gpus=0.25, cpus=1)  # a quarter GPU per trial fits

    t = Budget.parse("3trials")
    led = Ledger()
    for _ in range(2):
        led.add(1.0, 1, 0, "ok", False)
    assert t.allows_launch(led, running=0, gpus=0, cpus=1)
    assert not t.allows_launch(led, running=1, gpus=0, cpus=1)

    w = Budget.parse("60s")
    led = Ledger(elapsed_s=30.0)
    led.add(20.0, 1, 0, "ok", False)
    assert w.allows_launch(led, 0, 0, 1)  # 30 + 20 <= 60
    led.elapsed_s = 45.0
    assert not w.allows_launch(led, 0, 0, 1)  # 45 + 20 > 60


def test_gpu_budget_needs_gpu_trials() -> None:
    with pytest.raises(ValueError, match="GPU"):
        Budget.parse("10gpuh").check_resources(cpus_per_trial=1, gpus_per_trial=0)
    Budget.parse("10gpuh").check_resources(cpus_per_trial=1, gpus_per_trial=0.25)
