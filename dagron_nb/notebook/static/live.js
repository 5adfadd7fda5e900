// The browser half of dagron_nb's LiveDAG widget (an anywidget ES module).
//
// Python sends the laid-out SVG once (trait `svg`), then `delta`s of changed
// nodes at most ~10 times a second and, about once a second, a full
// `snapshot`. A view keeps its own copy of every node's status: it starts from
// the snapshot, applies deltas in `seq` order, and treats a gap (a delta it
// missed because it opened late) as stale until the next snapshot. Text that
// came from Python (node names, error messages, notes) only ever reaches the
// page through textContent / setAttribute; the SVG is parsed as XML by
// DOMParser, which runs no scripts. The one exception is the inspector panel:
// its HTML is built by the kernel (dagron_nb.core.inspection, every text
// escaped there) and arrives as the answer to the view's own request. The
// DOM hooks (data-status, data-node, .dagron-header spans, ...) are listed in
// live.py's docstring; the messages to the kernel in control.py's.

const SVG_NS = "http://www.w3.org/2000/svg";
const LIST_LIMIT = 50;
const SLOW_ANSWER_MS = 2000; // then the panel says the kernel is busy
const DURATION_ROOM = 12; // SVG units under the picture for the last rank's durations
// the header's words per status, as in the legend (render.HEADER_WORDS)
const HEADER_WORDS = {
  "timed-out": "timed out",
  cancelled: "cancelled",
  skipped: "skipped",
  "cache-hit": "from cache",
};
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

  // -- skeleton ---------------------------------------------------------------
  const root = make("div", "dagron-live");
  const header = make("div", "dagron-header");
  const titleEl = make("strong", "dagron-title");
  const dashEl = make("a", "dagron-dashboard", "Dask dashboard");
  dashEl.target = "_blank";
  dashEl.rel = "noopener";
  const doneEl = make("span", "dagron-done");
  const runningEl = make("span", "dagron-running");
  const failedEl = make("span", "dagron-failed");
  const elapsedEl = make("span", "dagron-elapsed");
  const etaEl = make("span", "dagron-eta");
  const phaseEl = make("span", "dagron-phase");
  const extraEl = {};
  const extras = [];
  for (const [s, word] of Object.entries(HEADER_WORDS)) {
    extraEl[s] = make("span", `dagron-count-${s}`);
    extraEl[s].dataset.word = word;
    extras.push(extraEl[s]);
  }
  const cancelBtn = make("button", "dagron-button dagron-cancel", "Cancel");
  cancelBtn.title = "cancel what has not started; running tasks finish";
  const rerunBtn = make("button", "dagron-button dagron-rerun", "Re-run failed");
  rerunBtn.title = "run the failed, skipped and cancelled nodes again";
  const drawBtn = make("button", "dagron-button dagron-draw", "Draw anyway");
  drawBtn.title = "lay the graph out with Graphviz without a size or time limit";
  header.append(titleEl, dashEl, doneEl, runningEl, failedEl, ...extras, elapsedEl, etaEl, phaseEl);
  header.append(cancelBtn, rerunBtn, drawBtn);
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
  const panel = make("div", "dagron-inspector");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "node inspector");
  const panelHead = make("div", "dagron-inspector-head");
  const panelTitle = make("strong", "dagron-inspector-title");
  const closeBtn = make("button", "dagron-button dagron-close", "×");
  closeBtn.title = "close (Esc)";
  closeBtn.setAttribute("aria-label", "close the inspector");
  panelHead.append(panelTitle, closeBtn);
  const panelBody = make("div", "dagron-inspector-body");
  panel.append(panelHead, panelBody);
  panel.style.display = "none";
  root.append(header, noteEl, body, panel, legend);
  el.append(root);
  graphBox.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("g.dagron-node")) {
      graphBox.classList.toggle("dagron-natural");
    }
  });

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
  let eta = null; // seconds left at etaAt, from the last snapshot
  let etaAt = performance.now();
  let inspected = -1; // the node the panel shows
  let asked = 0; // id of the last inspection request
  let slowTimer = null;

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
    const onPath = critical.has(i) ? " dagron-critical" : "";
    node.g.setAttribute("class", `node dagron-node dagron-status-${s}${onPath}`);
    if (node.shape) node.shape.setAttribute("fill", colorOf[s]);
    node.title.textContent = tooltip(i);
    showDuration(i);
  }

  // After the run each node shows its duration as a small second line, under its box.
  function showDuration(i) {
    const node = nodes[i];
    const seconds = duration[i];
    const wanted = model.get("phase") === "done" && typeof seconds === "number";
    if (!wanted) {
      if (node.durationEl) node.durationEl.textContent = "";
      return;
    }
    if (!node.durationEl) {
      // under the box, from the label's position (getBBox needs a rendered view)
      const label = node.g.querySelector("text");
      if (!label) return;
      const text = document.createElementNS(SVG_NS, "text");
      text.setAttribute("class", "dagron-duration");
      text.setAttribute("text-anchor", "middle");
      text.setAttribute("x", label.getAttribute("x") || "0");
      text.setAttribute("y", String(Number(label.getAttribute("y") || 0) + 17));
      node.g.append(text);
      node.durationEl = text;
    }
    node.durationEl.textContent = formatSeconds(seconds);
  }

  function paintAll() {
    if (!nodes) return;
    for (let i = 0; i < nodes.length; i += 1) paintNode(i);
    paintCriticalEdges();
  }

  // The critical path (after a run): its nodes and the edges between them stand out.
  let critical = new Set();
  let edges = new Map(); // "i_j" -> edge group
  function paintCriticalEdges() {
    for (const g of edges.values()) g.classList.remove("dagron-critical");
    const path = model.get("critical") || [];
    for (let k = 1; k < path.length; k += 1) {
      const g = edges.get(`${path[k - 1]}_${path[k]}`);
      if (g) g.classList.add("dagron-critical");
    }
  }

  function setCritical() {
    critical = new Set(model.get("critical") || []);
    paintAll();
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
    eta = typeof snap.eta === "number" ? snap.eta : null;
    etaAt = performance.now();
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
    makeRoomBelow(picture, DURATION_ROOM);
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
      g.setAttribute("tabindex", "0"); // keyboard: Tab to a node, Enter opens it
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", `inspect ${names[i]}`);
      g.addEventListener("click", (event) => {
        event.stopPropagation();
        inspect(i);
      });
      g.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          inspect(i);
        }
      });
      nodes[i] = { g, shape: g.querySelector("path, polygon, ellipse"), title, durationEl: null };
    }
    edges = new Map();
    for (const g of picture.querySelectorAll("g.edge")) {
      const match = /^e(\d+)_(\d+)$/.exec(g.getAttribute("id") || "");
      const title = g.querySelector("title");
      if (match) edges.set(`${match[1]}_${match[2]}`, g);
      if (match && title) title.textContent = `${names[Number(match[1])]} → ${names[Number(match[2])]}`;
    }
    picture.classList.add("dagron-svg");
    graphBox.append(picture);
    paintAll();
  }

  // The bottom rank's durations sit under its boxes: grow the picture that much.
  function makeRoomBelow(picture, extra) {
    const box = (picture.getAttribute("viewBox") || "").trim().split(/[\s,]+/).map(Number);
    if (box.length !== 4 || box.some(Number.isNaN)) return;
    box[3] += extra;
    picture.setAttribute("viewBox", box.join(" "));
    const height = /^([\d.]+)pt$/.exec(picture.getAttribute("height") || "");
    if (height) picture.setAttribute("height", `${Number(height[1]) + extra}pt`);
  }

  function fillList(box, heading, indices) {
    box.replaceChildren();
    if (!indices.length) return;
    box.append(make("b", "", `${heading} (${indices.length})`));
    const list = make("ul");
    for (const i of indices.slice(0, LIST_LIMIT)) {
      const item = make("li");
      const link = make("code", "dagron-node-link", names[i]);
      link.setAttribute("tabindex", "0");
      link.setAttribute("role", "button");
      link.setAttribute("data-node", names[i]);
      link.addEventListener("click", () => inspect(i));
      link.addEventListener("keydown", (event) => {
        if (event.key === "Enter") inspect(i);
      });
      item.append(link);
      if (message.has(i)) item.append(make("span", "", `: ${message.get(i)}`));
      list.append(item);
    }
    if (indices.length > LIST_LIMIT) list.append(make("li", "", `… ${indices.length - LIST_LIMIT} more`));
    box.append(list);
  }

  function refresh() {
    const total = names.length;
    const done = counts.completed + counts["cache-hit"];
    titleEl.textContent = model.get("title") || "";
    titleEl.style.display = titleEl.textContent ? "" : "none";
    const link = model.get("dashboard_link") || "";
    if (link) dashEl.href = link;
    dashEl.style.display = link ? "" : "none";
    doneEl.textContent = `${done}/${total} done`;
    runningEl.textContent = `${counts.running} running`;
    failedEl.textContent = `${counts.failed} failed`;
    for (const [s, span] of Object.entries(extraEl)) {
      span.textContent = counts[s] ? `${counts[s]} ${span.dataset.word}` : "";
      span.style.display = counts[s] ? "" : "none";
    }
    const phase = model.get("phase");
    phaseEl.textContent = phaseText(phase);
    root.classList.toggle("dagron-cancelling", isCancelling(phase));
    cancelBtn.style.display = phase === "running" ? "" : "none";
    cancelBtn.disabled = isCancelling(phase);
    rerunBtn.style.display = phase === "done" && model.get("can_rerun") ? "" : "none";
    drawBtn.style.display = model.get("oversize") ? "" : "none";
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

  // The kernel says what is being cancelled (the Cancel button, a kernel
  // interrupt, the run's cancel_event): "cancelling: waiting for 2 running tasks: a, b".
  function isCancelling(phase) {
    return phase === "running" && Boolean(model.get("cancelling"));
  }

  function phaseText(phase) {
    if (isCancelling(phase)) return model.get("cancelling");
    if (phase === "running") return "running…";
    if (phase !== "done") return "";
    return counts.cancelled ? "cancelled" : "finished";
  }

  function tick() {
    const live = model.get("phase") === "running";
    const shown = elapsed + (live ? (performance.now() - elapsedAt) / 1000 : 0);
    elapsedEl.textContent = formatSeconds(shown);
    const left = live && eta !== null ? Math.max(eta - (performance.now() - etaAt) / 1000, 0) : null;
    etaEl.textContent = left === null ? "" : `about ${formatSeconds(left)} left`;
    etaEl.style.display = left === null ? "none" : "";
  }

  // -- the inspector ----------------------------------------------------------
  function inspect(i) {
    if (i < 0 || i >= names.length) return;
    inspected = i;
    asked += 1;
    panelTitle.textContent = names[i];
    panelBody.replaceChildren(make("p", "dagron-inspector-wait", "asking the kernel…"));
    panel.style.display = "";
    panel.setAttribute("data-node", names[i]);
    panel.removeAttribute("data-ready");
    clearTimeout(slowTimer);
    const id = asked;
    slowTimer = setTimeout(() => {
      if (id !== asked || panel.hasAttribute("data-ready")) return;
      panelBody.replaceChildren(
        make(
          "p",
          "dagron-inspector-wait",
          "The kernel is busy with the cell and answers when it ends (this front end " +
            "sends widget messages to the busy main shell). Status: " + status[i],
        ),
      );
    }, SLOW_ANSWER_MS);
    model.send({ type: "inspect", node: i, id });
    closeBtn.focus();
  }

  function onCustom(msg) {
    if (!msg || msg.type !== "inspection" || msg.id !== asked || msg.node !== inspected) return;
    clearTimeout(slowTimer);
    panelBody.innerHTML = msg.html; // built and escaped by the kernel
    panel.setAttribute("data-ready", "1");
  }

  function closePanel() {
    panel.style.display = "none";
    const back = nodes && inspected >= 0 ? nodes[inspected] : null;
    inspected = -1;
    asked += 1;
    if (back) back.g.focus();
  }

  closeBtn.addEventListener("click", closePanel);
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && panel.style.display !== "none") {
      event.stopPropagation(); // JupyterLab would leave edit mode on Esc
      closePanel();
    }
  });
  cancelBtn.addEventListener("click", () => {
    model.send({ type: "cancel" });
    cancelBtn.disabled = true;
  });
  rerunBtn.addEventListener("click", () => {
    model.send({ type: "rerun" });
    rerunBtn.style.display = "none";
  });
  drawBtn.addEventListener("click", () => {
    model.send({ type: "draw" });
    drawBtn.style.display = "none";
  });

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
    "change:phase": () => {
      refresh();
      paintAll(); // durations appear when the run is done
    },
    "change:note": refresh,
    "change:title": refresh,
    "change:dashboard_link": refresh,
    "change:cancelling": refresh,
    "change:can_rerun": refresh,
    "change:oversize": refresh,
    "change:critical": setCritical,
    "msg:custom": onCustom,
  };
  for (const [event, handler] of Object.entries(handlers)) model.on(event, handler);
  const timer = setInterval(() => {
    if (model.get("phase") === "running") tick();
  }, 250);
  rebuild();
  setCritical();
  model.send({ type: "hello" }); // a browser shows this widget: keep it after the run

  return () => {
    clearInterval(timer);
    clearTimeout(slowTimer);
    for (const [event, handler] of Object.entries(handlers)) model.off(event, handler);
  };
}

export default { render };
