"""Local search and the predictor-guided (BANANAS-style) strategy: the walk's moves, the warm start from
observed points, no point proposed twice, and the predictor's determinism across processes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import torch

from nas.core.registry import SPACES
from nas.search.strategies import choice_key, make_strategy
from search_spaces.nb201 import arch_string


def _drive(s, table, n):
    seq = []
    for _ in range(n):
        c = s.propose()
        seq.append(c)
        s.observe(c, table[arch_string(c)])
    return seq


@pytest.mark.parametrize("name", ["local", "bananas"])
def test_never_proposes_a_point_twice(name, space, table) -> None:
    keys = [choice_key(c) for c in _drive(make_strategy(name, space, seed=2), table, 150)]
    assert len(keys) == len(set(keys))


def test_local_search_starts_from_the_best_observed_point_and_walks_its_neighbours(space, table) -> None:
    rng = random.Random(5)
    warm = [space.sample_choices(rng) for _ in range(10)]  # e.g. a pre-screen's top 10, evaluated first
    s = make_strategy("local", space, seed=0, init=10)
    for c in warm:
        s.observe(c, table[arch_string(c)])
    best = max(warm, key=lambda c: table[arch_string(c)])
    first = s.propose()
    assert first in space.neighbours(best)  # no random phase: the warm start is the first centre


def test_local_search_moves_to_the_first_improving_neighbour(space) -> None:
    s = make_strategy("local", space, seed=0, init=1)
    start = {k: v[0] for k, v in space.choices().items()}
    s.observe(start, 50.0)
    c1 = s.propose()
    assert c1 in space.neighbours(start)
    s.observe(c1, 40.0)  # worse: the centre stays
    c2 = s.propose()
    assert c2 in space.neighbours(start)
    s.observe(c2, 60.0)  # better: the walk moves there
    c3 = s.propose()
    assert c3 in space.neighbours(c2) and c3 != start


def test_local_search_restarts_at_a_local_optimum(space) -> None:
    small = SPACES["nb201"](ops=("none", "nor_conv_3x3"))  # 64 points, 6 neighbours each
    s = make_strategy("local", small, seed=0, init=1, restart="best")
    start = {k: "nor_conv_3x3" for k in small.choices()}
    s.observe(start, 100.0)  # the optimum: every neighbour is worse
    nbrs = [s.propose() for _ in range(6)]
    for c in nbrs:
        s.observe(c, 1.0)
    assert sorted(map(choice_key, nbrs)) == sorted(map(choice_key, small.neighbours(start)))
    after = s.propose()  # restart from the best point not yet a centre: one of the neighbours
    assert choice_key(after) not in {choice_key(c) for c in [start, *nbrs]}
    assert any(after in small.neighbours(n) for n in nbrs)


def _convs(c: dict) -> int:
    return sum(v == "nor_conv_3x3" for v in c.values())


def test_local_search_predictor_order_tries_the_predicted_best_neighbour_first(space) -> None:
    """Score = the number of 3×3 convolutions: after 40 random points the ensemble has learnt it, so the
    first neighbour tried adds a convolution (random order: 4 of the 24 neighbours do, for a centre with
    two); the same points in random order try a worse one first for some seed."""
    firsts = {}
    for order in ("predictor", "random"):
        gains = []
        for seed in range(3):
            rng = random.Random(seed)
            s = make_strategy("local", space, seed=seed, init=40, order=order)
            for _ in range(40):
                c = space.sample_choices(rng)
                s.observe(c, float(_convs(c)))
            centre = s.points[max(s._finite(), key=s._finite().get)]
            gains.append(_convs(s.propose()) - _convs(centre))
        firsts[order] = gains
    assert firsts["predictor"] == [1, 1, 1]
    assert min(firsts["random"]) < 1


def test_local_search_kick_restarts_two_changes_from_the_best(space) -> None:
    small = SPACES["nb201"](ops=("none", "nor_conv_3x3", "skip_connect"))  # 729 points, 12 neighbours
    s = make_strategy("local", small, seed=1, init=1, order="predictor", restart="kick")
    best = {k: "nor_conv_3x3" for k in small.choices()}
    s.observe(best, 100.0)  # the optimum: every neighbour is worse
    for _ in range(12):
        c = s.propose()
        assert c in small.neighbours(best)
        s.observe(c, 50.0 + _convs(c))
    kicked = s.propose()
    assert sum(kicked[k] != best[k] for k in best) == 2
    with pytest.raises(ValueError, match="restart must be one of best, random, kick"):
        make_strategy("local", space, restart="predictor")
    with pytest.raises(ValueError, match="order must be one of random, predictor"):
        make_strategy("local", space, order="best")


@pytest.mark.parametrize("restart", ["random", "kick"])
def test_local_search_predictor_order_is_seeded_and_resumes_exactly(restart, table) -> None:
    """Same seed, same proposals; a state round trip mid-run (after restarts) continues identically."""
    small = SPACES["nb201"](ops=("none", "skip_connect", "nor_conv_3x3"))
    opts = {"seed": 4, "init": 5, "order": "predictor", "restart": restart, "candidates": 20}
    s, twin = make_strategy("local", small, **opts), make_strategy("local", small, **opts)
    assert _drive(s, table, 45) == _drive(twin, table, 45)  # a restart by then
    t = make_strategy("local", small, **opts)
    t.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert _drive(s, table, 20) == _drive(t, table, 20)


def test_predictor_beats_random_early_on_a_smooth_table(space, table) -> None:
    top = max(table.values())

    def regret(name: str, seed: int) -> float:
        seq = _drive(make_strategy(name, space, seed=seed), table, 40)
        return top - max(table[arch_string(c)] for c in seq)

    seeds = range(4)
    assert sum(regret("bananas", s) for s in seeds) < 0.5 * sum(regret("random", s) for s in seeds)


@pytest.mark.slow  # over 10 s here
def test_predictor_proposals_are_the_same_in_another_process(space, table) -> None:
    """Its seeds do not depend on Python's per-process hash randomisation (a resumed run replays them)."""
    opts = "seed=7, init=5, epochs=20, refit=3"
    code = (
        "import json, search_spaces; from nas.core.registry import SPACES; "
        "from nas.search.strategies import make_strategy; "
        "from search_spaces.nb201 import arch_string; "
        "from search_spaces.nb201_synthetic import synthetic_nb201_table as t; T = t(seed=0); "
        f"s = make_strategy('bananas', SPACES['nb201'](), {opts}); out = []\n"
        "for _ in range(12):\n c = s.propose(); out.append(arch_string(c)); s.observe(c, T[arch_string(c)])\n"
        "print(json.dumps(out))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # this process's str hashes are randomised differently
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    here = _drive(make_strategy("bananas", space, seed=7, init=5, epochs=20, refit=3), table, 12)
    assert json.loads(other.stdout) == [arch_string(c) for c in here]


def test_predictor_records_the_parent_of_each_proposal(space, table) -> None:
    s = make_strategy("bananas", space, seed=3, init=5, epochs=10)
    observed: list[dict] = []
    parents = []
    for _ in range(15):
        c = s.propose()
        parents.append(s.last_parent)
        if s.last_parent is not None:  # a mutation (one or two changes) of an observed point
            assert s.last_parent in observed
            assert 1 <= sum(c[k] != s.last_parent[k] for k in c) <= 2
        observed.append(c)
        s.observe(c, table[arch_string(c)])
    assert parents[:5] == [None] * 5  # the random initial phase
    assert any(p is not None for p in parents[5:])


def test_predictor_pair_encoding(space) -> None:
    s = make_strategy("bananas", space, encoding="pairs")
    c = space.sample_choices(random.Random(0))
    x = s.encode([c])
    assert x.shape == (1, 6 * 5 + 15 * 25)  # 6 edges × 5 ops, then 15 edge pairs × 25 op pairs
    assert x.sum() == 6 + 15  # one slot per dimension and one per pair
    assert torch.equal(x[:, :30], make_strategy("bananas", space).encode([c]))
    with pytest.raises(ValueError, match="encoding must be onehot or pairs"):
        make_strategy("bananas", space, encoding="paths")


@pytest.mark.parametrize("policy", ["lstm", "independent"])
def test_rl_policies_learn_a_preference_and_resume_exactly(policy, space, table) -> None:
    """Reward = number of nor_conv_3x3 edges: both policies move towards it; the replay of the best points
    and the rank advantages survive a state round trip (the next proposals are the same)."""
    s = make_strategy("rl", space, seed=0, policy=policy, lr=0.1, replay=3, advantage="rank")
    p0 = s.probabilities()
    for _ in range(120):
        c = s.propose()
        assert s.last_parent is None
        s.observe(c, sum(v == "nor_conv_3x3" for v in c.values()))
    p1 = s.probabilities()
    assert sum(p1[k]["nor_conv_3x3"] for k in p1) > sum(p0[k]["nor_conv_3x3"] for k in p0) + 1.0
    assert len(s.best) == 3 and [r for _, r in s.best] == sorted((r for _, r in s.best), reverse=True)
    assert len(s.recent) == s.opts["window"]
    t = make_strategy("rl", space, seed=0, policy=policy, lr=0.1, replay=3, advantage="rank")
    t.load_state_dict(json.loads(json.dumps(s.state_dict())))
    for _ in range(7):  # crosses an update (batch 5)
        a, b = s.propose(), t.propose()
        assert a == b
        s.observe(a, table[arch_string(a)])
        t.observe(b, table[arch_string(b)])


def test_rl_replay_keeps_distinct_best_points(space) -> None:
    s = make_strategy("rl", space, seed=0, replay=2, batch=100)
    a, b, c = (space.sample_choices(random.Random(i)) for i in range(3))
    for point, score in [(a, 1.0), (a, 1.0), (b, 3.0), (c, 2.0), (b, 3.0)]:  # duplicates told twice
        s.observe(point, score)
    assert s.best == [(b, 3.0), (c, 2.0)]
    with pytest.raises(ValueError, match="policy must be lstm or independent"):
        make_strategy("rl", space, policy="gru")
    with pytest.raises(ValueError, match="advantage must be ema or rank"):
        make_strategy("rl", space, advantage="z")
