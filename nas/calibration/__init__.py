"""Calibration: how well proxies rank architectures against a ground-truth table (``nas calibrate``).

``evaluators`` (proxy names, training presets, the training and per-rung evaluators) → ``calibrate``
(:class:`~nas.calibration.calibrate.CalibrationConfig` and the run; ``journal`` resumes it, ``pool``
trains in worker processes) → ``results`` (:class:`~nas.calibration.results.Calibration`, its JSON) →
``outputs`` (table, CSV, plot). ``halving`` and ``prescreen_sim`` replay successive halving and a
zero-cost pre-screen on a calibration's scores.
"""
