"""The architecture zoo: classic networks as genotypes, registered in ``nas.ARCHS``.

Registry metadata: ``family``; ``reference`` names the torchvision builder whose layout the genotype
reproduces exactly (same parameters, MACs and outputs).
"""

from search_spaces.zoo import classic, resnet  # noqa: F401  (registration side effects)
