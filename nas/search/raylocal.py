"""Connecting a search to Ray, and what a local Ray leaves behind.

A local Ray (no ``--address``) is started with the dashboard off, its session directory — logs included —
in the run directory (``ray/tmp/``; Ray's Unix sockets live there too, so when that path is too long for a
socket address Ray is given a short symlink to it, ``$TMPDIR/nas-ray-<hash>``), and a watchdog that ends
its processes with the driver (:mod:`nas.search.raywatch`). Ray's own messages (a worker that died, …)
are the trials table's business: they go to ``ray/errors.log`` in the run directory, and to stderr too
unless the run is ``--quiet`` — never to stdout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nas.core.errors import ConfigError
from nas.search import raywatch
from nas.search.driver import Search

#: Linux's limit on a Unix socket path, less what Ray appends to its temp dir
#: (``/session_2026-01-01_00-00-00_000000_12345/sockets/plasma_store``)
_SOCKET_ROOM = 107 - 62


def temp_dir(search: Search) -> str | None:
    """Where the local Ray keeps its session: the run's ``ray/tmp``, or a short symlink to it (None: Ray's
    default, where no symlink can be made)."""
    path = (search.dir / "ray" / "tmp").resolve()
    path.mkdir(parents=True, exist_ok=True)
    if len(str(path)) <= _SOCKET_ROOM:
        return str(path)
    link = Path(tempfile.gettempdir()) / f"nas-ray-{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
    try:
        if link.is_symlink() and Path(os.readlink(link)) != path:
            link.unlink()
        if not link.is_symlink():
            link.symlink_to(path, target_is_directory=True)
    except OSError:
        return None
    return str(link) if len(str(link)) <= _SOCKET_ROOM else None


def _route_messages(search: Search) -> None:
    """Ray prints the errors it pushes to the driver (a worker died, …) on stdout: send them to
    ``ray/errors.log`` and, unless quiet, stderr."""
    import ray._private.worker as ray_worker  # heavy: imported only when the Ray executor runs

    log = search.dir / "ray" / "errors.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    quiet = search.config.quiet

    def to_log(data: dict[str, Any], ignore_prefix: bool) -> None:
        lines = [str(x) for x in data.get("lines", [])]
        with open(log, "a") as f:
            f.writelines(f"({data.get('pid', '')}) {line}\n" for line in lines)
        if not quiet:
            ray_worker.print_worker_logs(data, sys.stderr, ignore_prefix)

    ray_worker.print_to_stdstream = to_log


def _raylet() -> Any:
    """The ``Popen`` of the local raylet this driver started (None if unknown)."""
    import ray._private.worker as ray_worker  # heavy: imported only when the Ray executor runs

    node = getattr(ray_worker, "_global_node", None)
    infos = getattr(node, "all_processes", {}).get("raylet") or []
    return getattr(infos[0], "process", None) if infos else None


def _watch_node(search: Search, stop: threading.Event) -> None:
    """A daemon thread: when the local raylet dies under a running search (a node failure), say so in
    one line and end the driver (exit 1), rather than leave it to Ray — which ends the driver without a
    word, or leaves it waiting for a node that is gone."""
    raylet = _raylet()
    if raylet is None:
        return

    def watch() -> None:
        while not stop.wait(0.5):
            if raylet.poll() is not None and not stop.is_set():
                (search.dir / "ray" / raywatch.NODE_LOST_FILE).write_text("the local Ray node failed\n")
                print(raywatch.node_failure_message(str(search.dir.resolve())), file=sys.stderr, flush=True)
                os._exit(1)  # every finished trial is on disk (appended and fsynced as it finished)

    threading.Thread(target=watch, name="nas-node-watch", daemon=True).start()


@contextmanager
def connected(search: Search) -> Iterator[bool]:
    """Connect to (or start) Ray for ``search``; yields True when it started a local Ray, which it shuts
    down (and sweeps) on exit."""
    import ray  # heavy: imported only when the Ray executor runs

    if ray.is_initialized():
        yield False
        return
    cfg = search.config
    quiet = dict(log_to_driver=False, configure_logging=True, logging_level=logging.ERROR)
    if cfg.quiet:
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)  # a failed trial is a row, not a traceback
    if cfg.address:
        try:
            ray.init(address=cfg.address, **quiet)
        except ConnectionError as e:
            raise ConfigError("address", f"cannot join the Ray cluster at {cfg.address!r}: {e}") from None
        _route_messages(search)
        try:
            yield True
        finally:
            ray.shutdown()
        return
    token = f"{search.dir.resolve()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    (search.dir / "ray" / raywatch.NODE_LOST_FILE).unlink(missing_ok=True)  # an earlier session's
    watchdog = raywatch.start(token, search.dir.resolve(), temp_dir(search))
    os.environ[raywatch.MARK] = token  # inherited by every process of this Ray, then taken back
    try:
        # "local": always a fresh instance of our own, never a cluster someone else started on this machine.
        ray.init(
            address="local",
            num_cpus=cfg.num_cpus,
            include_dashboard=False,
            _temp_dir=temp_dir(search),
            **quiet,
        )
    finally:
        os.environ.pop(raywatch.MARK, None)
    _route_messages(search)
    stop = threading.Event()
    _watch_node(search, stop)
    try:
        yield True
    finally:
        stop.set()
        ray.shutdown()
        tmp = temp_dir(search)
        raywatch.sweep(token, raywatch.session_dirs(os.getpid(), tmp))
        raywatch.stop(watchdog)
        if tmp and Path(tmp).is_symlink():  # the short alias of ray/tmp (a killed run's is reused on resume)
            Path(tmp).unlink()


def session_logs(search: Search) -> Path:
    """Where Ray's logs of this run are."""
    return search.dir / "ray" / "tmp" if temp_dir(search) else Path("/tmp/ray")
