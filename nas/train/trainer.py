"""The trainer every trial uses: SGD, schedules, regularisation, mixed precision, checkpoints.

``Trainer(arch, data, config).fit()`` trains a zoo name, genotype or network built by ``nas.build``
on a :class:`nas.data.datasets.Dataset` with a :class:`nas.train.config.TrainConfig` and returns a result
dict: validation / test top-1 and top-5 (percent) and loss, parameters, multiply-adds, training seconds,
images per second, the fraction of step time spent waiting for data, and peak memory.

* Networks with aux heads return ``(logits, *aux)`` in training mode; drop-path is set each epoch
  through ``model.set_drop_path``.
* CUDA: bf16 (or fp16 with loss scaling) autocast and channels-last; ``torch.compile`` on request.
* Deterministic seeding (:mod:`nas.train.seeding`); the learning rate and the data order are functions
  of the step / epoch, and the checkpoint (written atomically after every epoch, loaded with
  ``weights_only=True``) holds the model, optimizer, scaler, RNG states (torch, CUDA, Python, NumPy),
  loader state and history, so a resumed run ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.core.compile import build, validate
from nas.core.errors import ConfigError, first_line
from nas.core.genotype import Network
from nas.core.resolve import resolve
from nas.data.augment import AugmentSpec
from nas.tools.describe import describe
from nas.tools.sizeguard import check_network, too_large
from nas.train.config import TRAJECTORY_FIELDS, TrainConfig, lr_at
from nas.train.metrics import MetricsWriter
from nas.train.seeding import rng_state, seed_everything, set_rng_state

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "nas.checkpoint/1"


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two SGD groups: weights with decay; BN parameters and biases (ndim <= 1) without."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def count_params(model: nn.Module) -> tuple[int, int]:
    """(parameters without auxiliary heads, parameters of auxiliary heads)."""
    aux = sum(p.numel() for n, p in model.named_parameters() if n.startswith("aux."))
    return sum(p.numel() for p in model.parameters()) - aux, aux


def fit_genotype(
    arch: Any,
    num_classes: int,
    image_size: Sequence[int],
    *,
    aux: bool = True,
) -> Network:
    """The genotype to train: ``arch`` (a zoo name, JSON path or genotype) with the data set's classes
    and input size; auxiliary heads dropped unless ``aux``. Checks that it builds at that size and
    otherwise names the smallest size that works (a :class:`ConfigError` on ``image_size``)."""
    net = resolve(arch)
    if not isinstance(net, Network):
        raise ValueError(f"{arch!r} is a single cell; train a network genotype")
    c, h, w = (3, *image_size) if len(image_size) == 2 else tuple(image_size)
    net = net.replace(num_classes=int(num_classes), input_size=(int(c), int(h), int(w)))
    if not aux and net.aux:
        net = net.replace(aux=())
    try:
        validate(net)
    except ValueError as e:
        if big := too_large(net.name, e):  # a size torch cannot even describe: no input size helps
            raise big from None
        smallest = smallest_input_size(net, h)
        why = f"{net.name} cannot take {h}x{w} inputs ({first_line(e)})"
        if smallest is None:
            raise ValueError(f"{why}; it does not build at any size up to 1024") from None
        raise ConfigError("image_size", f"{why}; it needs at least {smallest}x{smallest}") from None
    return net


def smallest_input_size(net: Network, start: int, limit: int = 1024) -> int | None:
    """The smallest square input size above ``start`` at which ``net`` builds (binary search on meta)."""

    def ok(s: int) -> bool:
        try:
            validate(net.replace(input_size=(net.input_size[0], s, s)))
            return True
        except ValueError:
            return False

    if not ok(limit):
        return None
    lo, hi = start, limit  # lo fails, hi works
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _auto_channels_last(device: torch.device) -> bool:
    # Channels-last runs convolutions through cuDNN / oneDNN's NHWC kernels: faster on CUDA (tensor
    # cores) and on CPU (oneDNN; about 2x for a CIFAR ResNet on 2 cores, see benchmarks/).
    return device.type in ("cuda", "cpu")


def unsafe_channels_last_conv(model: nn.Module, device: torch.device) -> str | None:
    """The first conv that oneDNN's channels-last CPU backward mishandles, or ``None``.

    torch 2.14's oneDNN corrupts the heap (glibc aborts: "corrupted double-linked list") in the backward
    of a channels-last 1×1 convolution of stride > 1 with fewer than 8 input channels on AVX2 CPUs
    (measured on AMD EPYC, 1 thread; 8+ input channels and every other kernel size are fine). Such convs
    only occur in very narrow networks (the FactorizedReduce or 1×1 shortcut of a width-4 proxy), whose
    training then stays contiguous."""
    if device.type != "cpu":
        return None
    for name, m in model.named_modules():
        if (
            isinstance(m, nn.Conv2d)
            and m.kernel_size == (1, 1)
            and max(m.stride) > 1
            and m.in_channels // m.groups < 8
        ):
            return name
    return None


class Trainer:
    """Train ``arch`` on ``data`` with ``config``; see the module docstring.

    ``arch``: a zoo name, a genotype JSON path, a :class:`nas.Network` (adapted to the data set's
    classes and size by :func:`fit_genotype`) or an ``nn.Module`` (used as is; seed it yourself).
    ``out_dir``: where the checkpoint and metrics go (None: nowhere). ``resume``: continue from
    ``out_dir/checkpoint.pt`` if it exists. ``callbacks``: called as ``cb(trainer, record)`` after each
    epoch's checkpoint is written.
    """

    def __init__(
        self,
        arch: Any,
        data: Any,
        config: TrainConfig | None = None,
        *,
        device: str | torch.device | None = None,
        out_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
        tensorboard: bool = True,
        callbacks: Sequence[Callable[[Trainer, dict[str, Any]], None]] = (),
    ) -> None:
        self.config = cfg = config if config is not None else TrainConfig()
        self.data = data
        self.device = pick_device(device)
        seed_everything(cfg.seed, cfg.deterministic, self.device.type == "cuda")
        self._setup_model(arch)
        self._setup_optimizer()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.progress = progress
        self.callbacks = list(callbacks)
        self.train_loader = data.loader(
            "train",
            cfg.batch_size,
            train=True,
            augment=AugmentSpec(crop_padding=cfg.crop_padding, flip=cfg.flip, cutout=cfg.cutout),
            device=self.device,
            seed=cfg.seed,
            channels_last=self.channels_last,
            workers=cfg.workers,
        )
        self._eval_loaders: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # completed epochs
        self.train_seconds = 0.0
        self.data_seconds = 0.0
        self.images_seen = 0
        self.resumed_from: int | None = None
        self._writer: MetricsWriter | None = None
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if resume and (self.out_dir / CHECKPOINT).is_file():
                self.load_checkpoint(self.out_dir / CHECKPOINT)
            self._writer = MetricsWriter(self.out_dir, tensorboard=tensorboard)

    def _setup_model(self, arch: Any) -> None:
        """The model on the device: built from the fitted genotype (unless ``arch`` is a module), its
        drop-path rate, precision and memory format."""
        cfg, cuda = self.config, self.device.type == "cuda"
        if isinstance(arch, nn.Module):
            self.model = arch
            self.genotype: Network | None = getattr(arch, "genotype", None)
        else:
            data = self.data
            self.genotype = fit_genotype(arch, data.num_classes, data.image_size, aux=cfg.aux_weight > 0)
            check_trainable(self.genotype, cfg.batch_size, self.device)
            self.model = build(self.genotype)
        self.base_drop_path = (
            cfg.drop_path
            if cfg.drop_path is not None
            else (self.genotype.drop_path if self.genotype is not None else 0.0)
        )
        amp = cfg.amp
        if amp == "auto":
            amp = "bf16" if cuda and torch.cuda.is_bf16_supported() else "none"
        self.amp = amp
        self.channels_last = (
            _auto_channels_last(self.device) if cfg.channels_last is None else cfg.channels_last
        )
        if self.channels_last and (bad := unsafe_channels_last_conv(self.model, self.device)):
            if cfg.channels_last:
                warnings.warn(
                    f"channels_last=True ignored on the CPU: conv {bad!r} (1x1, strided, < 8 input "
                    "channels) would hit a oneDNN bug that corrupts memory; training contiguous",
                    stacklevel=3,
                )
            self.channels_last = False
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def _setup_optimizer(self) -> None:
        """SGD over the model's parameter groups, the loss scaler, the losses and the (compiled) forward."""
        cfg = self.config
        self.optimizer = torch.optim.SGD(
            param_groups(self.model, cfg.weight_decay),
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == "fp16" and self.device.type == "cuda")
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.eval_criterion = nn.CrossEntropyLoss(reduction="sum")
        self.forward = torch.compile(self.model) if cfg.compile else self.model

    # ------------------------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _set_drop_path(self, epoch: int) -> float:
        frac = epoch / max(1, self.config.epochs)  # DARTS: linear ramp from 0
        if self.config.compile:
            # the rate is a Python float that torch.compile guards on: every new value recompiles, so
            # a compiled model ramps in 8 steps (at most 8 graphs) instead of every epoch
            frac = math.floor(frac * 8) / 8
        rate = self.base_drop_path * frac
        setter = getattr(self.model, "set_drop_path", None)
        if setter is not None:
            setter(rate)
        return rate

    def _loss(self, out: Any, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(out, tuple | list):
            logits, *aux = out
            loss = self.criterion(logits, y)
            if self.config.aux_weight > 0:
                for a in aux:
                    loss = loss + self.config.aux_weight * self.criterion(a, y)
            return loss, logits
        return self.criterion(out, y), out

    def _weight_step(
        self, opt: torch.optim.Optimizer, params: Any, x: torch.Tensor, y: torch.Tensor, lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on the weights at ``lr`` (autocast, loss scaling, gradient clipping); the loss and
        logits of the batch."""
        cfg = self.config
        for g in opt.param_groups:
            g["lr"] = lr
        with self._autocast():
            loss, logits = self._loss(self.forward(x), y)
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            self.scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
        self.scaler.step(opt)
        self.scaler.update()
        return loss, logits

    def train_epoch(self) -> dict[str, Any]:
        """One epoch of training; returns its metrics."""
        cfg, model, opt = self.config, self.model, self.optimizer
        loader = self.train_loader
        loader.set_epoch(self.epoch)
        steps = len(loader)
        total = steps * cfg.epochs
        drop = self._set_drop_path(self.epoch)
        model.train()
        dev = self.device
        loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        seen = 0
        data_time = 0.0
        bar = self._bar(loader.num_samples if not loader.drop_last else steps * cfg.batch_size)
        params = [p for g in opt.param_groups for p in g["params"]]
        step0 = self.epoch * steps
        lr = cfg.lr
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        it = iter(loader)
        for i in range(steps):
            td = time.perf_counter()
            x, y = next(it)
            data_time += time.perf_counter() - td
            lr = lr_at(step0 + i, total, steps, cfg)
            loss, logits = self._weight_step(opt, params, x, y, lr)
            n = y.shape[0]
            seen += n
            loss_sum += loss.detach().double() * n
            correct += (logits.detach().argmax(1) == y).sum()
            if bar is not None:
                bar.update(n)
                if i % 20 == 0 or i == steps - 1:
                    bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.4g}", refresh=False)
        with contextlib.suppress(StopIteration):
            next(it)  # let generators finish (DataLoader workers shut down)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        dt = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        self.train_seconds += dt
        self.data_seconds += data_time
        self.images_seen += seen
        return {
            "train_loss": float(loss_sum) / max(1, seen),
            "train_top1": 100.0 * int(correct) / max(1, seen),
            "lr": lr,
            "drop_path": drop,
            "images_per_second": seen / dt if dt > 0 else 0.0,
            "data_wait_fraction": data_time / dt if dt > 0 else 0.0,
            "epoch_seconds": dt,
        }

    def _bar(self, total: int) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm  # imported only when progress is shown

        return tqdm(
            total=total,
            desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            unit="img",
            unit_scale=True,
            leave=False,
            dynamic_ncols=True,
        )

    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        """Loss, top-1 and top-5 (percent) of the model on ``split`` ("val" or "test")."""
        loader = self._eval_loaders.get(split)
        if loader is None:
            loader = self._eval_loaders[split] = self.data.loader(
                split,
                self.config.eval_batch_size,
                train=False,
                device=self.device,
                seed=self.config.seed,
                channels_last=self.channels_last,
                workers=self.config.workers,
            )
        self.model.eval()
        dev = self.device
        loss = torch.zeros((), device=dev, dtype=torch.float64)
        top1 = torch.zeros((), device=dev, dtype=torch.long)
        top5 = torch.zeros((), device=dev, dtype=torch.long)
        n = 0
        k = min(5, self.data.num_classes)
        for x, y in loader:
            with self._autocast():
                out = self.forward(x)
            out = out[0] if isinstance(out, tuple | list) else out
            out = out.float()
            loss += self.eval_criterion(out, y).double()
            pred = out.topk(k, 1).indices
            hit = pred == y[:, None]
            top1 += hit[:, 0].sum()
            top5 += hit.any(1).sum()
            n += y.shape[0]
        self.model.train()
        n = max(1, n)
        return {"loss": float(loss) / n, "top1": 100.0 * int(top1) / n, "top5": 100.0 * int(top5) / n}

    # ------------------------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs (checkpointing after each) and return the result dict."""
        cfg = self.config
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        while self.epoch < cfg.epochs:
            rec: dict[str, Any] = {"epoch": self.epoch + 1, **self.train_epoch()}
            last = self.epoch + 1 == cfg.epochs
            if self.data.val is not None and ((self.epoch + 1) % cfg.eval_every == 0 or last):
                v = self.evaluate("val")
                rec.update(val_loss=v["loss"], val_top1=v["top1"], val_top5=v["top5"])
            self.epoch += 1
            self.history.append(rec)
            if self._writer is not None:
                self._writer.epoch(self.history)
            if self.out_dir is not None:
                self.save_checkpoint(self.out_dir / CHECKPOINT)
            if self.progress:
                self._print_epoch(rec)
            for cb in self.callbacks:
                cb(self, rec)
        result = self.result()
        if self._writer is not None:
            self._writer.close(self.history)
        if self.out_dir is not None:
            (self.out_dir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        return result

    def _print_epoch(self, rec: dict[str, Any]) -> None:
        from tqdm import tqdm  # imported only when progress is shown

        val = f"  val {rec['val_top1']:.2f}%" if "val_top1" in rec else ""
        tqdm.write(
            file=sys.stderr,
            s=f"epoch {rec['epoch']}/{self.config.epochs}  loss {rec['train_loss']:.4f}  "
            f"train {rec['train_top1']:.2f}%{val}  {rec['images_per_second']:.0f} img/s  "
            f"lr {rec['lr']:.4g}  data {100 * rec['data_wait_fraction']:.1f}%",
        )

    def result(self) -> dict[str, Any]:
        """The result dict of the run so far (evaluates the test split when configured)."""
        cfg = self.config
        last = self.history[-1] if self.history else {}
        params, aux_params = count_params(self.model)
        macs = None
        if self.genotype is not None:
            macs = describe(self.genotype.replace(aux=()))["macs"]
        r: dict[str, Any] = {
            "name": self.genotype.name if self.genotype is not None else type(self.model).__name__,
            "dataset": self.data.name,
            "seed": cfg.seed,
            "epochs": self.epoch,
            "train_images": len(self.data.train),
            "val_images": len(self.data.val) if self.data.val is not None else 0,
            "test_images": 0,
            "train_loss": last.get("train_loss"),
            "train_top1": last.get("train_top1"),
            "val_loss": last.get("val_loss"),
            "val_top1": last.get("val_top1"),
            "val_top5": last.get("val_top5"),
            "test_loss": None,
            "test_top1": None,
            "test_top5": None,
            "params": params,
            "aux_params": aux_params,
            "macs": macs,
            "train_seconds": self.train_seconds,
            "images_per_second": self.images_seen / self.train_seconds if self.train_seconds else 0.0,
            "data_wait_fraction": self.data_seconds / self.train_seconds if self.train_seconds else 0.0,
            "peak_memory_mb": peak_memory_mb(self.device),
            "device": str(self.device),
            "amp": self.amp,
            "channels_last": self.channels_last,
            "compiled": cfg.compile,
            "resumed_from_epoch": self.resumed_from,
        }
        if cfg.evaluate_test and self.data.test is not None:
            t = self.evaluate("test")
            r.update(test_loss=t["loss"], test_top1=t["top1"], test_top5=t["top5"])
            r["test_images"] = len(self.data.test)
        return r

    # ------------------------------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> None:
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "loader": self.train_loader.state_dict(),
            "history": self.history,
            "config": self.config.to_dict(),
            "genotype": self.genotype.to_json() if self.genotype is not None else None,
            "train_seconds": self.train_seconds,
            "data_seconds": self.data_seconds,
            "images_seen": self.images_seen,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)  # atomic: an interruption never leaves a half-written checkpoint

    def load_checkpoint(self, path: Path) -> None:
        try:
            # on the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest to the device
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"cannot read checkpoint {path} ({first_line(e)})") from None
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a nas checkpoint")
        old = state["config"]
        diff = [f for f in TRAJECTORY_FIELDS if old.get(f) != getattr(self.config, f)]
        if diff:
            f = diff[0]
            raise ValueError(
                f"cannot resume {path}: it was trained with {f}={old.get(f)!r}, now "
                f"{getattr(self.config, f)!r} (start a new output directory instead)"
            )
        if self.genotype is not None and state.get("genotype") not in (None, self.genotype.to_json()):
            raise ValueError(f"cannot resume {path}: it was trained on a different architecture")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.train_loader.load_state_dict(state["loader"])
        set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.train_seconds = float(state["train_seconds"])
        self.data_seconds = float(state["data_seconds"])
        self.images_seen = int(state["images_seen"])
        self.resumed_from = self.epoch


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this run: CUDA allocator peak on GPU; the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def pick_device(device: str | torch.device | None) -> torch.device:
    """``device``, or for ``auto``/None the GPU when there is one, else the CPU."""
    if device not in (None, "auto"):
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_trainable(net: Network, batch_size: int, device: str | torch.device | None) -> dict[str, Any]:
    """The size guard before training: ``net`` with its gradients, optimizer state and a batch's
    activations must fit ``device``'s memory (:class:`ConfigError` naming the estimate); returns
    ``describe``'s table of it."""
    d = describe(net.replace(aux=()))
    fields = ("width", "image_size")
    check_network(
        d, batch=batch_size, train=True, device=pick_device(device), fields=fields, fixes=("batch_size",)
    )
    return d


def check_device(device: str | None) -> None:
    """:class:`ConfigError` on ``device`` unless it is ``auto``/None or a usable torch device."""
    if device in (None, "auto"):
        return
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError("device", f"{device!r} is not a device (auto, cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", f"{device}: CUDA is not available on this machine")


def train(arch: Any, data: Any, config: TrainConfig | None = None, **kwargs: Any) -> dict[str, Any]:
    """``Trainer(arch, data, config, **kwargs).fit()``."""
    return Trainer(arch, data, config, **kwargs).fit()
