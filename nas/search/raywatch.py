"""The processes of a local Ray end with the driver that started them, even when it is SIGKILLed.

Ray fate-shares its GCS server and raylet with the driver (they die with it), but the processes those
start — workers, the dashboard agent, the runtime-env agent, the API server, the log monitor — notice only
later (tens of seconds). So the driver marks the processes of its Ray with an environment variable
(:data:`MARK`, inherited from the driver: it is set while ``ray.init`` starts the head; the agents, which
the raylet starts with an environment of its own, are known by the files they hold open in the Ray
session directory) and starts a watchdog, ``python -m nas.search.raywatch DRIVER_PID TOKEN RUN RAY_TMP``,
in a session of its own: when the driver is gone it sends SIGTERM, then SIGKILL after :data:`GRACE_S`, to
each of them. The
driver's normal shutdown :func:`sweep`s the same way and stops the watchdog. Linux only (``/proc``);
elsewhere :func:`start` returns None and Ray's own (slower) clean-up applies.

A node failure: when the local node dies (an agent or the raylet killed), Ray's core ends the driver
process itself (exit status 1, no Python exception to catch). The watchdog, which shares the driver's
stderr, then finds that in the driver's Ray log and prints the one line a user needs: what happened and
the resume command.
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: the environment variable marking a run's Ray processes (value: the run's token)
MARK = "NAS_RAY_OWNER"
POLL_S = 0.2
GRACE_S = 2.0


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (None: no such process), so a reused pid is not mistaken."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie has ended: only its entry is left


def session_dirs(pid: int, ray_tmp: str | None) -> list[str]:
    """The Ray session directories driver ``pid`` started (Ray names them ``session_<time>_<pid>``)."""
    return glob.glob(f"{ray_tmp or '/tmp/ray'}/session_*_{pid}")


def _holds_open(entry: Path, roots: Sequence[str]) -> bool:
    try:
        fds = list((entry / "fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if any(target.startswith(r + "/") for r in roots):
            return True
    return False


def marked(token: str, roots: Sequence[str] = ()) -> list[int]:
    """The pids of the live processes whose ``MARK`` starts with ``token`` or that hold a file open under
    one of ``roots`` (the run's Ray session directories); this process excluded."""
    needle = f"{MARK}={token}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if any(v.startswith(needle) for v in env.split(b"\0")) or (roots and _holds_open(entry, roots)):
            out.append(int(entry.name))
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def sweep(token: str, roots: Sequence[str] = (), grace_s: float = GRACE_S) -> int:
    """End every process :func:`marked` by ``token`` / ``roots``: SIGTERM, SIGKILL those left after
    ``grace_s``. Returns how many there were."""
    pids = marked(token, roots)
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and marked(token, roots):
        time.sleep(0.05)
    left = marked(token, roots)
    _signal(left, signal.SIGKILL)
    return len(pids)


def start(token: str, run: Path, ray_tmp: str | None) -> subprocess.Popen | None:
    """A watchdog that sweeps ``token``'s processes when this process ends and reports a node failure of
    the run in ``run`` (Ray's session under ``ray_tmp``, None: Ray's default); None where there is no
    ``/proc``."""
    if not Path("/proc/self/environ").exists():
        return None
    env = {k: v for k, v in os.environ.items() if k != MARK}
    return subprocess.Popen(
        [sys.executable, "-m", "nas.search.raywatch", str(os.getpid()), token, str(run), ray_tmp or ""],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # not in the driver's process group: a group kill leaves it to clean up
    )


def stop(watchdog: subprocess.Popen | None) -> None:
    if watchdog is not None and watchdog.poll() is None:
        watchdog.terminate()
        watchdog.wait()


#: in the run's ray/: the driver reported the node failure itself (the watchdog need not)
NODE_LOST_FILE = "node-lost"
#: what Ray's core logs when it ends the driver because its node is gone
_NODE_LOST = ("Terminate the process", "raylet has died", "Raylet is terminated")


def ended_by_ray(pid: int, ray_tmp: str) -> bool:
    """Whether Ray's core ended driver ``pid`` (its node failed), from the driver's log in its session."""
    for log in glob.glob(f"{ray_tmp or '/tmp/ray'}/session_*_{pid}/logs/python-core-driver-*_{pid}.log"):
        try:
            with open(log, "rb") as f:
                f.seek(max(0, os.path.getsize(log) - 4096))
                tail = f.read().decode(errors="replace")
        except OSError:
            continue
        if any(s in tail for s in _NODE_LOST):
            return True
    return False


def node_failure_message(run: str) -> str:
    return (
        f"nas: error: the search's Ray node failed and Ray ended the search (exit 1); every finished trial "
        f"is in {run} (Ray's logs: {run}/ray/); continue with `nas search --resume {run}`"
    )


def watch(pid: int, token: str, run: str = "", ray_tmp: str = "") -> None:
    """Wait for ``pid`` to end, :func:`sweep` ``token``, and say so if Ray ended it (a node failure)."""
    born = _start_time(pid)
    while born is not None and _start_time(pid) == born:
        time.sleep(POLL_S)
    roots = session_dirs(pid, ray_tmp)
    sweep(token, roots)
    reported = Path(run, "ray", NODE_LOST_FILE).exists() if run else True
    if not reported and ended_by_ray(pid, ray_tmp):
        print(node_failure_message(run), file=sys.stderr, flush=True)
    time.sleep(GRACE_S)  # a worker the raylet was starting as the driver died
    sweep(token, roots)


if __name__ == "__main__":
    watch(int(sys.argv[1]), *sys.argv[2:5])
