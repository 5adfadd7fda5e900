// The browser half of dagron_nb's LiveDAG widget (an anywidget ES module).
//
// Python sends the laid-out SVG once (trait `svg`), then `delta`s of changed
// nodes at most ~10 times a second and, about once a second, a full
// `snapshot`. A view keeps its own copy of every node's status: it starts from
// the snapshot, applies deltas in `seq` order, and treats a gap (a delta it
// missed because it opened late) as stale until the next snapshot. Text that
// came from Python (node names, error messages, notes) only ever reaches the
// page through textContent / setAttribute; the SVG is parsed as XML by
// DOMParser, which runs no scripts. The DOM hooks (data-status, data-node,
// .dagron-header spans, ...) are listed in live.py's docstring.

const SVG_NS = "http://www.w3.org/2000/svg";
const LIST_LIMIT = 50;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// A delta's `nodes`: the changed node indices as little-endian int32, sent as
// a binary buffer (the widget manager hands it over as a DataView, also when
// the view opens late or saved widget state is loaded). A plain array is
// accepted too. Returns an Int32Array (or that array).
export function nodeIndices(nodes) {
  if (!nodes) return [];
  if (Array.isArray(nodes)) return nodes;
  let view = null;
  if (nodes instanceof DataView) view = nodes;
  else if (ArrayBuffer.isView(nodes)) view = new DataView(nodes.buffer, nodes.byteOffset, nodes.byteLength);
  else if (nodes instanceof ArrayBuffer) view = new DataView(nodes);
  if (!view) return [];
  const count = view.byteLength >> 2;
  if (LITTLE_ENDIAN && view.byteOffset % 4 === 0) {
    return new Int32Array(view.buffer, view.byteOffset, count); // no copy
  }
  const out = new Int32Array(count); // unaligned, or a big-endian machine
  for (let k = 0; k < count; k += 1) out[k] = view.getInt32(4 * k, true);
  return out;
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  if (seconds < 1) return `${(seconds * 1000).toFixed(1)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - 60 * minutes)} s`;
}

function render({ model, el }) {
  const palette = model.get("palette");
  const statusOf = {}; // code -> status value
  const colorOf = {}; // status value -> fill colour
  for (const entry of palette) {
    statusOf[entry.code] = entry.status;
    colorOf[entry.status] = entry.color;
  }
  const isBad = (s) => s === "failed" || s === "timed-out";
  const isDone = (s) => s !== "pending" && s !== "running";

  // -- skeleton ---------------------------------------------------------------
  const root = make("div", "dagron-live");
  const header = make("div", "dagron-header");
  const titleEl = make("strong", "dagron-title");
  const doneEl = make("span", "dagron-done");
  const runningEl = make("span", "dagron-running");
  const failedEl = make("span", "dagron-failed");
  const elapsedEl = make("span", "dagron-elapsed");
  const phaseEl = make("span", "dagron-phase");
  header.append(titleEl, doneEl, runningEl, failedEl, elapsedEl, phaseEl);
  const noteEl = make("div", "dagron-note");
  const body = make("div", "dagron-body");
  const graphBox = make("div", "dagron-graph");
  graphBox.title = "click: fit to width / natural size";
  const summaryBox = make("div", "dagron-summary");
  const progress = make("div", "dagron-progress");
  const runningList = make("div", "dagron-list-running");
  const failedList = make("div", "dagron-list-failed");
  summaryBox.append(progress, runningList, failedList);
  body.append(graphBox, summaryBox);
  const legend = make("div", "dagron-legend");
  const legendCount = {};
  const segment = {};
  for (const entry of palette) {
    const item = make("span", "dagron-legend-item");
    item.setAttribute("data-status", entry.status);
    const swatch = make("span", "dagron-swatch");
    swatch.style.background = entry.color;
    const count = make("span", "dagron-count");
    legendCount[entry.status] = count;
    item.append(swatch, document.createTextNode(entry.status + " "), count);
    legend.append(item);
    const seg = make("span", "dagron-segment");
    seg.setAttribute("data-status", entry.status);
    seg.style.background = entry.color;
    segment[entry.status] = seg;
    progress.append(seg);
  }
  root.append(header, noteEl, body, legend);
  el.append(root);
  graphBox.addEventListener("click", () => graphBox.classList.toggle("dagron-natural"));

  // -- state ------------------------------------------------------------------
  let names = [];
  let meta = {};
  let status = [];
  let duration = [];
  let message = new Map();
  let counts = {};
  let running = new Set();
  let bad = new Set();
  let nodes = null; // index -> {g, shape, title} once the SVG is in
  let applied = -1; // seq of the last delta or snapshot applied
  let stale = true; // missed something: wait for the next snapshot
  let elapsed = 0;
  let elapsedAt = performance.now();

  function resetState() {
    names = model.get("names") || [];
    meta = model.get("meta") || {};
    const n = names.length;
    status = new Array(n).fill("pending");
    duration = new Array(n).fill(null);
    message = new Map();
    counts = {};
    for (const entry of palette) counts[entry.status] = 0;
    counts.pending = n;
    running = new Set();
    bad = new Set();
  }

  function setStatus(i, s) {
    const old = status[i];
    if (old === s || s === undefined) return;
    counts[old] -= 1;
    counts[s] += 1;
    status[i] = s;
    if (old === "running") running.delete(i);
    if (isBad(old)) bad.delete(i);
    if (s === "running") running.add(i);
    if (isBad(s)) bad.add(i);
  }

  function tooltip(i) {
    const lines = [names[i], `status: ${status[i]}`];
    if (duration[i] !== null && duration[i] !== undefined) {
      lines.push(`duration: ${formatSeconds(duration[i])}`);
    }
    if (message.has(i)) lines.push(message.get(i));
    if (meta[String(i)]) lines.push(meta[String(i)]);
    return lines.join("\n");
  }

  function paintNode(i) {
    const node = nodes && nodes[i];
    if (!node) return;
    const s = status[i];
    node.g.setAttribute("data-status", s);
    node.g.setAttribute("class", `node dagron-node dagron-status-${s}`);
    if (node.shape) node.shape.setAttribute("fill", colorOf[s]);
    node.title.textContent = tooltip(i);
  }

  function paintAll() {
    if (!nodes) return;
    for (let i = 0; i < nodes.length; i += 1) paintNode(i);
  }

  // -- incoming state ---------------------------------------------------------
  function applySnapshot(snap) {
    if (!snap || snap.seq === undefined || !snap.codes) return;
    if (snap.codes.length !== names.length) return; // belongs to another DAG
    if (snap.seq < applied) return; // older than what we have: wait for a newer one
    for (let i = 0; i < names.length; i += 1) setStatus(i, statusOf[snap.codes[i]]);
    if (snap.durations) duration = snap.durations.slice();
    message = new Map(Object.entries(snap.messages || {}).map(([k, v]) => [Number(k), v]));
    applied = snap.seq;
    stale = false;
    setElapsed(snap.elapsed);
    paintAll();
  }

  function applyDelta(delta) {
    if (!delta || delta.seq === undefined || delta.seq <= applied) return;
    if (delta.seq !== applied + 1) stale = true;
    applied = delta.seq;
    const messages = delta.messages || {};
    const changed = nodeIndices(delta.nodes);
    for (let k = 0; k < changed.length; k += 1) {
      const i = changed[k];
      if (i < 0 || i >= names.length) continue;
      setStatus(i, statusOf[delta.codes[k]]);
      if (delta.durations && delta.durations[k] !== null) duration[i] = delta.durations[k];
      if (messages[i] !== undefined) message.set(i, messages[i]);
      paintNode(i);
    }
    setElapsed(delta.elapsed);
  }

  function setElapsed(seconds) {
    if (typeof seconds === "number") {
      elapsed = seconds;
      elapsedAt = performance.now();
    }
  }

  // -- drawing ----------------------------------------------------------------
  function insertSvg() {
    graphBox.replaceChildren();
    nodes = null;
    const text = model.get("svg");
    if (model.get("view") !== "graph" || !text) return;
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const svg = doc.documentElement;
    if (!svg || svg.nodeName !== "svg" || doc.getElementsByTagName("parsererror").length) {
      noteEl.textContent = "The picture could not be read; showing counts only.";
      return;
    }
    const picture = document.importNode(svg, true);
    nodes = new Array(names.length).fill(null);
    for (const g of picture.querySelectorAll("g.node")) {
      const match = /^n(\d+)$/.exec(g.getAttribute("id") || "");
      if (!match) continue;
      const i = Number(match[1]);
      if (i >= names.length) continue;
      let title = g.querySelector("title");
      if (!title) {
        title = document.createElementNS(SVG_NS, "title");
        g.prepend(title);
      }
      g.setAttribute("data-node", names[i]);
      nodes[i] = { g, shape: g.querySelector("path, polygon, ellipse"), title };
    }
    for (const g of picture.querySelectorAll("g.edge")) {
      const match = /^e(\d+)_(\d+)$/.exec(g.getAttribute("id") || "");
      const title = g.querySelector("title");
      if (match && title) title.textContent = `${names[Number(match[1])]} → ${names[Number(match[2])]}`;
    }
    picture.classList.add("dagron-svg");
    graphBox.append(picture);
    paintAll();
  }

  function fillList(box, heading, indices) {
    box.replaceChildren();
    if (!indices.length) return;
    box.append(make("b", "", `${heading} (${indices.length})`));
    const list = make("ul");
    for (const i of indices.slice(0, LIST_LIMIT)) {
      const item = make("li");
      item.append(make("code", "", names[i]));
      if (message.has(i)) item.append(make("span", "", `: ${message.get(i)}`));
      list.append(item);
    }
    if (indices.length > LIST_LIMIT) list.append(make("li", "", `… ${indices.length - LIST_LIMIT} more`));
    box.append(list);
  }

  function refresh() {
    const total = names.length;
    let done = 0;
    for (const entry of palette) if (isDone(entry.status)) done += counts[entry.status];
    titleEl.textContent = model.get("title") || "";
    titleEl.style.display = titleEl.textContent ? "" : "none";
    doneEl.textContent = `${done}/${total} done`;
    runningEl.textContent = `${counts.running} running`;
    failedEl.textContent = `${counts.failed + counts["timed-out"]} failed`;
    const phase = model.get("phase");
    phaseEl.textContent = phase === "running" ? "running…" : phase === "done" ? "finished" : "";
    tick();
    for (const entry of palette) legendCount[entry.status].textContent = String(counts[entry.status]);
    const view = model.get("view");
    root.setAttribute("data-view", view);
    root.setAttribute("data-phase", phase);
    const note = model.get("note") || (view === "loading" ? "Laying out the graph…" : "");
    noteEl.textContent = note;
    noteEl.style.display = note ? "" : "none";
    graphBox.style.display = view === "graph" ? "" : "none";
    summaryBox.style.display = view === "graph" ? "none" : "";
    if (view !== "graph") {
      for (const entry of palette) {
        segment[entry.status].style.width = total ? `${(100 * counts[entry.status]) / total}%` : "0";
      }
      fillList(runningList, "running", [...running].sort((a, b) => a - b));
      fillList(failedList, "failed", [...bad].sort((a, b) => a - b));
    }
  }

  function tick() {
    const live = model.get("phase") === "running";
    const shown = elapsed + (live ? (performance.now() - elapsedAt) / 1000 : 0);
    elapsedEl.textContent = formatSeconds(shown);
  }

  // -- wiring -----------------------------------------------------------------
  function rebuild() {
    resetState();
    applied = -1;
    stale = true;
    applySnapshot(model.get("snapshot"));
    applyDelta(model.get("delta"));
    insertSvg();
    refresh();
  }

  const handlers = {
    "change:names": rebuild,
    "change:svg": () => {
      insertSvg();
      refresh();
    },
    "change:view": () => {
      insertSvg();
      refresh();
    },
    "change:snapshot": () => {
      applySnapshot(model.get("snapshot"));
      refresh();
    },
    "change:delta": () => {
      applyDelta(model.get("delta"));
      refresh();
    },
    "change:phase": refresh,
    "change:note": refresh,
    "change:title": refresh,
  };
  for (const [event, handler] of Object.entries(handlers)) model.on(event, handler);
  const timer = setInterval(() => {
    if (model.get("phase") === "running") tick();
  }, 250);
  rebuild();

  return () => {
    clearInterval(timer);
    for (const [event, handler] of Object.entries(handlers)) model.off(event, handler);
  };
}

export default { render };
