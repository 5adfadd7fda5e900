"""The Dask cluster behind ``%%dagron --dask``, one per kernel.

``%%dagron --dask`` with no address runs on a ``LocalCluster`` of worker
processes that dagron_nb starts on first use and reuses for every later cell
(workers keep their imports warm; a worker stuck in a timed-out task is
restarted, since dagron_nb owns the cluster); ``%%dagron --dask ADDRESS``
connects once to that scheduler and reuses the connection. Everything is
closed when the kernel exits. The local cluster's own log lines are silenced
below warnings, so cell output shows only what matters for the run.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from dagron_nb.execution import dask_cluster

logger = logging.getLogger("dagron_nb")

_clients: dict[str, Any] = {}  # "" for the local cluster, else the address
_lock = threading.Lock()


def dask_client(address: str = "") -> Any:
    """The kernel's client for ``address`` ("" : the kernel's own LocalCluster)."""
    with _lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        if address:
            client = dask_cluster.distributed().Client(address)
        else:
            client = dask_cluster.local_client()
        if not _clients:
            atexit.register(close_all)
        _clients[address] = client
        return client


def close_all() -> None:
    """Close every client (and the local cluster) this kernel opened."""
    with _lock:
        clients = dict(_clients)
        _clients.clear()
    for address, client in clients.items():
        try:
            if address:
                client.close()
            else:
                dask_cluster.close_local_client(client)
        except Exception:  # the kernel is going away: a slow close is not worth a traceback
            logger.debug("closing the Dask client for %r failed", address, exc_info=True)
