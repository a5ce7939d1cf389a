"""NAS-found cells (NASNet-A, AmoebaNet-A, ENAS, DARTS V1/V2) in the DARTS network layouts.

The genotypes are DATA in the DARTS format: per cell, ``(op, input)`` rows, two per intermediate node
(input 0 is the cell two back, 1 the cell one back, ``j + 2`` node ``j``; both cell inputs are first
preprocessed to C channels), and the list of states concatenated into the cell output.

* DARTS-V1 / DARTS-V2, AmoebaNet-A: the genotypes of the DARTS repository (``cnn/genotypes.py``).
* NASNet-A: the DARTS repository's rows, with NASNet's own concat lists. NASNet concatenates every
  state no node reads *by construction of its code* (TF-slim ``used_hiddenstates``): the normal cell
  also concatenates the preprocessed h[i-2] (6 states, whence "6 @ 768" = 6 · 128 filters), the
  reduction cell also node 3 (4 states). The DARTS repository drops these (5 and 3 states): that
  genotype is kept as ``NASNET_DARTS`` (``GENOTYPES["nasnet_a_darts"]``), 3.06M params at 6 @ 768.
* ENAS (micro space, Pham et al. 2018): not in the DARTS file; the released architecture
  (``scripts/cifar10_micro_final.sh`` of the ENAS repository) decoded into DARTS rows (ENAS ops:
  0 sep 3×3, 1 sep 5×5, 2 avg pool, 3 max pool, 4 identity; output = concat of the unread nodes).

These are approximations in DARTS's op set, not ports of the original TensorFlow models: separable
convs are DARTS's double ``sep_conv`` (NASNet, AmoebaNet and ENAS also stack two), cell inputs are
preprocessed as DARTS does (ENAS adds a second 1×1 conv on h[i-1]), NASNet/AmoebaNet ImageNet stems
are DARTS's conv stems instead of reduction-cell stems, AmoebaNet's 1×7-7×1 conv lacks its middle BN,
heads are DARTS's (no final ReLU). Parameter counts against the papers: ``PAPER_PARAMS`` and the tests.

Networks follow the DARTS evaluation code (``cnn/model.py``):

* CIFAR (``NetworkCIFAR``): 3×3 conv to 3C + BN; ``layers`` cells with reduction cells (stride 2,
  width doubled) at ``layers // 3`` and ``2 * layers // 3``; global average pool; linear.
* ImageNet (``NetworkImageNet``): stem0 = 3×3/2 conv C/2, BN, ReLU, 3×3/2 conv C, BN; stem1 = ReLU,
  3×3/2 conv C, BN (written as a one-cell stage so that the first cell reads stem0 and stem1, as in
  DARTS); the same cell layout; global average pool (DARTS: 7×7 average pool, the same at 224 px);
  linear.
* optional auxiliary head after cell ``2 * layers // 3`` (DARTS ``AuxiliaryHeadCIFAR`` /
  ``AuxiliaryHeadImageNet``), returned next to the logits in training mode.

Cell ``i`` of DARTS gets ``C_prev_prev``/``C_prev`` = the previous cells' output channels
(``len(concat) · C``); our compiler infers exactly these, so the rows above are all there is.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from cells import CellWriter, darts_cell
from nas.core.genotype import AuxHead, Cell, Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import classifier


class DartsGenotype(NamedTuple):
    """A DARTS-format genotype: ``(op, input)`` rows (two per node) and concat lists, per cell type."""

    normal: tuple[tuple[str, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int], ...]
    reduce_concat: tuple[int, ...]


# DARTS repo cnn/genotypes.py: NASNet (Zoph et al. 2018, NASNet-A) in DARTS's op set.
NASNET_DARTS = DartsGenotype(
    normal=(
        ("sep_conv_5x5", 1), ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 1), ("skip_connect", 0),
        ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1), ("skip_connect", 1),
    ),
    normal_concat=(2, 3, 4, 5, 6),
    reduce=(
        ("sep_conv_5x5", 1), ("sep_conv_7x7", 0),
        ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1), ("sep_conv_5x5", 0),
        ("skip_connect", 3), ("avg_pool_3x3", 2),
        ("sep_conv_3x3", 2), ("max_pool_3x3", 1),
    ),
    reduce_concat=(4, 5, 6),
)  # fmt: skip

# NASNet-A with NASNet's concat lists (TF-slim nasnet_utils: normal used_hiddenstates = [1, 0, 0, 0,
# 0, 0, 0], reduction [1, 1, 1, 0, 0, 0, 0], slim state 0 = h[i-1] = DARTS input 1, slim 1 = DARTS 0).
NASNET = NASNET_DARTS._replace(normal_concat=(0, 2, 3, 4, 5, 6), reduce_concat=(3, 4, 5, 6))

# DARTS repo cnn/genotypes.py: AmoebaNet (Real et al. 2019, AmoebaNet-A) in DARTS's op set.
AMOEBANET = DartsGenotype(
    normal=(
        ("avg_pool_3x3", 0), ("max_pool_3x3", 1),
        ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 0), ("avg_pool_3x3", 3),
        ("sep_conv_3x3", 1), ("skip_connect", 1),
        ("skip_connect", 0), ("avg_pool_3x3", 1),
    ),
    normal_concat=(4, 5, 6),
    reduce=(
        ("avg_pool_3x3", 0), ("sep_conv_3x3", 1),
        ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
        ("sep_conv_7x7", 0), ("avg_pool_3x3", 1),
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
        ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5),
    ),
    reduce_concat=(3, 4, 6),
)  # fmt: skip

# ENAS micro cells (Pham et al. 2018), from the released fixed_arc
#   normal "0 2 0 0  0 4 0 1  0 4 1 1  1 0 0 1  0 2 1 1"
#   reduce "1 0 1 0  0 3 0 2  1 1 3 1  1 0 0 4  0 3 1 1"
# (per node: x input, x op, y input, y op), decoded to DARTS rows.
ENAS = DartsGenotype(
    normal=(
        ("avg_pool_3x3", 0), ("sep_conv_3x3", 0),
        ("skip_connect", 0), ("sep_conv_5x5", 0),
        ("skip_connect", 0), ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 1), ("sep_conv_5x5", 0),
        ("avg_pool_3x3", 0), ("sep_conv_5x5", 1),
    ),
    normal_concat=(2, 3, 4, 5, 6),
    reduce=(
        ("sep_conv_3x3", 1), ("sep_conv_3x3", 1),
        ("max_pool_3x3", 0), ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 1), ("sep_conv_5x5", 3),
        ("sep_conv_3x3", 1), ("skip_connect", 0),
        ("max_pool_3x3", 0), ("sep_conv_5x5", 1),
    ),
    reduce_concat=(2, 4, 5, 6),
)  # fmt: skip

# DARTS repo cnn/genotypes.py: DARTS_V1 (first-order search) and DARTS_V2 (second order, "DARTS").
DARTS_V1 = DartsGenotype(
    normal=(
        ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
        ("skip_connect", 0), ("sep_conv_3x3", 1),
        ("skip_connect", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0), ("skip_connect", 2),
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=(
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
        ("skip_connect", 2), ("max_pool_3x3", 0),
        ("max_pool_3x3", 0), ("skip_connect", 2),
        ("skip_connect", 2), ("avg_pool_3x3", 0),
    ),
    reduce_concat=(2, 3, 4, 5),
)  # fmt: skip

DARTS_V2 = DartsGenotype(
    normal=(
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1), ("skip_connect", 0),
        ("skip_connect", 0), ("dil_conv_3x3", 2),
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=(
        ("max_pool_3x3", 0), ("max_pool_3x3", 1),
        ("skip_connect", 2), ("max_pool_3x3", 1),
        ("max_pool_3x3", 0), ("skip_connect", 2),
        ("skip_connect", 2), ("max_pool_3x3", 1),
    ),
    reduce_concat=(2, 3, 4, 5),
)  # fmt: skip

GENOTYPES: dict[str, DartsGenotype] = {
    "nasnet_a": NASNET,
    "nasnet_a_darts": NASNET_DARTS,
    "amoebanet_a": AMOEBANET,
    "enas": ENAS,
    "darts_v1": DARTS_V1,
    "darts_v2": DARTS_V2,
}

# name → (genotype, dataset, cells, initial width C). Paper layouts: NASNet-A 6@768 (N=6 normal cells
# per stage, 768 = 6 states · 128 filters in the last stage → C=32) and 4@1056 (N=4, 1056 = 6 · 176 →
# C=44); AmoebaNet-A N=6, F=36 (CIFAR) and N=4, F=50 (mobile); ENAS 15 normal cells + 2 reductions at
# 36 filters (child_num_layers=15, out_filters=36); DARTS 20 cells at C=36 (CIFAR) and 14 at 48.
LAYOUTS: dict[str, tuple[str, str, int, int]] = {
    "nasnet_a_cifar": ("nasnet_a", "cifar", 20, 32),
    "nasnet_a_mobile": ("nasnet_a", "imagenet", 14, 44),
    "amoebanet_a_cifar": ("amoebanet_a", "cifar", 20, 36),
    "amoebanet_a_mobile": ("amoebanet_a", "imagenet", 14, 50),
    "enas_cifar": ("enas", "cifar", 17, 36),
    "enas_imagenet": ("enas", "imagenet", 14, 48),
    "darts_v1_cifar": ("darts_v1", "cifar", 20, 36),
    "darts_v2_cifar": ("darts_v2", "cifar", 20, 36),
    "darts_v1_imagenet": ("darts_v1", "imagenet", 14, 48),
    "darts_v2_imagenet": ("darts_v2", "imagenet", 14, 48),
}

# Parameter counts published by the papers (without auxiliary heads), for comparison; None = none.
PAPER_PARAMS: dict[str, float | None] = {
    "nasnet_a_cifar": 3.3e6,  # Zoph et al. 2018, NASNet-A (6 @ 768)
    "nasnet_a_mobile": 5.3e6,  # NASNet-A (4 @ 1056)
    "amoebanet_a_cifar": 3.2e6,  # Real et al. 2019, AmoebaNet-A (N=6, F=36)
    "amoebanet_a_mobile": 5.1e6,  # AmoebaNet-A (N=4, F=50)
    "enas_cifar": 4.6e6,  # Pham et al. 2018, ENAS micro search space
    "enas_imagenet": None,
    "darts_v1_cifar": 3.3e6,  # Liu et al. 2019, DARTS (first order)
    "darts_v2_cifar": 3.3e6,  # DARTS (second order)
    "darts_v1_imagenet": None,  # DARTS reports ImageNet for the second-order cell only
    "darts_v2_imagenet": 4.7e6,
}


def darts_cells(name: str, genotype: DartsGenotype) -> tuple[Cell, Cell]:
    """The normal and reduction cells of a DARTS-format genotype."""
    return (
        darts_cell(f"{name}_normal", genotype.normal, genotype.normal_concat, reduction=False),
        darts_cell(f"{name}_reduce", genotype.reduce, genotype.reduce_concat, reduction=True),
    )


def cifar_stem(C: int, multiplier: int = 3) -> Cell:
    """DARTS NetworkCIFAR stem: 3×3 conv to ``multiplier·C``, BN."""
    return chain("darts_cifar_stem", [("conv", {"channels": multiplier * C, "kernel": 3}), ("bn",)])


def imagenet_stem(C: int) -> tuple[Cell, Cell]:
    """DARTS NetworkImageNet stems: stem0 (3×3/2 conv C/2, BN, ReLU, 3×3/2 conv C, BN) and stem1
    (ReLU, 3×3/2 conv, BN; a cell of a one-repeat stage of width C and stride 2)."""
    stem0 = chain(
        "darts_imagenet_stem0",
        [
            ("conv", {"channels": C // 2, "kernel": 3, "stride": 2}),
            ("bn",),
            ("relu",),
            ("conv", {"channels": C, "kernel": 3, "stride": 2}),
            ("bn",),
        ],
    )
    stem1 = chain(
        "darts_imagenet_stem1",
        [("relu",), ("conv", {"channels": "C", "kernel": 3, "stride": "cell"}), ("bn",)],
    )
    return stem0, stem1


def aux_head(dataset: str = "cifar") -> Cell:
    """DARTS auxiliary classifier, for an 8×8 (CIFAR) or 7×7 (ImageNet) input: ReLU, 5×5 average pool
    (stride 3 / 2, padding excluded), 1×1 conv 128, BN, ReLU, 2×2 conv 768, [BN,] ReLU, linear.
    (DARTS's ImageNet head has no BN after the 2×2 conv.)"""
    w = CellWriter()
    x = w.add("relu0", "relu", "x")
    x = w.add("pool", "avgpool", x, stride=3 if dataset == "cifar" else 2, kernel=5, count_include_pad=False)
    x = w.conv_bn_act("c1_", x, 128, 1)
    if dataset == "cifar":
        x = w.conv_bn_act("c2_", x, 768, 2, padding=0)
    else:
        x = w.add("c2_conv", "conv", x, channels=768, kernel=2, padding=0)
        x = w.add("c2_act", "relu", x)
    x = w.add("flatten", "flatten", x)
    x = w.add("fc", "linear", x, channels="K")
    return w.cell(f"darts_aux_{dataset}", x)


def darts_stages(normal: Cell, reduce: Cell, layers: int, C: int) -> list[Stage]:
    """DARTS cell layout: ``layers`` cells, reduction cells (width doubled, stride 2) at ``layers // 3``
    and ``2 * layers // 3``, runs of normal cells in between as stages."""
    reductions = {layers // 3, 2 * layers // 3}
    stages: list[Stage] = []
    run, width = 0, C
    for i in range(layers):
        if i in reductions:
            if run:
                stages.append(Stage(normal, run, width, 1))
                run = 0
            width *= 2
            stages.append(Stage(reduce, 1, width, 2))
        else:
            run += 1
    if run:
        stages.append(Stage(normal, run, width, 1))
    return stages


def darts_network(
    name: str,
    genotype: DartsGenotype | str,
    *,
    layers: int = 20,
    C: int = 36,
    dataset: str = "cifar",
    auxiliary: bool = False,
    aux_after: int | None = None,
    drop_path: float | None = None,
    num_classes: int | None = None,
) -> Network:
    """A DARTS ``NetworkCIFAR`` (``dataset="cifar"``) or ``NetworkImageNet`` (``"imagenet"``) of a
    DARTS-format genotype (or a name in ``GENOTYPES``, which then also names the cells) with
    ``layers`` cells at initial width ``C``.

    ``auxiliary`` adds the DARTS auxiliary head after DARTS cell ``aux_after`` (default
    ``2 * layers // 3``, the second reduction cell). ``drop_path`` defaults to DARTS's recipe: 0.2 on
    CIFAR (DARTS ramps it up linearly over the epochs; this is the final rate), 0 on ImageNet.
    """
    if dataset not in ("cifar", "imagenet"):
        raise ValueError(f"dataset must be 'cifar' or 'imagenet', got {dataset!r}")
    prefix = name
    if isinstance(genotype, str):
        prefix, genotype = genotype, GENOTYPES[genotype]
    normal, reduce = darts_cells(prefix, genotype)
    stages = darts_stages(normal, reduce, layers, C)
    if dataset == "cifar":
        stem, offset = cifar_stem(C), 0
        size, classes, rate = (3, 32, 32), 10, 0.2
    else:
        stem, stem1 = imagenet_stem(C)
        stages.insert(0, Stage(stem1, 1, C, 2))
        offset = 1  # stem1 is cell 0 of the compiled network
        size, classes, rate = (3, 224, 224), 1000, 0.0
    aux = ()
    if auxiliary:
        after = 2 * layers // 3 if aux_after is None else aux_after
        aux = (AuxHead(after + offset, aux_head(dataset)),)
    return Network(
        name=name,
        stem=stem,
        stages=tuple(stages),
        head=classifier(),
        input_size=size,
        num_classes=classes if num_classes is None else num_classes,
        drop_path=rate if drop_path is None else drop_path,
        drop_path_schedule="constant",
        aux=aux,
    )


def zoo_network(name: str, **kwargs) -> Network:
    """The registered layout ``name`` (see ``LAYOUTS``); keywords go to :func:`darts_network`
    (e.g. ``auxiliary=True``). ENAS puts its auxiliary head one cell later than DARTS (after the
    first cell following the second reduction)."""
    geno, dataset, layers, C = LAYOUTS[name]
    if geno == "enas":
        kwargs.setdefault("aux_after", 2 * layers // 3 + 1)
    return darts_network(name, geno, layers=layers, C=C, dataset=dataset, **kwargs)


for _name, (_geno, _dataset, _layers, _C) in LAYOUTS.items():
    register_arch(
        _name,
        family=_geno.split("_")[0],  # nasnet, amoebanet, enas, darts
        test_size=32 if _dataset == "cifar" else 64,
    )(partial(zoo_network, _name))
