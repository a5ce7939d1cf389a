"""Differentiable one-shot search on the supernet: DARTS (first order) and GDAS.

Both alternate, per step, an architecture step on a batch of the validation half (Adam on the
architecture parameters α, DARTS's settings: lr 3e-4, betas (0.5, 0.999), weight decay 1e-3) and a
weight step on a batch of the training half (the project's SGD, schedule, gradient clipping and AMP:
:class:`BilevelTrainer` is a :class:`nas.train.trainer.Trainer` with its own epoch loop). First order:
the architecture gradient is taken at the current weights (DARTS's ξ = 0).

* ``darts``: every edge runs every op, weighted by ``softmax(α)``.
* ``gdas`` (Dong & Yang 2019): every edge runs one op drawn by Gumbel-softmax (hard, straight-through:
  forward weight 1, gradient through the soft sample); the temperature falls linearly from ``tau_max``
  to ``tau_min`` over the epochs. Evaluation runs each edge's argmax op.

α and the state of its optimizer are part of the model's state dict (the optimizer through
``get_extra_state``), so the trainer's checkpoint holds them and a resumed search is bit-identical on
the CPU. The result is ``layout.discretize(softmax(α))``: an ordinary member of the space.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas.core.errors import ConfigError
from nas.data.augment import AugmentSpec
from nas.oneshot.spos import check_data
from nas.oneshot.supernet import Supernet
from nas.search.strategies.base import choice_key
from nas.train.config import TrainConfig, lr_at
from nas.train.seeding import seed_everything
from nas.train.trainer import Trainer

METHODS = ("darts", "gdas")


class ArchParams(nn.Module):
    """α per group (``(edges, options)``, initialised as DARTS does: 1e-3 · N(0, 1)) and its Adam."""

    def __init__(
        self, supernet: Supernet, *, lr: float = 3e-4, weight_decay: float = 1e-3, betas: tuple = (0.5, 0.999)
    ) -> None:
        super().__init__()
        self.alpha = nn.ParameterDict(
            {
                g: nn.Parameter(1e-3 * torch.randn(len(e), len(e[0].options)), requires_grad=False)
                for g, e in supernet.edges.items()
            }
        )
        self.optimizer = torch.optim.Adam(self.alpha.values(), lr=lr, betas=betas, weight_decay=weight_decay)

    def learning(self, on: bool) -> None:
        """Let α take gradients (architecture step) or not (weight step: the mixture is a constant)."""
        for p in self.alpha.values():
            p.requires_grad_(on)

    def weights(self) -> dict[str, torch.Tensor]:
        """``softmax(α)`` per group (detached)."""
        return {g: a.detach().softmax(-1) for g, a in self.alpha.items()}

    def get_extra_state(self) -> Any:
        return {"optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: Any) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


class MixedSupernet(nn.Module):
    """The supernet with its architecture parameters; the forward sets the mixture of ``method``."""

    def __init__(self, supernet: Supernet, method: str) -> None:
        super().__init__()
        if method not in METHODS:
            raise ConfigError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
        self.supernet = supernet
        self.arch = ArchParams(supernet)
        self.method = method
        self.tau = 10.0

    def forward(self, x: torch.Tensor) -> Any:
        alpha = self.arch.alpha
        if self.method == "darts":
            self.supernet.set_mixture({g: a.softmax(-1) for g, a in alpha.items()})
        else:
            weights, run = {}, {}
            for g, a in alpha.items():
                if self.training:
                    hard = nn.functional.gumbel_softmax(a, tau=self.tau, hard=True)
                else:
                    hard = nn.functional.one_hot(a.argmax(-1), a.shape[-1]).to(a.dtype)
                weights[g] = hard
                run[g] = [(int(j),) for j in hard.argmax(-1)]
            self.supernet.set_mixture(weights, run)
        return self.supernet(x)

    def choices(self) -> dict[str, Any]:
        """The member α points at (the layout's discretisation rule)."""
        return self.supernet.layout.discretize(self.arch.weights())


class BilevelTrainer(Trainer):
    """:class:`Trainer` whose epoch alternates architecture steps (validation half) and weight steps
    (training half); ``fit``, ``evaluate``, checkpoints and resume are the trainer's."""

    def __init__(
        self,
        model: MixedSupernet,
        data: Any,
        config: TrainConfig,
        *,
        tau_max: float = 10.0,
        tau_min: float = 0.1,
        **trainer_options: Any,
    ) -> None:
        if data.val is None:
            raise ConfigError("val_size", "a bilevel search needs a validation split for the architecture")
        if not 0 < tau_min <= tau_max:
            raise ConfigError("tau_min", f"need 0 < tau_min <= tau_max, got {tau_min}, {tau_max}")
        self.tau_max, self.tau_min = tau_max, tau_min
        model.arch.learning(False)  # the trainer's SGD takes the weights only
        trainer_options.setdefault("tensorboard", False)
        super().__init__(model, data, config, **trainer_options)
        cfg = config
        self.val_loader = data.loader(
            "val",
            cfg.batch_size,
            train=True,
            augment=AugmentSpec(crop_padding=cfg.crop_padding, flip=cfg.flip, cutout=cfg.cutout),
            device=self.device,
            seed=cfg.seed + 1,
            channels_last=self.channels_last,
            workers=cfg.workers,
        )

    def _arch_step(self, model: MixedSupernet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        model.arch.learning(True)
        with self._autocast():
            loss = self.criterion(model(x), y)
        model.arch.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # also fills weight gradients, which the weight step clears before its own
        model.arch.optimizer.step()
        model.arch.learning(False)
        return loss.detach()

    def train_epoch(self) -> dict[str, Any]:
        cfg, model, opt = self.config, self.model, self.optimizer
        assert isinstance(model, MixedSupernet)
        loader, vloader = self.train_loader, self.val_loader
        loader.set_epoch(self.epoch)
        vloader.set_epoch(self.epoch)  # the order of both halves is a function of (seed, epoch)
        steps = min(len(loader), len(vloader))
        total = steps * cfg.epochs
        frac = self.epoch / max(1, cfg.epochs - 1)
        model.tau = self.tau_max - (self.tau_max - self.tau_min) * frac
        model.train()
        params = [p for g in opt.param_groups for p in g["params"]]
        sums = torch.zeros(3, device=self.device, dtype=torch.float64)  # train loss, correct, arch loss
        seen, lr = 0, cfg.lr
        t0 = time.perf_counter()
        it, vit = iter(loader), iter(vloader)
        for i in range(steps):
            xv, yv = next(vit)
            arch_loss = self._arch_step(model, xv, yv)
            x, y = next(it)
            lr = lr_at(self.epoch * steps + i, total, steps, cfg)
            loss, logits = self._weight_step(opt, params, x, y, lr)
            n = y.shape[0]
            seen += n
            sums += torch.stack(
                [
                    loss.detach().double() * n,
                    (logits.detach().argmax(1) == y).sum().double(),
                    arch_loss.double() * n,
                ]
            )
        for gen in (it, vit):
            with contextlib.suppress(StopIteration):
                next(gen)
        dt = time.perf_counter() - t0
        self.train_seconds += dt
        self.images_seen += seen
        loss_sum, correct, arch_sum = (float(v) for v in sums)
        choices = model.choices()
        return {
            "train_loss": loss_sum / max(1, seen),
            "train_top1": 100.0 * correct / max(1, seen),
            "arch_loss": arch_sum / max(1, seen),
            "lr": lr,
            "tau": model.tau if model.method == "gdas" else None,
            "images_per_second": seen / dt if dt > 0 else 0.0,
            "epoch_seconds": dt,
            "choices": choice_key(choices),  # JSON text: metrics tables keep one scalar per cell
            **op_counts(model.supernet, choices),
        }


def op_counts(supernet: Supernet, choices: Mapping[str, Any]) -> dict[str, int]:
    """How many active edges of a member run ``none`` and a skip connection (a DARTS collapse shows here)."""
    ops = [o for p in supernet.layout.path(choices).values() for o in p.values()]
    return {"none_edges": ops.count("none"), "skip_edges": ops.count("skip_connect")}


def bilevel_trainer(
    space: Any,
    data: Any,
    config: TrainConfig,
    *,
    method: str = "darts",
    space_options: Mapping[str, Any] | None = None,
    **trainer_options: Any,
) -> BilevelTrainer:
    """A DARTS / GDAS search (call ``.fit()``, then ``.model.choices()``): the supernet and α are built
    after seeding with ``config.seed``, so a run is a function of its seed."""
    seed_everything(config.seed, config.deterministic)
    sn = Supernet(space, **dict(space_options or {}))
    check_data(sn, data)
    return BilevelTrainer(MixedSupernet(sn, method), data, config, **trainer_options)
