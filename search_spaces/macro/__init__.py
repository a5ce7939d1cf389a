"""Macro search spaces over the hand-designed families; the zoo's models are points of them.

``resnet`` (ResNet / Wide ResNet / ResNeXt / pre-activation), ``mbconv`` (EfficientNet-B0,
MobileNet-v2), ``vgg``, ``densenet``, ``inception`` (GoogLeNet) and ``regnet`` (RegNetX/Y: AnyNet
parameters), registered in ``nas.SPACES``;
``nas.SPACES["resnet"](**options)`` makes a space, keywords narrowing or widening its option lists.
Naming and membership rules: :mod:`search_spaces.macro.common`.
"""

from search_spaces.macro.common import MacroSpace
from search_spaces.macro.densenet import DenseNetSpace
from search_spaces.macro.inception import InceptionSpace
from search_spaces.macro.mbconv import MBConvSpace
from search_spaces.macro.regnet import RegNetSpace
from search_spaces.macro.resnet import ResNetSpace
from search_spaces.macro.vgg import VGGSpace

__all__ = [
    "DenseNetSpace",
    "InceptionSpace",
    "MBConvSpace",
    "MacroSpace",
    "RegNetSpace",
    "ResNetSpace",
    "VGGSpace",
]
