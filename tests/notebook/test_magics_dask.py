"""``%%dagron --dask``: the cell's pipeline on the kernel's own LocalCluster.

Driven through IPython's testing shell. The kernel-wide cluster (worker
processes, started on first use) serves both tests and is closed at the end,
as ``atexit`` would at kernel exit.
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("distributed", reason="%%dagron --dask needs dask[distributed]")

from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

from dagron_nb import ExecutionResult, NodeStatus
from dagron_nb.execution import dask_cluster
from dagron_nb.notebook import dask_session
from dagron_nb.notebook.live import LiveDAG

pytestmark = pytest.mark.slow  # starts a LocalCluster of worker processes

CELL = """
def numbers():
    return [1, 2, 3]

def total(numbers):
    import os
    return sum(numbers), os.getpid()
"""


@pytest.fixture(scope="module")
def shell() -> Iterator[Any]:
    ip = globalipapp.get_ipython()
    ip.run_line_magic("load_ext", "dagron_nb")
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]
    dask_session.close_all()


def test_a_cell_runs_on_the_kernels_cluster_reused_across_cells(
    shell: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), capture_output() as out:
        shell.run_cell_magic("dagron", "--dask --no-live -o first", textwrap.dedent(CELL))
    first = shell.user_ns["first"]
    assert isinstance(first, ExecutionResult)
    assert first.statuses == [NodeStatus.COMPLETED] * 2
    total, pid = first["total"].result
    assert total == 6
    assert first["total"].worker.startswith("tcp://")
    client = dask_session.dask_client()
    assert dask_cluster.owns(client)  # dagron_nb started it: stuck workers are restarted
    assert pid in client.run(os.getpid).values()  # a worker process ran it
    # the cell shows the run, not distributed's log lines
    assert "distributed." not in out.stdout + out.stderr

    shell.run_cell_magic("dagron", "--dask --no-live -o second", textwrap.dedent(CELL))
    assert shell.user_ns["second"].ok
    assert dask_session.dask_client() is client  # the same cluster, not a new one


def test_the_live_widget_links_the_dask_dashboard(shell: Any, monkeypatch: Any) -> None:
    shown: list[LiveDAG] = []
    original = LiveDAG.show

    def show(self: LiveDAG, *args: Any, **kwargs: Any) -> Any:
        shown.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LiveDAG, "show", show)
    with capture_output():
        shell.run_cell_magic("dagron", "--dask -o third", textwrap.dedent(CELL))
    assert shell.user_ns["third"].ok
    link = dask_cluster.dashboard_link(dask_session.dask_client())
    assert link
    assert link.startswith("http")
    assert shown[0].dashboard_link == link
