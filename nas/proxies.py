"""Zero-cost proxies: score an untrained network from one forward/backward pass on a minibatch.

Each proxy is a function ``(model, x, y) -> float`` where *higher predicts a better architecture*:

==========  ================================================================================================
synflow     Tanaka et al. 2020: sum |θ ⊙ ∂R/∂θ| with R = sum(f(1)) on |θ|, an all-ones input, float64, the
            batch-norm layers removed (as Abdelfattah et al. 2021, "Zero-cost proxies for lightweight NAS").
naswot      Mellor et al. 2021 (v2): log|det K| of the Hamming kernel of the ReLU activation patterns.
jacob_cov   Mellor et al. 2020 (v1): −Σ log(λ+k) + 1/(λ+k) over the eigenvalues of the correlation matrix
            of the per-image input Jacobians (k = 1e-5).
grad_norm   Abdelfattah et al. 2021: Σ over conv/linear layers of ‖∂L/∂W‖₂ (cross-entropy loss).
snip        Lee et al. 2019 as a score (Abdelfattah et al. 2021): Σ |W ⊙ ∂L/∂W| over conv/linear weights.
params      the number of parameters.
macs        multiply-adds of one image (``nas.tools.describe``, counted on the meta device).
==========  ================================================================================================

``score(name, model, batch)`` never changes the model's weights (synflow works on a copy), leaves no
gradients behind and restores the train/eval mode, so scoring one model with several proxies in a row
gives the same values as scoring fresh copies. Given the same weights and batch every proxy is
deterministic; ``build_scored`` seeds the weight initialisation so a (genotype, seed, batch) triple
always gives the same scores.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from nas.core.compile import build
from nas.tools.describe import describe

Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | Sequence[torch.Tensor]
ProxyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor | None], float]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
_RELUS = (nn.ReLU, nn.ReLU6)


@dataclass(frozen=True)
class Proxy:
    """A registered zero-cost proxy. ``needs_data``: uses the images (else only shapes/weights);
    ``needs_labels``: uses a loss on the labels."""

    name: str
    fn: ProxyFn
    needs_data: bool = True
    needs_labels: bool = False
    reference: str = ""


PROXIES: dict[str, Proxy] = {}


def register_proxy(
    name: str, *, needs_data: bool = True, needs_labels: bool = False, reference: str = ""
) -> Callable[[ProxyFn], ProxyFn]:
    """Decorator: add a proxy ``fn(model, x, y) -> float`` (higher = better) under ``name``."""

    def deco(fn: ProxyFn) -> ProxyFn:
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} is already registered")
        PROXIES[name] = Proxy(name, fn, needs_data, needs_labels, reference)
        return fn

    return deco


def get_proxy(name: str) -> Proxy:
    try:
        return PROXIES[name]
    except KeyError:
        raise ValueError(f"unknown zero-cost proxy {name!r}; known: {', '.join(sorted(PROXIES))}") from None


def _split(batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, Sequence) and len(batch) == 2 and all(isinstance(t, torch.Tensor) for t in batch):
        return batch[0], batch[1]
    raise TypeError("batch must be an image tensor or an (images, labels) pair of tensors")


def _logits(out: Any) -> torch.Tensor:
    """The main logits of a forward (networks with auxiliary heads return a tuple in training mode)."""
    return out[0] if isinstance(out, tuple | list) else out


def score(name: str, model: nn.Module, batch: Batch) -> float:
    """Score ``model`` with the proxy ``name`` on ``batch`` (``images`` or ``(images, labels)``).

    Higher is better for every proxy; a degenerate network (e.g. output independent of the input) may
    score ``-inf`` or ``nan``, which rankings treat as worst.
    """
    proxy = get_proxy(name)
    x, y = _split(batch)
    if proxy.needs_labels and y is None:
        raise ValueError(f"proxy {name!r} needs labels: pass (images, labels)")
    was_training = model.training
    try:
        # stochastic layers (dropout, drop-path) run in training mode: seed them so scores repeat
        with torch.enable_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            value = proxy.fn(model, x, y)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return float(value)


def score_all(names: Iterable[str], model: nn.Module, batch: Batch) -> dict[str, float]:
    return {n: score(n, model, batch) for n in names}


# ----------------------------------------------------------------------------------------- the proxies


@register_proxy("params", needs_data=False, reference="parameter count")
def _params(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    return float(sum(p.numel() for p in model.parameters()))


@register_proxy("macs", needs_data=False, reference="multiply-adds per image (nas.tools.describe)")
def _macs(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    if getattr(model, "genotype", None) is not None:
        return float(describe(model)["macs"])
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x[:1])
    return float(counter.get_total_flops() // 2)


def _strip_batchnorm(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        if isinstance(child, _BATCHNORM):
            setattr(module, name, nn.Identity())
        else:
            _strip_batchnorm(child)
    return module


@register_proxy("synflow", needs_data=False, reference="Tanaka et al. 2020; Abdelfattah et al. 2021")
def _synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    net = _strip_batchnorm(copy.deepcopy(model)).double()
    net.zero_grad(set_to_none=True)
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.eval()  # dropout off; batch norm is gone
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
    torch.sum(_logits(net(ones))).backward()
    total = 0.0
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, _WEIGHTED) and m.weight.grad is not None:
                total += float((m.weight * m.weight.grad).abs().sum())
    return total


@register_proxy("naswot", reference="Mellor et al. 2021 (ICML), activation-pattern kernel log-determinant")
def _naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    n = x.shape[0]
    K = torch.zeros((n, n), dtype=torch.float64)

    def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        c = (out.detach().reshape(n, -1) > 0).to(torch.float64)
        K.add_(c @ c.T).add_((1.0 - c) @ (1.0 - c).T)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, _RELUS)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    if not handles:
        raise ValueError("naswot needs ReLU modules (nn.ReLU / nn.ReLU6) in the network")
    sign, logdet = torch.linalg.slogdet(K)
    return float(logdet) if float(sign) > 0 else float("-inf")


@register_proxy("jacob_cov", reference="Mellor et al. 2020 (arXiv v1), Jacobian covariance")
def _jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    model.train()
    xg = x.detach().clone().requires_grad_(True)
    out = _logits(model(xg))
    out.backward(torch.ones_like(out))
    if xg.grad is None:
        return float("-inf")
    jac = xg.grad.reshape(x.shape[0], -1).double().numpy()
    if not np.all(np.isfinite(jac)) or np.any(jac.std(axis=1) == 0):
        return float("-inf")
    corrs = np.corrcoef(jac)
    v = np.linalg.eigvalsh(corrs)
    k = 1e-5
    v = np.clip(v, 0.0, None)  # tiny negative round-off eigenvalues of a PSD matrix
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


def _loss_backward(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(_logits(model(x)), y).backward()


@register_proxy("grad_norm", needs_labels=True, reference="Abdelfattah et al. 2021")
def _grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    assert y is not None
    _loss_backward(model, x, y)
    with torch.no_grad():
        return sum(
            float(m.weight.grad.norm())
            for m in model.modules()
            if isinstance(m, _WEIGHTED) and m.weight.grad is not None
        )


@register_proxy("snip", needs_labels=True, reference="Lee et al. 2019; Abdelfattah et al. 2021")
def _snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> float:
    assert y is not None
    _loss_backward(model, x, y)
    with torch.no_grad():
        return sum(
            float((m.weight.grad * m.weight).abs().sum())
            for m in model.modules()
            if isinstance(m, _WEIGHTED) and m.weight.grad is not None
        )


# ------------------------------------------------------------------------------- genotypes end to end


def build_scored(
    genotype: Any,
    names: Sequence[str],
    batch: Batch,
    *,
    seed: int = 0,
    num_classes: int | None = None,
    input_size: int | None = None,
) -> dict[str, dict[str, float]]:
    """Build ``genotype`` with weights initialised from ``seed`` and score it with every proxy.

    Returns ``{name: {"score", "cpu_s", "wall_s"}}``; the cost of a proxy includes building the network
    (each proxy is charged one build, as if it ran alone), measured as process CPU time.
    """
    for n in names:
        get_proxy(n)
    x, y = _split(batch)
    size = input_size if input_size is not None else int(x.shape[-1])
    t0, w0 = time.process_time(), time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(genotype, num_classes=num_classes, input_size=size)
    build_cpu, build_wall = time.process_time() - t0, time.perf_counter() - w0
    out: dict[str, dict[str, float]] = {}
    for n in names:
        t0, w0 = time.process_time(), time.perf_counter()
        value = score(n, model, batch)
        out[n] = {
            "score": value,
            "cpu_s": build_cpu + time.process_time() - t0,
            "wall_s": build_wall + time.perf_counter() - w0,
        }
    return out


__all__ = [
    "PROXIES",
    "Proxy",
    "build_scored",
    "get_proxy",
    "register_proxy",
    "score",
    "score_all",
]
