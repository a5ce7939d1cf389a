"""The NAS-Bench-201 space (search_spaces/nb201.py) and the ``nas spaces`` CLI.

What is checked:

* the 15,625 arch strings parse and print back character for character; decode/encode are exact
  inverses; mutate changes one edge; bad choices raise ``ValueError`` naming the field;
* the compiled network has exactly the parameters and (after ``nas.transfer``) the outputs of an
  independent re-implementation of NAS-Bench-201's ``TinyNetwork`` / ``InferCell`` / ``ResNetBasicblock``
  written below from the benchmark's definitions;
* the isomorphism classes after pruning, and why they are not the benchmark's 6,466 (see
  ``test_isomorphism_classes_vs_the_benchmarks_6466``);
* Optuna define-by-run with a real TPE study.
"""

from __future__ import annotations

import collections
import itertools
import json
import random

import pytest
import torch
from torch import nn

import nas
from nas.cli import main
from search_spaces import nb201 as NB
from search_spaces.base import anonymous

STANDARD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_ARCHS = [NB.arch_string(dict(zip(NB.FIELDS, ops))) for ops in itertools.product(NB.OPS, repeat=6)]


# --- reference: NAS-Bench-201's TinyNetwork, written from its model definitions ----------------------


class _ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, pad: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=False),
            nn.BatchNorm2d(c_out, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class _ResNetBasicblock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:  # stride 2, as between NB201 stages
        super().__init__()
        self.conv_a = _ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = _ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv_b(self.conv_a(x))
        return self.downsample(x) + y


_REF_OPS = {
    "none": lambda C: _Zero(),
    "skip_connect": lambda C: nn.Identity(),
    "nor_conv_1x1": lambda C: _ReLUConvBN(C, C, 1, 1, 0),
    "nor_conv_3x3": lambda C: _ReLUConvBN(C, C, 3, 1, 1),
    "avg_pool_3x3": lambda C: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
}


class _InferCell(nn.Module):
    def __init__(self, arch: str, C: int) -> None:
        super().__init__()
        nodes = [[e.split("~") for e in g.strip("|").split("|")] for g in arch.split("+")]
        self.inputs = [[int(j) for _, j in node] for node in nodes]
        self.layers = nn.ModuleList(_REF_OPS[op](C) for node in nodes for op, _ in node)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, k = [x], 0
        for ins in self.inputs:
            total = 0
            for j in ins:
                total = total + self.layers[k](states[j])
                k += 1
            states.append(total)
        return states[-1]


class _TinyNetwork(nn.Module):
    def __init__(self, arch: str, C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        cells, c_prev = [], C
        for c, r in zip(channels, reductions):
            cells.append(_ResNetBasicblock(c_prev, c) if r else _InferCell(arch, c))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


def _nparams(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _randomize_bn(m: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for b in m.modules():
        if isinstance(b, nn.BatchNorm2d):
            b.running_mean.copy_(torch.randn(b.num_features, generator=g) * 0.1)
            b.running_var.copy_(torch.rand(b.num_features, generator=g) + 0.5)
            b.weight.data.copy_(torch.rand(b.num_features, generator=g) + 0.5)
            b.bias.data.copy_(torch.randn(b.num_features, generator=g) * 0.1)


# --- arch strings -----------------------------------------------------------------------------------


def test_standard_arch_string_round_trips_exactly():
    choices = NB.parse_arch_string(STANDARD)
    assert choices == {
        "e1_0": "nor_conv_3x3",
        "e2_0": "nor_conv_3x3",
        "e2_1": "avg_pool_3x3",
        "e3_0": "skip_connect",
        "e3_1": "nor_conv_3x3",
        "e3_2": "skip_connect",
    }
    g = NB.from_arch_string(STANDARD)
    assert NB.to_arch_string(g) == STANDARD
    assert NB.to_arch_string(g.stages[0].cell) == STANDARD
    assert NB.NB201Space().arch_string(g) == STANDARD
    assert nas.from_json(g.to_json()) == g


def test_all_15625_arch_strings_parse_and_print_back():
    assert len(ALL_ARCHS) == len(set(ALL_ARCHS)) == 15_625
    for a in ALL_ARCHS:
        assert NB.arch_string(NB.parse_arch_string(a)) == a


@pytest.mark.parametrize(
    "bad, field",
    [
        (STANDARD.replace("avg_pool_3x3", "max_pool_3x3"), "e2_1"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "3 nodes"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "node 2"),
        (STANDARD.replace("skip_connect~2", "skip_connect~1"), "node 3 edge 2"),
        (STANDARD.replace("|+|", "+", 1), "node 1"),
    ],
)
def test_bad_arch_strings_name_the_problem(bad, field):
    with pytest.raises(ValueError, match=field):
        NB.parse_arch_string(bad)


# --- space properties -------------------------------------------------------------------------------


def test_size_and_exhaustive_enumeration():
    space = NB.NB201Space(C=4, N=1)
    assert space.size() == 15_625 == 5**6
    strings = [NB.to_arch_string(g) for g in space.enumerate()]  # decode is injective: all distinct
    assert len(strings) == 15_625 and set(strings) == set(ALL_ARCHS)


def test_reduced_op_list_enumerates_to_formula():
    space = NB.NB201Space(ops=["none", "skip_connect", "nor_conv_3x3"])
    assert space.size() == 3**6 == len(set(space.enumerate()))


def test_decode_encode_inverse_and_mutate_changes_one_edge():
    space, rng = NB.NB201Space(), random.Random(0)
    for _ in range(50):
        g = space.sample(rng)
        c = space.encode(g)
        assert space.decode(c) == g
        m = space.mutate(g, rng)
        cm = space.encode(m)
        assert sum(c[k] != cm[k] for k in c) == 1
        assert space.contains(m)
    g = NB.from_arch_string(STANDARD)
    assert space.contains(g) and space.decode(space.encode(g)) == g
    assert space.contains(g.replace(name="renamed"))  # membership is structural


def test_contains_is_false_outside_the_space():
    space = NB.NB201Space()
    assert not space.contains(nas.ARCHS["resnet50"]())
    assert not space.contains(nas.ARCHS["darts_v2_cifar"]())
    g = NB.from_arch_string(STANDARD)
    # another layout: the cell is a member (the choices describe cells), the network is not this space's
    assert space.contains(g.replace(num_classes=100)) and not space.layout_matches(g.replace(num_classes=100))
    assert NB.NB201Space(C=8).contains(g) and not NB.NB201Space(C=8).layout_matches(g)
    assert NB.NB201Space(C=8).encode(g) == space.encode(g)
    # an op outside the list
    cell = g.stages[0].cell
    odd = cell.nodes[0].__class__(**{**cell.nodes[0].__dict__, "op": "sep_conv", "attrs": {"kernel": 3}})
    bad_cell = cell.__class__(cell.name, (odd, *cell.nodes[1:]), cell.output, cell.inputs)
    stages = tuple(
        s.__class__(bad_cell if s.cell == cell else s.cell, s.repeats, s.width, s.stride) for s in g.stages
    )
    assert not space.contains(g.replace(stages=stages))
    with pytest.raises(ValueError, match="e1_0"):
        space.encode(g.replace(stages=stages))
    assert not NB.NB201Space(ops=["none", "skip_connect"]).contains(g)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"e2_1": "sep_conv_3x3"}, "e2_1"),
        ({"e3_2": None}, "e3_2"),
        ({"e4_0": "none"}, "e4_0"),
    ],
)
def test_bad_choices_raise_naming_the_field(change, field):
    space = NB.NB201Space()
    c = NB.parse_arch_string(STANDARD) | change
    if change.get(field, 0) is None:
        del c[field]
    with pytest.raises(ValueError, match=field):
        space.decode(c)


def test_define_by_run_with_optuna_tpe():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = NB.NB201Space()
    seen = []

    def objective(trial):
        g = space.decode(space.define_by_run(trial))
        assert space.contains(g)
        seen.append(NB.to_arch_string(g))
        return float(sum(op == "nor_conv_3x3" for op in NB.parse_arch_string(seen[-1]).values()))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=5)
    assert len(study.trials) == 5 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert all(a in set(ALL_ARCHS) for a in seen)
    assert set(study.best_params) == set(NB.FIELDS)


# --- the network against NAS-Bench-201's definitions -----------------------------------------------


@pytest.mark.parametrize("arch", [ALL_CONV3, STANDARD])
def test_network_matches_nb201_reference(arch):
    ours = nas.build(NB.from_arch_string(arch))
    ref = _TinyNetwork(arch)
    assert _nparams(ours) == _nparams(ref)
    if arch == ALL_CONV3:
        # the largest NB201 network (the benchmark lists 1.531546 M params for it)
        assert _nparams(ours) == 1_531_546
    _randomize_bn(ref)
    nas.transfer(ref, ours)
    ref.eval(), ours.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert ((a - b).abs().max() / a.abs().max()).item() < 1e-5


def test_network_layout():
    g = NB.from_arch_string(STANDARD)
    assert [(s.repeats, s.width, s.stride) for s in g.stages] == [
        (5, 16, 1),
        (1, 32, 2),
        (5, 32, 1),
        (1, 64, 2),
        (5, 64, 1),
    ]
    assert g.input_size == (3, 32, 32) and g.num_classes == 10
    assert NB.from_arch_string(STANDARD, num_classes=100, C=8).stages[0].width == 8


# --- isomorphism classes ----------------------------------------------------------------------------


def _benchmark_unique_str(arch: str) -> str:
    """NAS-Bench-201's own de-duplication key (``Structure.to_unique_str(consider_zero=True)``):
    node strings built bottom-up, ``skip_connect`` = its input's string, ``none`` or an input that *is*
    ``"#"`` = ``"#"``, other ops ``"(in)@op"``, a node = its terms sorted and joined by ``+``."""
    c = NB.parse_arch_string(arch)
    nodes = {0: "0"}
    for i in (1, 2, 3):
        terms = []
        for j in range(i):
            op = c[f"e{i}_{j}"]
            if op == "none" or nodes[j] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[j])
            else:
                terms.append(f"({nodes[j]})@{op}")
        nodes[i] = "+".join(sorted(terms))
    return nodes[3]


def _functional_key(arch: str) -> str:
    """Our pruning, then skip_connect collapsed into its input (a cell as a formula): coarser than both."""
    live = NB.live_edges(NB.parse_arch_string(arch))
    if not live:
        return "#"
    nodes = {0: "0"}
    for i in (1, 2, 3):
        terms = [
            nodes[j] if live[(i, j)] == "skip_connect" else f"({nodes[j]})@{live[(i, j)]}"
            for j in range(i)
            if (i, j) in live
        ]
        nodes[i] = "+".join(sorted(terms))
    return nodes[3]


def _splits(fine: dict[str, str], coarse: dict[str, str]) -> int:
    """How many classes of ``fine`` are split by ``coarse`` (0: ``fine`` refines ``coarse``)."""
    seen = collections.defaultdict(set)
    for a, k in fine.items():
        seen[k].add(coarse[a])
    return sum(len(v) > 1 for v in seen.values())


@pytest.fixture(scope="module")
def classes() -> dict[str, list[str]]:
    return NB.isomorphism_classes()


def test_pruning():
    assert NB.pruned_cell("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|") is None
    # node 1 is dead (no input), node 2 feeds nothing: only x -> conv -> out survives
    dead_ends = NB.pruned_cell(
        "|none~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_1x1~1|none~2|"
    )
    assert [n.name for n in dead_ends.nodes] == ["e3_0", "n3"]
    assert NB.live_edges(NB.parse_arch_string(STANDARD)) == {
        (i, j): op for (i, j), op in zip(NB.EDGES, NB.parse_arch_string(STANDARD).values())
    }


def test_isomorphism_classes(classes):
    members = [a for v in classes.values() for a in v]
    assert sorted(members) == sorted(ALL_ARCHS)
    # 341 cells have no live input→output path; they are one class
    assert len(classes["dead"]) == 341
    assert len(classes) == 8_765
    key = {a: k for k, v in classes.items() for a in v}
    # nodes 1 and 2 are interchangeable when no edge joins them: these two are the same cell
    a = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|"
    b = "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"
    assert key[a] == key[b] and a != b
    assert nas.canonical_key(NB.pruned_cell(a)) == nas.canonical_key(NB.pruned_cell(b))
    # ... and a none edge or a dead branch never makes a difference
    assert key[STANDARD] != key[ALL_CONV3]
    assert (
        key["|none~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"]
        == key["|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"]
    )


def test_isomorphism_classes_vs_the_benchmarks_6466(classes):
    """NAS-Bench-201 reports 6,466 unique architectures; graph isomorphism after pruning gives 8,765.

    The benchmark's key is not graph isomorphism: it treats ``skip_connect`` as the identity *function*
    (x -> skip -> n1 -> pool -> out is the same as x -> pool -> out), which merges cells that are
    different graphs; and it only half prunes (a ``none`` term stays in a sum as ``"#"``, a node whose
    inputs are all ``none`` becomes ``"#+#"``, not ``"#"``, so a dead path behind it still counts),
    which splits cells that pruning merges. Neither partition refines the other; both refine the
    functional key (our pruning + skip collapsed), which has 5,390 classes.
    """
    ours = {a: k for k, v in classes.items() for a in v}
    bench = {a: _benchmark_unique_str(a) for a in ALL_ARCHS}
    functional = {a: _functional_key(a) for a in ALL_ARCHS}
    assert len(set(bench.values())) == 6_466  # the benchmark's number, from its own rule
    assert len(set(ours.values())) == 8_765
    assert len(set(functional.values())) == 5_390
    assert _splits(ours, functional) == 0 and _splits(bench, functional) == 0
    assert _splits(ours, bench) == 685  # classes of ours the benchmark splits (half-pruned dead paths)
    assert _splits(bench, ours) == 1_299  # benchmark classes we split (skip_connect collapsed)

    # skip collapsed: one benchmark class, two graphs
    pool_direct = "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"
    pool_via_skip = "|skip_connect~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|"
    assert bench[pool_direct] == bench[pool_via_skip] and ours[pool_direct] != ours[pool_via_skip]
    # half pruning: node 2 is dead ("#+#"), its skip to the output is a term for the benchmark only
    with_dead_skip = "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|"
    assert bench[pool_direct] != bench[with_dead_skip] and ours[pool_direct] == ours[with_dead_skip]


# --- the CLI ----------------------------------------------------------------------------------------


def test_cli_spaces_list_and_show(capsys):
    assert main(["spaces", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("nb201", "nasnet", "darts", "enas", "enas_macro"):
        assert any(line.split()[0] == name for line in out.splitlines())
    assert main(["spaces", "show", "nb201"]) == 0
    out = capsys.readouterr().out
    assert "size  15625" in out and "e3_2" in out and "avg_pool_3x3" in out
    opts = ["--space-opt", "nodes=1", "--space-opt", 'ops=["none","skip_connect"]', "--format", "json"]
    assert main(["spaces", "show", "darts", *opts]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["size"] == 64 and set(d["dimensions"]) == {
        f"{t}_n2_{f}" for t in ("normal", "reduce") for f in ("inputs", "op0", "op1")
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["spaces", "show", "nb2O1"], "invalid choice: 'nb2O1'"),
        (["spaces", "show", "darts", "--space-opt", "bogus=1"], "bogus"),
        (["spaces", "show", "darts", "--space-opt", "nodes"], "KEY=VALUE"),
        (["spaces", "list", "zzz*"], "no search space"),
    ],
)
def test_cli_spaces_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_anonymous_ignores_only_names():
    g = NB.from_arch_string(STANDARD)
    assert anonymous(g) == anonymous(g.replace(name="other"))
    assert anonymous(g) != anonymous(NB.from_arch_string(ALL_CONV3))
