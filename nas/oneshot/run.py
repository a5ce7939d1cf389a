"""A one-shot search end to end, in one directory ``out/``:

==================  ====================================================================================
supernet/           the trained supernet (:mod:`nas.oneshot.store`: ``supernet.json``, ``checkpoint.pt``
                    after every epoch, ``metrics.csv``; DARTS / GDAS rows carry the member α points at,
                    ENAS rows the controller's greedy member; ENAS: ``controller.json``)
search/             SPOS, ENAS: an ordinary search run over the members scored with inherited weights
                    (the ``supernet`` objective): ``trials.csv``, ``best.json``, ``ledger.json``,
                    ``strategy.json``; ENAS's default strategy is ``rl`` from the trained controller
genotype.json       the member found (``nas train`` / ``nas final`` / ``nas transfer`` read it as is)
result.json         what was found and what it cost: method, choices, arch text, supernet training time
==================  ====================================================================================

Rerunning with ``resume`` continues whichever part was interrupted: the supernet's training from its last
epoch checkpoint (bit-identical on the CPU), then the search from its table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.core.registry import SPACES
from nas.oneshot import objective as _objective  # noqa: F401 (registers the supernet objective)
from nas.oneshot.bilevel import MixedSupernet, op_counts
from nas.oneshot.enas import CONTROLLER_FILE, SHAPE, EnasTrainer, enas_options
from nas.oneshot.store import (
    META,
    SupernetRun,
    load_data,
    open_trainer,
    trained_supernet,
    write_meta,
)
from nas.search.budget import Ledger
from nas.search.config import SearchConfig
from nas.search.durable import read_json, write_json
from nas.search.executor import execute
from nas.search.run import open_search
from nas.search.strategies import make_strategy
from nas.search.strategies.reinforce import ReinforceController
from nas.train.trainer import Trainer


def check_out(out: Path, resume: bool) -> None:
    """A new run needs a fresh directory; a resumed one needs a started run there."""
    started = (out / "supernet" / META).is_file()
    if started and not resume:
        raise ConfigError("out", f"{out} already holds a one-shot run", fixes=("resume",))
    if resume and not started:
        raise ConfigError("resume", f"{out} holds no one-shot run to resume")


def charge_supernet(ledger: Ledger, trainer: Trainer) -> None:
    """Book the supernet's training time in the search's ledger (rebuilt from the table every session,
    so every session books it): a device-hours budget covers the whole one-shot search."""
    seconds = trainer.train_seconds
    if trainer.device.type == "cuda":  # one GPU held for the training's wall time
        ledger.gpu_hours += seconds / 3600.0
        ledger.extra["supernet_gpu_s"] = seconds
    else:
        ledger.charge_cpu(seconds, "supernet")


def member_strategy(
    run: SupernetRun, sdir: Path, strategy: str | None, options: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The member search's strategy and options: ``strategy`` as given; by default evolution (SPOS) or,
    for ENAS, ``rl`` starting from the trained controller's policy (its shape options are the
    controller's; the rest are ``rl``'s defaults unless ``options`` set them)."""
    options = dict(options or {})
    if run.method != "enas" or strategy not in (None, "rl"):
        return strategy or "evolution", options
    controller = enas_options(run.method_options)["controller"]
    shape = {k: controller.get(k, ReinforceController.options[k]) for k in SHAPE}
    clash = sorted(k for k in shape if k in options and options[k] != shape[k])
    if clash or "init" in options:
        raise ConfigError(
            "strategy_options", f"{', '.join(clash) or 'init'}: the member search starts from the controller"
        )
    return "rl", {**shape, **options, "init": str((sdir / CONTROLLER_FILE).resolve())}


def check_member_strategy(run: SupernetRun, strategy: str, options: Mapping[str, Any]) -> None:
    """Build the member search's strategy (its policy not loaded yet) so that a bad option fails before
    the supernet trains."""
    make_strategy(
        strategy,
        SPACES[run.space](**run.space_options),
        **{k: v for k, v in options.items() if k != "init"},
    )


def run_oneshot(
    out: str | Path,
    run: SupernetRun,
    *,
    strategy: str | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    budget: str = "100trials",
    calib_batches: int = 4,
    resume: bool = False,
    device: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train the supernet of ``run`` in ``out/supernet``; SPOS and ENAS then search its members
    (``strategy``, default evolution for SPOS, for ENAS ``rl`` from the trained controller; ``budget``) in
    ``out/search``; DARTS / GDAS discretise α. Returns (and writes) ``result.json``."""
    out = Path(out)
    check_out(out, resume)
    sdir = out / "supernet"
    single_path = run.method in ("spos", "enas")
    if single_path:
        strategy, options = member_strategy(run, sdir, strategy, strategy_options)
        check_member_strategy(run, strategy, options)
    write_meta(sdir, run)  # on resume: ConfigError naming the first setting that differs
    trainer = open_trainer(sdir, run, load_data(run), device=device, progress=not quiet)
    trainer.fit()
    sn = trained_supernet(trainer)
    if isinstance(trainer, EnasTrainer):
        trainer.save_controller(sdir / CONTROLLER_FILE)
    result: dict[str, Any] = {
        "method": run.method,
        "space": run.space,
        "space_options": run.space_options,
        "supernet_epochs": trainer.epoch,
        "supernet_train_seconds": trainer.train_seconds,
        "supernet_history": trainer.history,
    }
    if isinstance(trainer.model, MixedSupernet):
        choices = trainer.model.choices()
    else:
        config = SearchConfig(
            space=run.space,
            space_options=dict(run.space_options),
            strategy=strategy,
            strategy_options=options,
            budget=budget,
            objective={"kind": "supernet", "supernet": str(sdir), "calib_batches": calib_batches},
            executor="inline",
            runs_dir=str(out),
            name="search",
            seed=int(run.train.get("seed", 0)),
            quiet=quiet,
        )
        sdone = (out / "search" / "config.json").is_file()
        search = open_search(config, resume=out / "search" if sdone else None)
        charge_supernet(search.ledger, trainer)
        try:
            execute(search)
        finally:
            search.close()
        best = read_json(search.dir / "best.json").get("best") or {}
        if not best.get("choices"):
            raise ValueError(f"search {search.dir} scored no member (see its trials.csv)")
        choices = sn.space.check(best["choices"])
        result["search"] = search.summary()
    genotype = sn.genotype_of(choices)
    (out / "genotype.json").write_text(genotype.to_json(indent=1) + "\n")
    result |= {"choices": choices, **op_counts(sn, choices), "genotype": str(out / "genotype.json")}
    if sn.space.has_notation:
        result["arch"] = sn.space.format_arch(choices)
    write_json(out / "result.json", result)
    return result
