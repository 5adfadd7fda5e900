"""control.py: what the live widget's browser view asks, answered through the widget.

The browser's messages are fed to ``control.handle`` as the widget manager
would; the answers are recorded from ``widget.send``. The real round trip
(JupyterLab, a click during a run) is in test_browser.py.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import dagron_nb as dagron
from dagron_nb import NodeStatus
from dagron_nb.notebook import control
from dagron_nb.notebook.live import LiveDAG, run_live

PATIENCE = 30.0  # hang guard


class Answers:
    """Records what the widget sends to the browser (custom messages)."""

    def __init__(self, live: LiveDAG, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[dict[str, Any]] = []
        monkeypatch.setattr(live, "send", lambda content, buffers=None: self.sent.append(content))

    def inspect(self, live: LiveDAG, name: str) -> str:
        control.handle(live, {"type": "inspect", "node": live.names.index(name), "id": 7})
        answer = self.sent.pop()
        assert answer["type"] == "inspection"
        assert answer["id"] == 7
        return str(answer["html"])


def test_inspector_answers_mid_run_and_after_with_escaped_html(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dag = dagron.DAG.builder().add_edge("rows", "<b>bad</b>").add_node("slow").build()
    live = LiveDAG(dag)
    answers = Answers(live, monkeypatch)
    release, seen_running, failed = threading.Event(), threading.Event(), threading.Event()
    html_mid_run: dict[str, str] = {}

    def slow() -> str:
        seen_running.set()
        assert release.wait(PATIENCE)
        return "late"

    def bad() -> None:
        print("checked the rows")
        raise ValueError("no <rows> & no luck")

    class Failed:
        def on_node_error(self, name: str, error: BaseException) -> None:
            failed.set()

    def inspect_while_slow_runs() -> None:
        assert seen_running.wait(PATIENCE)
        assert failed.wait(PATIENCE)
        html_mid_run["rows"] = answers.inspect(live, "rows")
        html_mid_run["slow"] = answers.inspect(live, "slow")
        release.set()

    threading.Thread(target=inspect_while_slow_runs).start()
    result = dagron.DAGExecutor(dag, callbacks=[live, Failed()], fail_fast=False).execute(
        {"rows": lambda: list(range(10_000)), "<b>bad</b>": bad, "slow": slow}
    )
    assert result["slow"].result == "late"
    assert "completed" in html_mid_run["rows"]
    assert "48, 49, ...]" in html_mid_run["rows"]  # summarised: not ten thousand numbers
    assert len(html_mid_run["rows"]) < 10_000
    assert "running" in html_mid_run["slow"]

    after = answers.inspect(live, "<b>bad</b>")
    assert "ValueError: no &lt;rows&gt; &amp; no luck" in after
    assert "<b>bad</b>" not in after  # the name is text, not markup
    assert "Traceback" in after
    assert "def bad()" in after  # the source


def test_hello_cancel_draw_and_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").build()
    live = LiveDAG(dag)
    answers = Answers(live, monkeypatch)
    control.handle(live, {"type": "hello"})
    assert live._viewed
    for nonsense in (None, "x", {"type": "inspect", "node": "zz"}, {"type": "inspect"}):
        control.handle(live, nonsense)  # logged, never raised
    assert answers.sent == [
        {"type": "inspection", "node": -1, "id": None, "html": answers.sent[0]["html"]}
    ]
    control.handle(live, {"type": "cancel"})
    assert live.cancel_event.is_set()
    live.max_layout_nodes = 1
    live.draw_anyway()
    assert live.wait_for_layout(PATIENCE)


def test_cancel_button_cancels_what_has_not_started(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = dagron.DAG.builder().add_edge("first", "second").add_node("other").build()
    started = threading.Event()
    live: LiveDAG | None = None
    seen: list[str] = []

    def first() -> int:
        started.set()
        assert live is not None
        control.handle(live, {"type": "cancel"})  # the Cancel button, mid-run
        seen.append(live._cancel_message())
        return 1

    import dagron_nb.notebook.live as live_module

    made = live_module.LiveDAG

    def keep(*args: Any, **kwargs: Any) -> LiveDAG:
        nonlocal live
        live = made(*args, **kwargs)
        return live

    monkeypatch.setattr(live_module, "LiveDAG", keep)
    result = run_live(dag, {"first": first, "second": int, "other": int}, max_workers=1)
    assert result["first"].status is NodeStatus.COMPLETED  # running tasks finish
    assert result["second"].status is NodeStatus.CANCELLED
    assert seen[0].startswith("cancelling")
    assert live is not None
    assert live.cancelling == ""  # the run is over
    assert not live.cancel_event.is_set()  # the next run is not cancelled


def test_critical_path_and_eta_from_the_last_run() -> None:
    dag = dagron.DAG.builder().add_edge("a", "b").add_edge("a", "c").add_edge("b", "d").build()
    live = LiveDAG(dag)
    gate = threading.Event()
    tasks = {"a": int, "b": lambda: gate.wait(0.05), "c": int, "d": int}
    dagron.DAGExecutor(dag, callbacks=live).execute(tasks)
    names = live.names
    assert [names[i] for i in live.critical] == ["a", "b", "d"]
    with live._state.lock:
        assert live._state.previous["b"] >= 0.04
    eta: list[float | None] = []

    def look() -> int:
        with live._state.lock:
            eta.append(live._state.eta_locked())
        return 1

    dagron.DAGExecutor(dag, callbacks=live).execute({**tasks, "a": look})
    assert eta[0] is not None
    assert eta[0] >= 0.04  # b is still to come


def test_a_new_widget_for_the_same_graph_has_an_eta() -> None:
    dag = dagron.DAG.builder().add_edge("fetch", "fit").build()
    tasks = {"fetch": lambda: threading.Event().wait(0.05), "fit": int}
    dagron.DAGExecutor(dag, callbacks=LiveDAG(dag)).execute(tasks)
    again = LiveDAG(dag)  # what the next %%dagron run of the cell makes
    eta: list[float | None] = []

    def fetch() -> int:
        with again._state.lock:
            eta.append(again._state.eta_locked())
        return 1

    dagron.DAGExecutor(dag, callbacks=again).execute({**tasks, "fetch": fetch})
    assert eta[0] is not None
    assert eta[0] >= 0.04
