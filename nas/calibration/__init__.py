"""Calibration: how well proxies rank architectures against a ground-truth table (``nas calibrate``)."""
