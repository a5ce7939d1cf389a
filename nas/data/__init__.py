"""Data sets (CIFAR, ImageFolder directories and archives, synthetic), class-balanced splits, augmentation."""
