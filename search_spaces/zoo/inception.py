"""Inception family (torchvision layouts): GoogLeNet (Inception v1) and Inception-v3, configs as data.

Neither transforms its input (torchvision's ``transform_input=False``, the default without weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from cells import inception_module
from cells.inception import (
    conv_stem,
    googlenet_aux,
    inception_a,
    inception_b,
    inception_c,
    inception_d,
    inception_e,
    inception_v3_aux,
)
from nas.core.genotype import AuxHead, Cell, Network, Stage, chain
from nas.core.registry import register_arch
from search_spaces.zoo.common import classifier, pool_cell

# Stem rows: (channels, kernel, stride, padding) conv-BN-ReLU, or ("M", kernel, ceil_mode) 2× max-pool.
GOOGLENET_STEM = [(64, 7, 2, 3), ("M", 3, True), (64, 1, 1, 0), (192, 3, 1, 1), ("M", 3, True)]
# Inception modules (name, #1×1, #3×3 reduce, #3×3, #"5×5" reduce, #"5×5", pool proj) and
# ("M", kernel) stride-2 ceil-mode max-pools. torchvision's "5×5" branch is a 3×3 (vision#906).
GOOGLENET = [
    ("3a", 64, 96, 128, 16, 32, 32),
    ("3b", 128, 128, 192, 32, 96, 64),
    ("M", 3),
    ("4a", 192, 96, 208, 16, 48, 64),
    ("4b", 160, 112, 224, 24, 64, 64),
    ("4c", 128, 128, 256, 24, 64, 64),
    ("4d", 112, 144, 288, 32, 64, 64),
    ("4e", 256, 160, 320, 32, 128, 128),
    ("M", 2),
    ("5a", 256, 160, 320, 32, 128, 128),
    ("5b", 384, 192, 384, 48, 128, 128),
]
GOOGLENET_AUX = ("4a", "4d")  # the auxiliary classifiers read these modules' outputs


def googlenet(
    aux: bool = False, *, rows: Sequence[tuple] = GOOGLENET, k5: int = 3, name: str | None = None
) -> Network:
    """GoogLeNet as torchvision builds it: conv stem, nine Inception modules (BN, 3×3 in place of
    5×5), ceil-mode max-pools, global average pool, dropout 0.2, FC (6.6M parameters without the aux
    heads). ``aux`` adds the two auxiliary classifiers (dropout 0.7); in training mode the network
    returns ``(logits, aux1, aux2)``, where torchvision returns ``(logits, aux2, aux1)``.
    ``rows`` (a table like ``GOOGLENET``) and ``k5`` (the "5×5" branch's kernel) make variants."""
    stem = conv_stem("googlenet_stem", GOOGLENET_STEM)
    stages, names = [], []
    for row in rows:
        if row[0] == "M":
            stages.append(Stage(pool_cell("maxpool", row[1], ceil_mode=True), 1, None, 2))
        else:
            module, *channels = row
            stages.append(Stage(inception_module(f"inception{module}", *channels, k5=k5), 1, None, 1))
        names.append(row[0])
    heads = tuple(AuxHead(names.index(n), googlenet_aux(0.7)) for n in GOOGLENET_AUX) if aux else ()
    head = classifier(dropout=0.2, dropout_first=True)
    name = name or ("googlenet_aux" if aux else "googlenet")
    return Network(name, stem, tuple(stages), head, (3, 224, 224), aux=heads)


# Inception-v3: stem rows as above, then modules (kind, argument); kinds B and D reduce (stride 2).
INCEPTION_V3_STEM = [
    (32, 3, 2, 0),
    (32, 3, 1, 0),
    (64, 3, 1, 1),
    ("M", 3, False),
    (80, 1, 1, 0),
    (192, 3, 1, 0),
    ("M", 3, False),
]
INCEPTION_V3 = [  # Mixed_5b … Mixed_7c
    ("A", 32),
    ("A", 64),
    ("A", 64),
    ("B", None),
    ("C", 128),
    ("C", 160),
    ("C", 160),
    ("C", 192),
    ("D", None),
    ("E", None),
    ("E", None),
]
INCEPTION_V3_AUX = 7  # the auxiliary classifier reads Mixed_6e (module 7)
_V3_CELLS = {
    "A": inception_a,
    "B": lambda _: inception_b(),
    "C": inception_c,
    "D": lambda _: inception_d(),
    "E": lambda _: inception_e(),
}


def inception_v3() -> Network:
    """Inception-v3 as torchvision builds it (299 px, 27.2M parameters with the auxiliary head):
    conv stem, 3 × A, B, 4 × C, D, 2 × E, global average pool, dropout 0.5, FC. Equal consecutive
    modules share a stage. The auxiliary head needs the full 299-px input (its 5×5 valid conv runs on
    the pooled 17×17 Mixed_6e map)."""
    stem = conv_stem("inception_v3_stem", INCEPTION_V3_STEM)
    stages: list[Stage] = []
    for row in INCEPTION_V3:
        kind, arg = row
        cell: Cell = _V3_CELLS[kind](arg)
        if stages and stages[-1].cell == cell:
            stages[-1] = Stage(cell, stages[-1].repeats + 1, None, stages[-1].stride)
        else:
            stages.append(Stage(cell, 1, None, 2 if kind in "BD" else 1))
    head = chain(
        "inception_v3_head",
        [
            ("adaptive_avgpool", {"size": 1}),
            ("dropout", {"p": 0.5}),
            ("flatten",),
            ("linear", {"channels": "K"}),
        ],
    )
    aux = (AuxHead(INCEPTION_V3_AUX, inception_v3_aux()),)
    return Network("inception_v3", stem, tuple(stages), head, (3, 299, 299), aux=aux)


_NO_TRANSFORM = {"transform_input": False, "init_weights": False}
register_arch(
    "googlenet",
    family="inception",
    reference="googlenet",
    reference_kwargs={"aux_logits": False, **_NO_TRANSFORM},
    test_size=15,
)(googlenet)
register_arch(
    "googlenet_aux",
    family="inception",
    reference="googlenet",
    reference_kwargs={"aux_logits": True, **_NO_TRANSFORM},
    test_size=15,
)(partial(googlenet, True))
register_arch(
    "inception_v3",
    family="inception",
    reference="inception_v3",
    reference_kwargs={"aux_logits": True, **_NO_TRANSFORM},
    test_size=299,
)(inception_v3)
