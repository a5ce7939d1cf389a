"""A real proxy search: NASNet space, CIFAR-10 JPEGs, the tiny preset (cut down further: a few hundred images,
one epoch, 16 px), through Ray Tune on 2 CPUs; interrupted with Ctrl-C after its first trial and resumed.

Slow (minutes on a 2-core machine): ``python -m pytest -m slow tests/test_search_proxy.py``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from shared_data import CIFAR_TAR as DATA
from shared_data import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DATA is None, reason="shared CIFAR-10 JPEGs not available"),
]

TINY = [
    "--preset",
    "tiny",
    "--set",
    "train_subset=256",
    "--set",
    "val_size=128",
    "--set",
    "epochs=1",
    "--set",
    "batch_size=64",
    "--set",
    "image_size=16",
]


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nas.cli", *args]


def test_proxy_search_through_ray_interrupted_and_resumed(tmp_path) -> None:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    run = tmp_path / "proxy"
    search = _cmd(
        "search",
        "--space",
        "nasnet",
        "--strategy",
        "evolution",
        "--budget",
        "4trials",
        "--objective",
        "train",
        "--data-dir",
        str(DATA),
        *TINY,
        "--executor",
        "ray",
        "--num-cpus",
        "2",
        "--cpus-per-trial",
        "1",
        "--out",
        str(run),
        "--quiet",
    )
    proc = subprocess.Popen(
        search, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    csv = run / "trials.csv"
    t0 = time.time()
    while time.time() - t0 < 900:
        if csv.exists() and csv.read_text().count("\n") >= 2:  # header + one finished trial
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("no trial finished in 15 minutes")
    os.kill(proc.pid, signal.SIGINT)  # Ctrl-C: Tune stops the running trials, the run stays resumable
    out, err = proc.communicate(timeout=300)
    first = pd.read_csv(csv)
    if len(first) < 4:
        assert proc.returncode == 130, (out, err)
        assert "interrupted" in out

    resumed = subprocess.run(
        _cmd("search", "--resume", str(run), "--quiet"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert resumed.returncode == 0, resumed.stderr
    df = pd.read_csv(csv)
    assert len(df) == 4 and df.trial_id.is_unique
    kept = first.merge(df, on="trial_id", suffixes=("", "_after"))
    assert len(kept) == len(first) and (kept.key == kept.key_after).all()  # finished trials: once, unchanged
    ok = df[df.status == "ok"]
    assert len(ok) >= 3, df[["trial_id", "status", "error"]]
    assert ok.score.between(0, 100).all() and (ok.epochs == 1).all()
    assert (ok.params > 1_000_000).all() and (
        ok.macs > 0
    ).all()  # the architecture as searched, not the proxy
    assert df[~df.cached].node_id.str.fullmatch(r"[0-9a-f]{56}").all()
    metrics = json.loads(ok.iloc[0].metrics)
    assert metrics["preset"] == "tiny" and metrics["proxy_params"] < ok.iloc[0].params
    best = json.loads((run / "best.json").read_text())
    assert best["best"]["score"] == ok.score.max() and best["best"]["genotype"]["kind"] == "network"
    ledger = json.loads((run / "ledger.json").read_text())
    assert ledger["trials"] == 4 and ledger["cpu_hours"] > 0 and ledger["sessions"] == 2
    # one Tune experiment per session, beside Ray's own temp dir (its logs stay in the run: ray/tmp)
    assert sorted(p.name for p in (run / "ray").iterdir()) == ["session-1", "session-2", "tmp"]
