"""``DaskExecutor``: a DAG run on a dask.distributed cluster at Dask's own speed.

The executor checks its input, picks the cluster (the user's client, or a
``LocalCluster`` of its own for one run) and hands the run to
``dask_driver.DaskDriver``, which submits the whole graph at once and follows
it through events the tasks send (the design note is that module's
docstring). What runs on the workers is ``dask_worker``; clusters dagron_nb
owns and stuck workers are ``dask_cluster``.

Workers need ``dagron_nb`` importable, as for any library your tasks use,
since the task wrapper is sent by reference.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeAlias

from dagron_nb.core.errors import ConfigurationError
from dagron_nb.core.graph import DAG
from dagron_nb.core.plan import cost_list, priority_ranks
from dagron_nb.core.results import ExecutionResult
from dagron_nb.execution import dask_cluster
from dagron_nb.execution.cache import ResultCache
from dagron_nb.execution.dask_driver import DaskDriver, Options, Stuck, check_calls
from dagron_nb.execution.outputs import output_positions
from dagron_nb.execution.run import Executor, Run, interrupt_with

# distributed is only partly annotated (mypy strict rejects calls to its
# untyped methods), so its client and futures are Any to us.
DaskClient: TypeAlias = Any

#: seconds a timed-out task may go on running before its worker is restarted
DEFAULT_STUCK_GRACE = 5.0


class DaskExecutor(Executor):
    """Run a DAG's tasks on a dask.distributed cluster, dependencies first.

    The whole graph goes to the scheduler at once (priorities from the bottom
    levels); callbacks, statuses, timings and workers follow the tasks as they
    really start and end on the workers. Semantics are ``DAGExecutor``'s.

    With ``client=None`` each ``execute`` starts a ``LocalCluster`` (one
    single-threaded worker *process* per core, or ``max_workers`` of them) and
    closes it afterwards: processes give CPU-bound Python code the parallelism
    threads cannot. In a script, start the run under ``if __name__ ==
    "__main__":``, as for any process pool. A ``client`` you pass is used as
    is and never closed; ``max_workers`` then keeps the run on workers with
    that many threads in all (Dask cannot cap a run's concurrency otherwise).

    A task still running ``stuck_grace`` seconds after its node timed out has
    its worker restarted when dagron_nb started the cluster (``client=None``,
    ``%%dagron --dask``, ``dask_cluster.local_client()``); on your own cluster
    you get a warning naming the worker instead.

    >>> import dagron_nb as dagron
    >>> from distributed import Client
    >>> client = Client(processes=False, dashboard_address=None)  # doctest: +SKIP
    >>> dag = dagron.DAG.builder().add_edge("a", "b").build()
    >>> dagron.DaskExecutor(dag, client=client).execute(
    ...     {"a": lambda: 1, "b": lambda: 2}
    ... ).succeeded  # doctest: +SKIP
    2
    """

    uses_cache = True  # it asks the result cache before submitting the graph

    def __init__(
        self,
        dag: DAG,
        client: DaskClient | None = None,
        max_workers: int | None = None,
        costs: Mapping[str, float] | None = None,
        callbacks: object = None,
        fail_fast: bool = True,
        enable_tracing: bool = False,
        hooks: object = None,
        *,
        cache: ResultCache | None = None,
        stuck_grace: float = DEFAULT_STUCK_GRACE,
    ) -> None:
        super().__init__(
            dag, max_workers, costs, callbacks, fail_fast, enable_tracing, hooks, cache=cache
        )
        distributed = dask_cluster.distributed()
        if client is not None:
            if not isinstance(client, distributed.Client):
                raise ConfigurationError(
                    f"client must be a distributed.Client, got {client!r}; "
                    "pass Client(address) or leave client=None for a LocalCluster."
                )
            if client.asynchronous:
                raise ConfigurationError(
                    "DaskExecutor needs a synchronous distributed.Client, got one made "
                    "with asynchronous=True; create it as Client(address)."
                )
        if not isinstance(stuck_grace, (int, float)) or not stuck_grace >= 0:
            raise ConfigurationError(
                f"stuck_grace must be a number of seconds >= 0, got {stuck_grace!r}."
            )
        self.client = client
        self.stuck_grace = float(stuck_grace)

    def execute(
        self,
        tasks: Mapping[str, Callable[[], Any] | None],
        timeout: float | None = None,
        cancel_event: threading.Event | None = None,
        *,
        node_timeouts: Mapping[str, float] | None = None,
        outputs: Iterable[str] | None = None,
        as_futures: bool = False,
        refresh_cache: bool | Collection[str] = False,
    ) -> ExecutionResult:
        """Run ``tasks`` (node name -> picklable callable taking no arguments).

        ``started_at`` / ``finished_at`` are measured on the workers and
        ``worker`` is the Dask worker's address. ``outputs`` names the nodes
        whose values come back to this process (None: all); the others stay
        on the cluster and are released there once their successors are done.
        ``as_futures=True`` leaves the outputs on the cluster too:
        ``result[name].result`` is then a ``distributed.Future``.

        With the executor's ``cache``, a node whose key is known before the
        graph is submitted (its predecessors all came from the cache: roots
        first) is a CACHE_HIT and never reaches the cluster; values that come
        back to this process are stored (values left on the cluster are not).
        """
        run = self.new_run(tasks, timeout, cancel_event, node_timeouts, refresh_cache=refresh_cache)
        calls = check_calls(run)
        wanted = _positions(run, outputs)
        if not isinstance(as_futures, bool):
            raise ConfigurationError(f"as_futures must be True or False, got {as_futures!r}.")
        # all input checked: only now may a cluster start
        client, own = self.client, self.client is None
        if client is None:
            client = dask_cluster.local_client(self.max_workers, dashboard=False)
        try:
            options = Options(
                outputs=wanted,
                as_futures=as_futures,
                workers=None if own else _restriction(client, self.max_workers),
                ranks=priority_ranks(run.dag.index(), cost_list(run.dag.index(), self.costs)),
                on_stuck=self._on_stuck(client),
            )
            driver = DaskDriver(run, client, calls, options)
            try:
                result = driver.execute()
            except BaseException as exc:
                if driver.partial is None:  # not a stop request: a crash
                    raise
                self.last_result = driver.partial
                raise interrupt_with(exc, driver.partial) from None
        finally:
            if own:
                dask_cluster.close_local_client(client)
        self.last_result = result
        return result

    def _on_stuck(self, client: DaskClient) -> Callable[[Stuck], str]:
        def on_stuck(stuck: Stuck) -> str:
            return dask_cluster.watch_stuck(
                client, stuck.name, stuck.token, stuck.node, stuck.worker, self.stuck_grace
            )

        return on_stuck


def _positions(run: Run, outputs: Iterable[str] | None) -> frozenset[int] | None:
    if outputs is None:
        return None
    return frozenset(output_positions(outputs, run.dag.index().position))


def _restriction(client: DaskClient, max_workers: int | None) -> list[str] | None:
    """Workers whose threads add up to at most ``max_workers`` (None: all of them).

    Dask has no per-run concurrency cap, so ``max_workers`` is met by keeping
    the run on a subset of the workers (preferred, not required: if they all
    leave, the others take over).
    """
    if max_workers is None:
        return None
    threads: dict[str, int] = client.nthreads()
    if sum(threads.values()) <= max_workers:
        return None
    chosen, total = [], 0
    for worker, n in sorted(threads.items(), key=lambda item: (item[1], item[0])):
        if total + n <= max_workers:
            chosen.append(worker)
            total += n
    if not chosen:
        fewest = min(threads.values(), default=math.inf)
        raise ConfigurationError(
            f"max_workers={max_workers} is fewer than the threads of any Dask worker "
            f"(at least {fewest}); a run can only be kept to whole workers. Start workers "
            "with fewer threads (--nthreads), or leave max_workers=None."
        )
    return chosen
