"""``--seed-with``: the hand-designed cells enter the search as points of the space, with their choices, and
the strategy mutates from them (children record their parent); ``--baseline`` points are evaluated as they
are and never shown to the strategy; a non-member seed is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import nas
from nas.cli import main
from nas.core.registry import SPACES


def _run(out: Path, space: str, *extra: str) -> pd.DataFrame:
    argv = ["search", "--space", space, "--objective", "synthetic", "--executor", "inline", "--quiet"]
    assert main([*argv, "--out", str(out), *extra]) == 0
    return pd.read_csv(out / "trials.csv")


@pytest.mark.parametrize(
    ("space", "seeds"),
    [("nasnet", ["nasnet_a_cifar", "amoebanet_a_cifar"]), ("darts", ["darts_v2_cifar"])],
)
def test_seed_rows_carry_their_choices_and_children_name_them_as_parent(tmp_path, space, seeds) -> None:
    n = max(2, len(seeds))  # the population is the seeds: every first mutation has a seed parent
    opts = ["--strategy", "evolution", "--strategy-opt", f"population={n}", "--strategy-opt", f"sample={n}"]
    df = _run(tmp_path / space, space, *opts, "--budget", "8trials", "--seed-with", ",".join(seeds))
    sp = SPACES[space]()
    rows = df[df.source == "seed"].set_index("name")
    assert list(rows.index) == seeds
    for name in seeds:
        choices = json.loads(rows.loc[name].choices)
        zoo = nas.ARCHS[name]()
        assert choices == sp.encode(zoo)  # the seed's own cells, as choices the strategy can mutate
        built = sp.decode(choices)  # evaluated at the space's layout: its cells are the zoo network's
        assert [s.cell for s in built.stages] == [s.cell for s in sp.decode(sp.encode(zoo)).stages]
    seed_ids = set(rows.trial_id)
    children = df[df.parent.isin(seed_ids)]
    assert len(children) >= 1 and (children.source == "strategy").all()
    assert (children.trial_id > children.parent).all()


def test_a_layout_other_than_the_space_s_is_evaluated_at_the_space_s_layout(tmp_path) -> None:
    sp = SPACES["nasnet"]()
    amoeba = nas.ARCHS["amoebanet_a_cifar"]()
    assert not sp.layout_matches(amoeba) and sp.contains(amoeba)  # its own C=36, the space's default other
    df = _run(tmp_path / "a", "nasnet", "--budget", "1trials", "--seed-with", "amoebanet_a_cifar")
    row = df.iloc[0]
    assert row["name"] == "amoebanet_a_cifar" and row.source == "seed"
    assert json.loads(row.genotype) == json.loads(sp.decode(sp.encode(amoeba)).to_json())


def test_an_outside_baseline_is_evaluated_as_it_is_and_never_fed(tmp_path) -> None:
    df = _run(tmp_path / "b", "nasnet", "--budget", "3trials", "--baseline", "amoebanet_a_cifar")
    row = df[df.source == "baseline"].iloc[0]
    assert pd.isna(row.choices)  # never shown to the strategy
    assert json.loads(row.genotype) == json.loads(nas.ARCHS["amoebanet_a_cifar"]().to_json())
    state = json.loads((tmp_path / "b" / "strategy.json").read_text())["state"]
    assert all(c is not None for c, _ in state["population"]) and len(state["population"]) == 2


def test_a_seed_outside_the_space_is_a_one_line_error_pointing_at_baseline(tmp_path, capsys) -> None:
    argv = ["search", "--space", "darts", "--objective", "synthetic", "--executor", "inline", "--quiet"]
    rc = main([*argv, "--out", str(tmp_path / "c"), "--budget", "2trials", "--seed-with", "nasnet_a_cifar"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "--seed-with: nasnet_a_cifar is not a point of the darts space (" in err and "--baseline" in err
    assert not (tmp_path / "c").exists()
