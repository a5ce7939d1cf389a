"""Training: configuration, the trainer, fidelity presets and the network transforms they apply."""
