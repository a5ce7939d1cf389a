"""REINFORCE with an LSTM controller (Zoph & Le 2017; ENAS: Pham et al. 2018) emitting the choices
autoregressively: EMA baseline, entropy bonus, batched updates, optional MnasNet-style cost penalty
``reward = score × (cost / target) ^ -penalty``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas.core.space import SearchSpace
from nas.search.strategies.base import Choices, Strategy, register_strategy
from nas.stats import is_finite


class _OneThread:
    """Run the controller's tiny tensor ops on one thread: on a busy machine, intra-op threads only add
    contention (50 proposals + updates: ~5 s with 2 threads under load vs 0.3 s with 1)."""

    def __enter__(self) -> None:
        self.n = torch.get_num_threads()
        if self.n != 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc: Any) -> None:
        if self.n != 1:
            torch.set_num_threads(self.n)


def _tensor_to_json(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return {"__tensor__": obj.detach().cpu().tolist(), "dtype": str(obj.dtype).replace("torch.", "")}
    if isinstance(obj, Mapping):
        return {str(k): _tensor_to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_tensor_to_json(v) for v in obj]
    return obj


def _json_to_tensor(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        if "__tensor__" in obj:
            return torch.tensor(obj["__tensor__"], dtype=getattr(torch, obj["dtype"]))
        return {k: _json_to_tensor(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_to_tensor(v) for v in obj]
    return obj


@register_strategy
class ReinforceController(Strategy):
    """An LSTM that emits one categorical decision per dimension of the space (Zoph & Le 2017; ENAS).

    Step ``t`` feeds the embedding of decision ``t-1`` (a learned start vector at ``t=0``) to an
    ``LSTMCell`` and samples dimension ``t`` from ``tanh_c · tanh(W_t h_t / temperature)`` (ENAS's logit
    squashing). Every ``batch`` observations the controller takes one Adam step on
    ``-mean(A · log π(choices)) - entropy · mean(H)`` where the advantage ``A = (R - b) / σ`` uses an EMA
    baseline ``b`` and the running standard deviation ``σ`` of the rewards (so the step size does not
    depend on the metric's units). Log-probabilities are recomputed under the current policy at update
    time (observations of points the controller did not propose, e.g. seeded baselines, are used the same
    way). With ``penalty > 0`` the reward is ``score × (cost / cost_target) ^ -penalty`` (MnasNet's soft
    constraint; ``cost_target`` defaults to the median cost seen so far).
    """

    name = "rl"
    options = {
        "hidden": 64,
        "lr": 0.02,
        "batch": 5,
        "entropy": 0.01,
        "baseline_decay": 0.9,
        "temperature": 5.0,
        "tanh_c": 2.5,
        "penalty": 0.0,
        "cost": "macs",
        "cost_target": 0.0,
    }

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed, **options)
        self.gen = torch.Generator().manual_seed(self.seed)
        h = self.opts["hidden"]
        sizes = [len(v) for v in self.dims.values()]
        self.net = nn.ModuleDict(
            {
                "lstm": nn.LSTMCell(h, h),
                "start": nn.Embedding(1, h),
                "emb": nn.ModuleList(nn.Embedding(n, h) for n in sizes),
                "heads": nn.ModuleList(nn.Linear(h, n) for n in sizes),
            }
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.uniform_(-0.1, 0.1, generator=self.gen)
        self.adam_m = [torch.zeros_like(p) for p in self.net.parameters()]
        self.adam_v = [torch.zeros_like(p) for p in self.net.parameters()]
        self.baseline: float | None = None
        self.reward_var: float | None = None
        self.buffer: list[tuple[Choices, float]] = []
        self.costs_seen: list[float] = []
        self.updates = 0

    @property
    def cost_metric(self) -> str | None:
        return self.opts["cost"] if self.opts["penalty"] else None

    def _logits(self, h: torch.Tensor, t: int) -> torch.Tensor:
        logits = self.net["heads"][t](h) / self.opts["temperature"]
        return self.opts["tanh_c"] * torch.tanh(logits)

    def _run(
        self, actions: list[list[int]] | None = None, n: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, list[list[int]]]:
        """Sample ``n`` sequences (``actions`` None) or score given ones: (log π, entropy, actions)."""
        if actions is not None:
            n = len(actions)
        h = self.net["lstm"].hidden_size
        x = self.net["start"].weight.expand(n, h)
        state = (torch.zeros(n, h), torch.zeros(n, h))
        logp = torch.zeros(n)
        ent = torch.zeros(n)
        out: list[list[int]] = [[] for _ in range(n)]
        for t in range(len(self.dims)):
            state = self.net["lstm"](x, state)
            logits = self._logits(state[0], t)
            log_probs = torch.log_softmax(logits, dim=-1)
            if actions is None:
                a = torch.multinomial(log_probs.exp(), 1, generator=self.gen).squeeze(1)
            else:
                a = torch.tensor([row[t] for row in actions])
            logp = logp + log_probs.gather(1, a[:, None]).squeeze(1)
            ent = ent - (log_probs.exp() * log_probs).sum(-1)
            for i, ai in enumerate(a.tolist()):
                out[i].append(ai)
            x = self.net["emb"][t](a)
        return logp, ent, out

    def propose(self) -> Choices:
        with torch.no_grad(), _OneThread():
            _, _, acts = self._run(n=1)
        return {k: options[i] for (k, options), i in zip(self.dims.items(), acts[0])}

    def _reward(self, score: float, costs: Mapping[str, float] | None) -> float:
        w = self.opts["penalty"]
        if not w:
            return float(score)
        cost = (costs or {}).get(self.opts["cost"])
        if cost is None or not math.isfinite(cost) or cost <= 0:
            return float(score)
        self.costs_seen.append(float(cost))
        target = self.opts["cost_target"] or sorted(self.costs_seen)[len(self.costs_seen) // 2]
        return float(score) * (cost / target) ** (-w)

    def observe(
        self, choices: Mapping[str, Any], score: float | None, costs: Mapping[str, float] | None = None
    ) -> None:
        if not is_finite(score):
            return
        r = self._reward(score, costs)
        self.buffer.append((dict(choices), r))
        if len(self.buffer) >= self.opts["batch"]:
            with _OneThread():
                self._update()

    def _update(self) -> None:
        d = self.opts["baseline_decay"]
        advs = []
        for _, r in self.buffer:
            if self.baseline is None:
                self.baseline, self.reward_var = r, 0.0
            adv = r - self.baseline
            self.reward_var = d * self.reward_var + (1 - d) * adv * adv
            advs.append(adv / (math.sqrt(self.reward_var) + 1e-8) if self.reward_var > 0 else 0.0)
            self.baseline = d * self.baseline + (1 - d) * r
        index = {k: {o: i for i, o in enumerate(v)} for k, v in self.dims.items()}
        actions = [[index[k][c[k]] for k in self.dims] for c, _ in self.buffer]
        logp, ent, _ = self._run(actions)
        adv_t = torch.tensor(advs, dtype=logp.dtype)
        loss = -(adv_t * logp).mean() - self.opts["entropy"] * ent.mean()
        params = list(self.net.parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        self.updates += 1
        self._adam(params, grads)
        self.buffer.clear()

    def _adam(self, params: list[Any], grads: tuple[Any, ...], b1: float = 0.9, b2: float = 0.999) -> None:
        """Adam (Kingma & Ba 2015), written out so its state is two plain tensors per parameter (and
        ``torch.optim`` — whose import pulls in ``torch._dynamo`` — stays unloaded)."""
        lr, t = self.opts["lr"], self.updates
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, self.adam_m, self.adam_v):
                if g is None:
                    continue
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v / (1 - b2**t)).sqrt_().add_(1e-8)
                p.addcdiv_(m, denom, value=-lr / (1 - b1**t))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "generator": self.gen.get_state().tolist(),
            "weights": _tensor_to_json(self.net.state_dict()),
            "adam": _tensor_to_json({"m": self.adam_m, "v": self.adam_v}),
            "baseline": self.baseline,
            "reward_var": self.reward_var,
            "buffer": [[c, r] for c, r in self.buffer],
            "costs_seen": self.costs_seen,
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.gen.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.net.load_state_dict(_json_to_tensor(state["weights"]))
        adam = _json_to_tensor(state["adam"])
        self.adam_m, self.adam_v = adam["m"], adam["v"]
        self.baseline = state["baseline"]
        self.reward_var = state["reward_var"]
        self.buffer = [(dict(c), float(r)) for c, r in state["buffer"]]
        self.costs_seen = [float(c) for c in state.get("costs_seen", [])]
        self.updates = int(state["updates"])

    def probabilities(self) -> dict[str, dict[str, float]]:
        """Greedy-path marginals (diagnostics): per dimension, option probabilities after argmax prefixes."""
        with torch.no_grad():
            h = self.net["lstm"].hidden_size
            x = self.net["start"].weight
            state = (torch.zeros(1, h), torch.zeros(1, h))
            out = {}
            for t, (k, options) in enumerate(self.dims.items()):
                state = self.net["lstm"](x, state)
                p = torch.softmax(self._logits(state[0], t), -1)[0]
                out[k] = {str(o): round(float(pi), 4) for o, pi in zip(options, p)}
                x = self.net["emb"][t](p.argmax()[None])
        return out
