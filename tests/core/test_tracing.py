"""ExecutionTrace: recording, per-node queries and the Chrome Trace Event Format export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dagron_nb import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType


def sample_trace() -> ExecutionTrace:
    trace = ExecutionTrace()
    trace.record(T.RUN_STARTED, None, 0.0)
    trace.record(T.NODE_STARTED, "a", 0.001, worker="w0")
    trace.record(T.NODE_STARTED, "b", 0.002, worker="w1")
    trace.record(T.NODE_COMPLETED, "a", 0.5, worker="w0")
    trace.record(T.NODE_FAILED, "b", 0.25, worker="w1", detail="ValueError: boom")
    trace.record(T.NODE_SKIPPED, "c", 0.25, detail="upstream 'b' failed")
    trace.record(T.NODE_CANCELLED, "d", 0.3, detail="cancelled: cancel_event was set")
    trace.record(T.RUN_FINISHED, None, 0.6)
    return trace


def by_phase(chrome: dict[str, Any], ph: str) -> list[dict[str, Any]]:
    return [e for e in chrome["traceEvents"] if e["ph"] == ph]


def test_record_and_for_node() -> None:
    trace = sample_trace()
    assert len(trace.events) == 8
    assert trace.events_for_node("a") == [
        TraceEvent(T.NODE_STARTED, "a", 0.001, "w0", None),
        TraceEvent(T.NODE_COMPLETED, "a", 0.5, "w0", None, duration=0.5 - 0.001),
    ]
    assert trace.for_node("a") == trace.events_for_node("a")  # the earlier name
    assert trace.events_for_node("nope") == []


def test_chrome_trace_is_valid_json_with_spans_instants_and_metadata() -> None:
    chrome = sample_trace().chrome_trace(process_name="my run")
    assert json.loads(json.dumps(chrome)) == chrome
    assert chrome["displayTimeUnit"] == "ms"
    assert {e["ph"] for e in chrome["traceEvents"]} == {"X", "i", "M"}
    spans = {e["name"]: e for e in by_phase(chrome, "X")}
    assert set(spans) == {"a", "b"}  # one complete event per node that ran
    # microseconds
    assert spans["a"]["ts"] == 1000.0
    assert spans["a"]["dur"] == (0.5 - 0.001) * 1e6
    assert spans["b"]["ts"] == 2000.0
    assert spans["b"]["dur"] == (0.25 - 0.002) * 1e6
    assert spans["a"]["args"] == {"status": "completed"}
    assert spans["b"]["args"] == {"status": "failed", "detail": "ValueError: boom"}
    assert spans["a"]["tid"] != spans["b"]["tid"]  # one track per worker
    instants = {e["name"]: e for e in by_phase(chrome, "i")}
    assert instants["c"]["args"] == {"status": "skipped", "detail": "upstream 'b' failed"}
    assert instants["d"]["args"]["status"] == "cancelled"
    assert instants["execution_started"]["ts"] == 0.0
    assert instants["execution_completed"]["ts"] == 0.6 * 1e6
    for event in chrome["traceEvents"]:
        assert event["pid"] == 1
        if event["ph"] == "i":
            assert event["s"] in {"t", "p"}
    meta = by_phase(chrome, "M")
    assert meta[0] == {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "my run"}}
    names = {m["args"]["name"]: m["tid"] for m in meta[1:]}
    assert set(names) == {"scheduler", "w0", "w1"}
    assert names["w0"] == spans["a"]["tid"]


def test_a_span_never_has_negative_duration() -> None:
    trace = ExecutionTrace()
    trace.record(T.NODE_STARTED, "a", 0.5, worker="w")
    trace.record(T.NODE_TIMED_OUT, "a", 0.5, worker="w")
    (span,) = by_phase(trace.chrome_trace(), "X")
    assert span["dur"] == 0.0
    assert span["args"]["status"] == "timed_out"


def test_save_chrome_trace(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    trace = sample_trace()
    trace.save_chrome_trace(path)
    assert json.loads(path.read_text(encoding="utf-8")) == trace.chrome_trace()


def test_names_with_quotes_and_non_ascii_survive_the_export(tmp_path: Path) -> None:
    trace = ExecutionTrace()
    name = 'naïve "quoted" <node>\n'
    trace.record(T.NODE_STARTED, name, 0.0, worker="w")
    trace.record(T.NODE_COMPLETED, name, 0.1, worker="w")
    path = tmp_path / "t.json"
    trace.save_chrome_trace(path)
    (span,) = by_phase(json.loads(path.read_text(encoding="utf-8")), "X")
    assert span["name"] == name


def test_empty_trace() -> None:
    chrome = ExecutionTrace().chrome_trace()
    assert chrome["traceEvents"] == [
        {"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "dagron_nb run"}}
    ]


def test_event_types_carry_the_original_dagron_names() -> None:
    assert T.EXECUTION_STARTED.value == "execution_started"
    assert T.EXECUTION_COMPLETED.value == "execution_completed"
    assert T.NODE_CACHE_HIT.value == "node_cache_hit"
    assert T.NODE_CACHE_MISS.value == "node_cache_miss"
    # the earlier dagron_nb names are aliases of the same members
    assert T.RUN_STARTED is T.EXECUTION_STARTED
    assert T.RUN_FINISHED is T.EXECUTION_COMPLETED


def test_to_chrome_trace_is_the_json_text_of_chrome_trace() -> None:
    trace = sample_trace()
    text = trace.to_chrome_trace(process_name="x")
    assert isinstance(text, str)
    assert json.loads(text) == trace.chrome_trace(process_name="x")


def test_failures_carry_their_error_and_end_events_their_duration() -> None:
    (failed,) = [e for e in sample_trace().events if e.event_type is T.NODE_FAILED]
    assert failed.error == "ValueError: boom"
    assert failed.duration == 0.25 - 0.002
    # a skip has a reason (detail) but no error, and no duration: it never started
    (skipped,) = [e for e in sample_trace().events if e.event_type is T.NODE_SKIPPED]
    assert (skipped.error, skipped.duration, skipped.detail) == (None, None, "upstream 'b' failed")


def test_to_json_lists_the_set_fields_of_every_event() -> None:
    records = json.loads(sample_trace().to_json())
    assert records[0] == {"event_type": "execution_started", "timestamp": 0.0}
    assert records[4] == {
        "event_type": "node_failed",
        "timestamp": 0.25,
        "node_name": "b",
        "worker": "w1",
        "detail": "ValueError: boom",
        "duration": 0.25 - 0.002,
        "error": "ValueError: boom",
    }


def test_record_without_a_timestamp_counts_from_the_first_event() -> None:
    trace = ExecutionTrace()
    trace.record(T.EXECUTION_STARTED)
    trace.record(T.NODE_STARTED, node_name="x")
    trace.record(T.NODE_COMPLETED, node_name="x", metadata={"rows": 3})
    first, start, end = trace.events
    assert first.timestamp == 0.0
    assert 0.0 <= start.timestamp <= end.timestamp
    assert end.duration == end.timestamp - start.timestamp
    assert end.metadata == {"rows": 3}


def test_a_cache_miss_names_its_node_in_the_chrome_trace() -> None:
    trace = ExecutionTrace()
    trace.record(T.NODE_CACHE_MISS, "a", 0.1)
    trace.record(T.NODE_CACHE_HIT, "b", 0.2)
    events = [e for e in trace.chrome_trace()["traceEvents"] if e["ph"] == "i"]
    assert [(e["name"], e["args"]) for e in events] == [
        ("node_cache_miss", {"node": "a"}),
        ("b", {"status": "cache_hit"}),
    ]


def test_summary_counts_outcomes() -> None:
    text = sample_trace().summary()
    assert text.splitlines()[0] == "trace: 8 events, 4 nodes, 0.6000 s"
    assert "  completed: 1" in text.splitlines()
    assert "  failed: 1" in text.splitlines()
