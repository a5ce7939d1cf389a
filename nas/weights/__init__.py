"""Weights: dataflow-position transfer between modules, torchvision references and pretrained builds."""
