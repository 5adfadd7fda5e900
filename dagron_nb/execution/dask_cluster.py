"""Clusters that dagron_nb starts for itself, and what it does with stuck workers.

``local_client()`` starts a ``LocalCluster`` of worker *processes* (with nannies,
so single workers can be restarted) and remembers that dagron_nb owns it.
On such a cluster a task still running ``grace`` seconds after its node timed
out gets its worker restarted (``client.restart_workers``), so later runs do not
queue behind it; on a cluster the user brought, dagron_nb only warns, naming
the worker, since restarting it would lose other people's data.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from dagron_nb.core.extras import optional_import

logger = logging.getLogger("dagron_nb")

PURPOSE = "DaskExecutor (running a DAG on a dask.distributed cluster)"
_RPC_TIMEOUT = 5.0  # seconds a call to every worker may take before we go on without it

_rpc = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="dagron-dask")
#: clients whose cluster dagron_nb started (their workers may be restarted)
_OWNED: weakref.WeakSet[Any] = weakref.WeakSet()


def distributed() -> Any:
    return optional_import("distributed", purpose=PURPOSE)


def owns(client: Any) -> bool:
    """Did dagron_nb start this client's cluster (so it may restart its workers)?"""
    return client in _OWNED


def local_client(n_workers: int | None = None, *, dashboard: bool = True) -> Any:
    """A client of a new ``LocalCluster``: one single-threaded worker process per core.

    dagron_nb owns the cluster: a worker stuck in a timed-out task is restarted.
    Close it with ``close_local_client(client)``.
    """
    cluster = distributed().LocalCluster(
        n_workers=n_workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        # a free port rather than 8787, which another cluster may hold
        dashboard_address=":0" if dashboard else None,
        scheduler_kwargs={} if dashboard else {"dashboard": False},
    )
    try:
        client = distributed().Client(cluster)
    except BaseException:
        cluster.close()
        raise
    _OWNED.add(client)
    return client


def close_local_client(client: Any) -> None:
    """Close a ``local_client()`` without waiting long for tasks left running.

    A worker process still stuck in a timed-out task holds a plain ``close()``
    for about 4 s (its nanny's default grace period); closing each nanny with a
    1 s timeout kills such a process after 0.8 s. Idle workers close at once.
    """
    cluster = client.cluster

    async def close_workers() -> None:
        await asyncio.gather(*(w.close(timeout=1.0) for w in list(cluster.workers.values())))

    try:
        cluster.sync(close_workers)
    except Exception:  # the run's result matters more than a slow shutdown
        logger.warning("could not close the LocalCluster's workers quickly", exc_info=True)
    client.close()
    cluster.close()


def dashboard_link(client: Any) -> str | None:
    """The URL of the cluster's dashboard, or None when it has none."""
    try:
        link = client.dashboard_link
    except Exception:
        return None
    return str(link) if link else None


def call_workers(client: Any, fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
    """``client.run(fn, *args)`` on every worker; None if it failed or took too long.

    A worker that raised is left out of the answer.
    """
    job = _rpc.submit(client.run, fn, *args, on_error="return")
    try:
        replies = job.result(timeout=_RPC_TIMEOUT)
    except Exception as exc:  # includes the timeout: a lost scheduler must not hang us
        logger.warning("could not reach the Dask workers (%s: %s)", type(exc).__name__, exc)
        return None
    return {w: r for w, r in replies.items() if not isinstance(r, BaseException)}


def watch_stuck(
    client: Any, name: str, token: str, node: int, worker: str | None, grace: float
) -> str:
    """Check in ``grace`` s whether a timed-out node's task still runs on ``worker``.

    Returns what the run's result should say about it (the check happens later).
    """
    if worker is None:
        return "its task never reported a worker"
    timer = threading.Timer(grace, _check_stuck, args=(client, name, token, node, worker))
    timer.name = f"dagron-stuck-{name}"
    timer.daemon = True
    timer.start()
    if owns(client):
        return (
            f"its task may still occupy worker {worker}, which is restarted if the task "
            f"still runs {grace:g} s after the timeout"
        )
    return (
        f"its task may still occupy worker {worker}; this cluster was not started by "
        f"dagron_nb, so it is left alone: call client.restart_workers([{worker!r}]) "
        "if it stays busy"
    )


def _check_stuck(client: Any, name: str, token: str, node: int, worker: str) -> None:
    from dagron_nb.execution.dask_worker import still_running

    try:
        job = _rpc.submit(client.run, still_running, token, node, workers=[worker])
        if job.result(timeout=_RPC_TIMEOUT).get(worker) is not True:
            return
        if not owns(client):
            logger.warning(
                "node %r still runs on Dask worker %s after its timeout: that worker thread "
                "stays busy until the task returns. dagron_nb does not restart workers of a "
                "cluster it did not start; call client.restart_workers([%r]) to free it.",
                name,
                worker,
                worker,
            )
            return
        logger.warning(
            "node %r still runs on Dask worker %s after its timeout and grace period: "
            "restarting that worker so that later runs are not blocked",
            name,
            worker,
        )
        client.restart_workers([worker], timeout=30, raise_for_error=False)
    except Exception:  # a closed client, a worker gone meanwhile: nothing left to do
        logger.debug("checking the stuck node %r failed", name, exc_info=True)
