"""ENAS (Pham et al. 2018) on the supernet: the project's REINFORCE controller (strategy ``rl``) picks the
path of every weight step, and learns from the accuracy of its samples with the shared weights.

Each epoch has two phases, as in ENAS:

1. **Shared weights**: the project's :class:`nas.train.trainer.Trainer` epoch, each step on one path
   sampled from the controller (:class:`ControlledPath`).
2. **Controller**: ``controller_steps`` samples, each rewarded with its top-1 (percent) on one shuffled
   batch of the validation split (not augmented for in-memory data sets such as CIFAR; training-mode
   BatchNorm, ENAS's choice: running statistics shared across paths describe none of them; the
   supernet's buffers are restored after the phase). The controller takes one policy step every
   ``batch`` rewards (its own ask / tell update; ``controller_steps`` is a multiple of it), without the
   ``rl`` strategy's replay of the best rewards (stale here). Defaults: 50 samples and 10 policy steps per
   epoch (ENAS itself: 50 steps of 20 samples).

The controller's whole state (weights, Adam moments, RNG) is part of the model's state dict (extra state),
so the trainer's checkpoint holds it and a resumed run is bit-identical on the CPU. ``train_seconds``
includes the controller phase (the ledger charges it); the epoch's ``images_per_second`` is the weight
phase's. After training
``controller.json`` holds the controller's state: a member search over inherited weights starts the ``rl``
strategy from its policy (option ``init``), ENAS's "sample from the trained policy, keep the best".
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from nas.core.errors import ConfigError
from nas.core.space import SearchSpace
from nas.oneshot.spos import UniformPath, check_data
from nas.oneshot.supernet import Supernet
from nas.search.durable import write_json
from nas.search.strategies.base import choice_key
from nas.search.strategies.reinforce import ReinforceController
from nas.train.config import TrainConfig
from nas.train.seeding import seed_everything
from nas.train.trainer import Trainer

CONTROLLER_FILE = "controller.json"
#: ENAS's options with their defaults: controller samples per epoch (a multiple of the controller's
#: ``batch``: every epoch's rewards make whole policy steps), and the controller's options over
#: :data:`CONTROLLER` (strategy ``rl``'s: lr, batch, entropy, hidden, advantage, ...)
ENAS_OPTIONS: dict[str, Any] = {"controller_steps": 50, "controller": {}}
#: the controller's defaults where they differ from strategy ``rl``'s: no replay — a reward is one noisy
#: validation batch under weights that keep changing, so the best old rewards are stale (ENAS has none)
CONTROLLER: dict[str, Any] = {"replay": 0}
#: the options that shape the policy network: the member search's ``rl`` takes them from the controller
SHAPE = ("policy", "hidden", "temperature", "tanh_c")


def enas_options(options: Mapping[str, Any], space: SearchSpace | None = None) -> dict[str, Any]:
    """``options`` over :data:`ENAS_OPTIONS` with every default filled in, checked (``ConfigError``
    naming the field); with ``space``, the controller's options are checked by building it."""
    unknown = sorted(set(options) - set(ENAS_OPTIONS))
    if unknown:
        known = ", ".join(sorted(ENAS_OPTIONS))
        raise ConfigError("method_options", f"unknown enas option(s) {', '.join(unknown)} (options: {known})")
    out = {**ENAS_OPTIONS, **options}
    if not isinstance(out["controller"], Mapping) or "init" in out["controller"]:
        raise ConfigError("method_options", "controller must be a mapping of strategy 'rl' options (no init)")
    out["controller"] = {**CONTROLLER, **out["controller"]}
    steps = out["controller_steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError("method_options", f"controller_steps must be an int >= 1, got {steps!r}")
    if space is not None:
        try:
            batch = ReinforceController(space, **out["controller"]).opts["batch"]
        except ConfigError as e:
            raise ConfigError("method_options", f"controller: {e.message}") from None
        if steps % batch:
            raise ConfigError(
                "method_options",
                f"controller_steps={steps} must be a multiple of the controller's batch={batch}",
            )
    return out


class ControlledPath(UniformPath):
    """The supernet in ENAS training: every training-mode forward runs a path the controller samples;
    evaluation runs the path last set with ``supernet.set_path``."""

    def __init__(self, supernet: Supernet, controller: ReinforceController) -> None:
        super().__init__(supernet)
        self.controller = controller

    def forward(self, x: torch.Tensor) -> Any:
        if self.training:
            with torch.autocast(x.device.type, enabled=False):  # the policy in full precision
                self.supernet.set_path(self.controller.propose())
        return self.supernet(x)

    def get_extra_state(self) -> Any:
        return {"controller": self.controller.state_dict()}

    def set_extra_state(self, state: Any) -> None:
        self.controller.load_state_dict(state["controller"])


class EnasTrainer(Trainer):
    """:class:`Trainer` whose epoch is a shared-weight epoch followed by a controller phase; ``fit``,
    ``evaluate``, checkpoints and resume are the trainer's."""

    def __init__(
        self, model: ControlledPath, data: Any, config: TrainConfig, *, controller_steps: int = 50,
        **trainer_options: Any,
    ) -> None:  # fmt: skip
        if data.val is None:
            raise ConfigError("val_size", "ENAS rewards its controller on a validation split")
        self.controller_steps = controller_steps
        trainer_options.setdefault("tensorboard", False)
        super().__init__(model, data, config, **trainer_options)
        self.val_loader = data.loader(
            "val",
            config.batch_size,
            train=True,
            augment=None,
            device=self.device,
            seed=config.seed + 1,
            channels_last=self.channels_last,
            workers=config.workers,
        )

    def train_epoch(self) -> dict[str, Any]:
        rec = super().train_epoch()
        return {**rec, **self.controller_epoch()}

    def controller_epoch(self) -> dict[str, Any]:
        """``controller_steps`` samples rewarded on validation batches (a function of (seed, epoch))."""
        model = self.model
        assert isinstance(model, ControlledPath)
        sn, ctrl = model.supernet, model.controller
        saved = {k: v.clone() for k, v in sn.named_buffers()}
        self.val_loader.set_epoch(self.epoch)
        batches = _cycle(self.val_loader)
        rewards: list[float] = []
        t0 = time.perf_counter()
        sn.train()
        for _ in range(self.controller_steps):
            x, y = next(batches)
            choices = ctrl.propose()
            sn.set_path(choices)
            with torch.no_grad(), self._autocast():
                correct = (sn(x).argmax(1) == y).sum()
            reward = 100.0 * float(correct) / y.shape[0]
            ctrl.observe(choices, reward)  # a policy step every ``batch`` rewards (needs autograd)
            rewards.append(reward)
        with torch.no_grad():
            for k, v in sn.named_buffers():
                v.copy_(saved[k])
        dt = time.perf_counter() - t0
        self.train_seconds += dt
        greedy = ctrl.greedy()
        sn.set_path(greedy)  # the epoch's validation metrics describe the policy's greedy member
        return {
            "controller_reward": sum(rewards) / len(rewards),
            "controller_seconds": dt,
            "controller_updates": ctrl.updates,
            "choices": choice_key(greedy),
        }

    def save_controller(self, path: str | Path) -> None:
        """The controller's state as JSON (what the member search's ``rl`` starts from: ``init``)."""
        model = self.model
        assert isinstance(model, ControlledPath)
        write_json(Path(path), model.controller.state_dict())


def _cycle(loader: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The loader's batches, again from the start when they run out (a small validation split)."""
    while True:
        yield from loader


def enas_trainer(
    space: Any,
    data: Any,
    config: TrainConfig,
    *,
    space_options: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Any] | None = None,
    **trainer_options: Any,
) -> EnasTrainer:
    """An ENAS search (call ``.fit()``): supernet and controller built after seeding with ``config.seed``
    (the controller's own RNG seeded with it too), so a run is a function of its seed."""
    seed_everything(config.seed, config.deterministic)
    sn = Supernet(space, **dict(space_options or {}))
    opts = enas_options(method_options or {}, sn.space)
    check_data(sn, data)
    controller = ReinforceController(sn.space, seed=config.seed, **dict(opts["controller"]))
    model = ControlledPath(sn, controller)
    return EnasTrainer(model, data, config, controller_steps=opts["controller_steps"], **trainer_options)
