"""CallbackFanout (both callback styles, lists, fallbacks, raising callbacks) and hooks."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dagron_nb import DAG, ExecutionCallbacks, HookContext, HookEvent, HookRegistry
from dagron_nb.core.callbacks import CallbackFanout


class FourMethods:
    """The spec's four callback methods, nothing else."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def on_node_start(self, name: str) -> None:
        self.seen.append(("start", name))

    def on_node_complete(self, name: str, result: Any) -> None:
        self.seen.append(("complete", name, result))

    def on_node_error(self, name: str, error: BaseException) -> None:
        self.seen.append(("error", name, type(error).__name__))

    def on_node_skip(self, name: str) -> None:
        self.seen.append(("skip", name))


class AllMethods(FourMethods):
    def on_node_timeout(self, name: str, error: BaseException) -> None:
        self.seen.append(("timeout", name))

    def on_node_cancel(self, name: str) -> None:
        self.seen.append(("cancel", name))

    def on_run_start(self, dag: DAG) -> None:
        self.seen.append(("run_start", str(dag.node_count())))

    def on_run_end(self, result: Any) -> None:
        self.seen.append(("run_end", result))


def fire_all(fanout: CallbackFanout) -> None:
    fanout.call(fanout.run_start, DAG().add_nodes(["x"]))
    fanout.call(fanout.start, "a")
    fanout.call(fanout.complete, "a", 1)
    fanout.call(fanout.error, "b", ValueError())
    fanout.call(fanout.skip, "c")
    fanout.call(fanout.timeout, "d", TimeoutError())
    fanout.call(fanout.cancel, "e")
    fanout.call(fanout.run_end, "R")


def test_object_with_every_method() -> None:
    obj = AllMethods()
    fanout = CallbackFanout(obj)
    assert fanout.objects == [obj]
    assert fanout.node_events
    fire_all(fanout)
    assert obj.seen == [
        ("run_start", "1"),
        ("start", "a"),
        ("complete", "a", 1),
        ("error", "b", "ValueError"),
        ("skip", "c"),
        ("timeout", "d"),
        ("cancel", "e"),
        ("run_end", "R"),
    ]


def test_spec_methods_hear_timeouts_as_errors_and_cancels_as_skips() -> None:
    obj = FourMethods()
    fire_all(CallbackFanout(obj))
    assert obj.seen == [
        ("start", "a"),
        ("complete", "a", 1),
        ("error", "b", "ValueError"),
        ("skip", "c"),
        ("error", "d", "TimeoutError"),
        ("skip", "e"),
    ]


def test_execution_callbacks_dataclass() -> None:
    seen: list[tuple[str, ...]] = []
    cb = ExecutionCallbacks(
        on_start=lambda n: seen.append(("start", n)),
        on_complete=lambda n, r: seen.append(("complete", n, r)),
        on_failure=lambda n, e: seen.append(("failure", n, type(e).__name__)),
        on_skip=lambda n: seen.append(("skip", n)),
    )
    fire_all(CallbackFanout(cb))
    assert seen == [
        ("start", "a"),
        ("complete", "a", 1),
        ("failure", "b", "ValueError"),
        ("skip", "c"),
        ("failure", "d", "TimeoutError"),
        ("skip", "e"),
    ]


def test_execution_callbacks_with_some_fields() -> None:
    seen: list[str] = []
    cb = ExecutionCallbacks(on_complete=lambda n, r: seen.append(n))
    assert cb.on_node_complete is cb.on_complete
    with pytest.raises(AttributeError):
        cb.on_node_start  # noqa: B018 - the missing field reads as a missing method
    fanout = CallbackFanout(cb)
    fire_all(fanout)
    assert seen == ["a"]
    assert fanout.start == []
    assert fanout.skip == []


def test_lists_of_callbacks_combine_in_order() -> None:
    order: list[str] = []

    class One:
        def on_node_start(self, name: str) -> None:
            order.append("one")

    class Two:
        def on_node_start(self, name: str) -> None:
            order.append("two")

    three = ExecutionCallbacks(on_start=lambda n: order.append("three"))
    fanout = CallbackFanout([One(), [Two(), None], (three,)])
    assert len(fanout.objects) == 3
    fanout.call(fanout.start, "a")
    assert order == ["one", "two", "three"]
    assert CallbackFanout([None, three]).objects == [three]
    assert CallbackFanout(None).objects == []


def test_no_callbacks_means_no_node_events() -> None:
    assert not CallbackFanout(None).node_events
    assert not CallbackFanout([]).node_events

    class RunOnly:
        def on_run_end(self, result: Any) -> None:
            pass

    assert not CallbackFanout(RunOnly()).node_events


def test_an_object_without_any_callback_method_is_refused() -> None:
    with pytest.raises(TypeError, match=r"has none of the callback methods .*ExecutionCallbacks"):
        CallbackFanout(object())
    with pytest.raises(TypeError, match=r"callbacks object 'oops'"):
        CallbackFanout([FourMethods(), "oops"])


def test_non_callable_attributes_are_ignored() -> None:
    class Half:
        on_node_start = "not a function"

        def on_node_skip(self, name: str) -> None:
            pass

    fanout = CallbackFanout(Half())
    assert fanout.start == []
    assert len(fanout.skip) == 1


def test_raising_callback_is_logged_and_the_next_one_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after: list[str] = []

    class Boom:
        def on_node_start(self, name: str) -> None:
            raise RuntimeError(f"callback broke on {name}")

    fanout = CallbackFanout([Boom(), ExecutionCallbacks(on_start=after.append)])
    with caplog.at_level(logging.ERROR, logger="dagron_nb"):
        fanout.call(fanout.start, "a")
    assert after == ["a"]
    (record,) = caplog.records
    assert "raised; the run goes on" in record.getMessage()
    assert record.exc_info is not None
    assert "callback broke on a" in str(record.exc_info[1])


# -- hooks ------------------------------------------------------------------------------
def test_hook_events_have_the_original_names() -> None:
    assert [e.name for e in HookEvent] == [
        "PRE_EXECUTE",
        "POST_EXECUTE",
        "PRE_NODE",
        "POST_NODE",
        "ON_ERROR",
    ]


def test_hooks_run_by_priority_then_registration_order() -> None:
    hooks = HookRegistry()
    order: list[str] = []
    hooks.register(HookEvent.PRE_NODE, lambda ctx: order.append("low"), priority=-5)
    hooks.register(HookEvent.PRE_NODE, lambda ctx: order.append("first-0"))
    hooks.register(HookEvent.PRE_NODE, lambda ctx: order.append("high"), priority=10)
    hooks.register(HookEvent.PRE_NODE, lambda ctx: order.append("second-0"))
    hooks.register(HookEvent.POST_NODE, lambda ctx: order.append("other event"))
    hooks.fire(HookContext(HookEvent.PRE_NODE, None, "a"))
    assert order == ["high", "first-0", "second-0", "low"]
    assert len(hooks.handlers(HookEvent.PRE_NODE)) == 4


def test_unregister() -> None:
    hooks = HookRegistry()
    seen: list[str | None] = []
    unregister = hooks.register(HookEvent.PRE_NODE, lambda ctx: seen.append(ctx.node_name))
    hooks.fire(HookContext(HookEvent.PRE_NODE, None, "a"))
    unregister()
    unregister()  # twice is harmless
    hooks.fire(HookContext(HookEvent.PRE_NODE, None, "b"))
    assert seen == ["a"]
    assert hooks.handlers(HookEvent.PRE_NODE) == []


def test_same_handler_registered_twice_runs_twice_and_unregisters_once() -> None:
    hooks = HookRegistry()
    seen: list[int] = []

    def handler(ctx: HookContext) -> None:
        seen.append(1)

    first = hooks.register(HookEvent.PRE_NODE, handler)
    hooks.register(HookEvent.PRE_NODE, handler)
    hooks.fire(HookContext(HookEvent.PRE_NODE, None, "a"))
    first()
    hooks.fire(HookContext(HookEvent.PRE_NODE, None, "a"))
    assert seen == [1, 1, 1]


def test_register_checks_its_arguments() -> None:
    hooks = HookRegistry()
    with pytest.raises(TypeError, match=r"event must be a HookEvent, got 'pre_node'; use one of"):
        hooks.register("pre_node", lambda ctx: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"hook handler must be callable, got 3"):
        hooks.register(HookEvent.PRE_NODE, 3)  # type: ignore[arg-type]


def test_raising_hook_is_logged_and_later_hooks_run(caplog: pytest.LogCaptureFixture) -> None:
    hooks = HookRegistry()
    seen: list[str] = []

    def broken(ctx: HookContext) -> None:
        raise ValueError("hook broke")

    hooks.register(HookEvent.ON_ERROR, broken, priority=1)
    hooks.register(HookEvent.ON_ERROR, lambda ctx: seen.append("ran"))
    with caplog.at_level(logging.ERROR, logger="dagron_nb"):
        hooks.fire(HookContext(HookEvent.ON_ERROR, None, "a", error=ValueError()))
    assert seen == ["ran"]
    assert "raised on ON_ERROR; the run goes on" in caplog.records[0].getMessage()


def test_hook_callbacks_translate_run_events_into_contexts() -> None:
    hooks = HookRegistry()
    contexts: list[HookContext] = []
    for event in HookEvent:
        hooks.register(event, contexts.append)
    dag = DAG().add_nodes(["a"])
    cb = hooks.callbacks_for(dag)
    fanout = CallbackFanout(cb)
    err = ValueError("x")
    fanout.call(fanout.run_start, dag)
    fanout.call(fanout.start, "a")
    fanout.call(fanout.complete, "a", 5)
    fanout.call(fanout.error, "b", err)
    fanout.call(fanout.skip, "c")  # hooks have no skip event
    fanout.call(fanout.run_end, "R")
    assert [(c.event, c.node_name, c.result, c.error) for c in contexts] == [
        (HookEvent.PRE_EXECUTE, None, None, None),
        (HookEvent.PRE_NODE, "a", None, None),
        (HookEvent.POST_NODE, "a", 5, None),
        (HookEvent.ON_ERROR, "b", None, err),
        (HookEvent.POST_NODE, "b", None, err),
        (HookEvent.POST_EXECUTE, None, "R", None),
    ]
    assert all(c.dag is dag for c in contexts)
    with pytest.raises(AttributeError):
        contexts[0].node_name = "x"  # type: ignore[misc]
