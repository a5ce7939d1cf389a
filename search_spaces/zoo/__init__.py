"""The architecture zoo: classic networks as genotypes, registered in ``nas.ARCHS``.

Every module of this package is imported (and so registers its architectures). Registry metadata:
``family``; ``reference``, the torchvision builder whose layout the genotype reproduces exactly (same
parameters, MACs and outputs after ``nas.transfer``), with ``reference_kwargs`` for it; ``test_size``,
the smallest input size that exercises the whole network (keeps reference tests fast).
"""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
