"""A ``%%dagron`` cell in a real JupyterLab, driven by Playwright in Debian's Chromium.

The test starts JupyterLab on a free port with a temporary root folder, config
and data directories (so nothing of the machine's Jupyter setup leaks in),
opens a notebook that loads the extension and runs a six-task pipeline whose
tasks take about a second each: one fails with an error text full of markup,
one is named with markup, quotes, braces, a backslash and non-ASCII. A
MutationObserver in the page records every (node, status, fill) the DOM ever
shows, so the test can check that nodes were seen RUNNING and then ended
COMPLETED / FAILED / SKIPPED, each in its ``STATUS_COLORS`` fill, that the
failed node's tooltip holds the error text literally and the odd name shows as
itself (no injected ``<b>`` or ``<i>``), and that the cell printed one compact
traceback. A screenshot goes to ``test-output/browser/``. Set
``DAGRON_SKIP_BROWSER=1`` to skip on purpose.

The other tests use the widget as a place to work, sharing the server and one
Chromium: the inspector (opened from the keyboard during a run, answered while
a task still sleeps: a DataFrame preview, a traceback, the printed output and
the source), the Cancel button, a second kernel interrupt that returns the cell
at once, JupyterLab's dark theme (pixels of the screenshot: no white box), and a
tab closed during a run and reopened. ``DAGRON_SCREENSHOTS=1`` writes their
screenshots to ``docs/screenshots/`` (the README's).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dagron_nb.core.results import NodeStatus

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "browser"
NOTEBOOK = "dagron_browser.ipynb"
ERROR_TEXT = '<b>&"quotes"</b>'
ODD_NAME = '<i>"odd"</i> & {née} \\ ✓'  # a node name that must stay text everywhere
SERVER_START = 60.0  # seconds JupyterLab may take to answer (2 busy cores)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CELL = f"""\
%%dagron -w 3 -n browser-test
import time
from dagron_nb import task

def extract():
    time.sleep(1.0)
    return 1

def transform(extract):
    time.sleep(1.0)
    return extract + 1

def validate(extract):
    time.sleep(1.0)
    raise ValueError({ERROR_TEXT!r})

def load(transform, validate):
    return transform

def report(load):
    return load

@task(name={ODD_NAME!r})
def odd(extract):
    return extract
"""
FINAL = {
    "extract": NodeStatus.COMPLETED,
    "transform": NodeStatus.COMPLETED,
    "validate": NodeStatus.FAILED,
    "load": NodeStatus.SKIPPED,
    "report": NodeStatus.SKIPPED,
    ODD_NAME: NodeStatus.COMPLETED,
}
RAN = ("extract", "transform", "validate")

LIVE_NOTEBOOK = "dagron_live.ipynb"
# `slow` keeps the run going while the test inspects the nodes that ended.
INSPECT_CELL = """\
%%dagron -w 3 -n inspect-test
import time
import pandas as pd

def table():
    return pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "people": [0.7, 10.1, 7.4]})

def noisy(table):
    print("noisy saw", len(table), "rows")
    raise ValueError("noisy gave up <on purpose>")

def slow():
    time.sleep(6)
    return "late"
"""
CANCEL_GO = "cancel-go"  # the test creates this file (in the notebook's folder) to end the tasks
CANCEL_CELL = f"""\
%%dagron -w 2 -n cancel-test
import os, time

def _until_go():
    # running until the test has read the "cancelling" header: no race with a load spike
    deadline = time.monotonic() + 60
    while not os.path.exists({CANCEL_GO!r}) and time.monotonic() < deadline:
        time.sleep(0.05)

def first():
    _until_go()

def second():
    _until_go()

def third(first):
    return 3

def fourth(second):
    return 4
"""
INTERRUPT_NOTEBOOK = "dagron_interrupt.ipynb"
INTERRUPT_CELL = """\
%%dagron -w 2 -n interrupt-test
import time

def sleeper():
    time.sleep(30)

def after(sleeper):
    return 1
"""
DARK_NOTEBOOK = "dagron_dark.ipynb"
DARK_CELL = """\
%%dagron -n dark-theme
def load():
    return [1, 2, 3]

def clean(load):
    return [x * 2 for x in load]

def stats(clean):
    return sum(clean)

def plot(clean):
    return len(clean)

def report(stats, plot):
    return stats, plot
"""
CACHE_NOTEBOOK = "dagron_cache.ipynb"
CACHE_CELL = """\
%%dagron -w 2 -n cache-rerun
import time

def load():
    time.sleep(0.6)
    return [1, 2, 3]

def clean(load):
    time.sleep(0.6)
    return [x * 2 for x in load]

def stats(clean):
    time.sleep(0.6)
    return sum(clean)

def plot(clean):
    time.sleep(0.6)
    return len(clean)

def report(stats, plot):
    time.sleep(0.6)
    return stats, plot
"""
# the user's edit: `plot` returns something else; everything else stays as it was
EDITED_CELL = CACHE_CELL.replace("return len(clean)", "return max(clean)")
CACHED = ("load", "clean", "stats")
RERUN = ("plot", "report")  # the edited node and what depends on it
# Every status change of a node drawn after it is installed, in order, with its
# fill: [node, status, fill].
ORDER_RECORDER = """
() => {
  window.__dagronLog = [];
  const last = new WeakMap();
  const before = new WeakSet(document.querySelectorAll("g.dagron-node")); // earlier runs'
  const record = () => {
    for (const g of document.querySelectorAll("g.dagron-node")) {
      const shape = g.querySelector("path, polygon, ellipse");
      const status = g.getAttribute("data-status");
      if (shape && !before.has(g) && last.get(g) !== status) {
        last.set(g, status);
        const name = g.getAttribute("data-node");
        window.__dagronLog.push([name, status, getComputedStyle(shape).fill]);
      }
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"],
  });
  record();
}
"""
RECONNECT_NOTEBOOK = "dagron_reconnect.ipynb"
RECONNECT_CELL = """\
%%dagron -n reconnect
import time

def fetch():
    time.sleep(4)
    return 1

def use(fetch):
    return fetch + 1
"""
# The README's pictures (live-midrun.png, inspector.png, dark-theme.png) are
# refreshed with DAGRON_SCREENSHOTS=1; other runs write them to OUTPUT, so that
# running the tests leaves the working tree as it was.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots" if os.environ.get("DAGRON_SCREENSHOTS") == "1" else OUTPUT
)

# Installed before the notebook runs: remembers every status a node shows and
# the fill it has then, in the live widget and in the final static picture.
RECORDER = """
() => {
  window.__dagronSeen = {};
  const record = () => {
    for (const g of document.querySelectorAll("g.dagron-node")) {
      const shape = g.querySelector("path, polygon, ellipse");
      const key = g.getAttribute("data-node") + "|" + g.getAttribute("data-status");
      if (!(key in window.__dagronSeen) && shape) {
        window.__dagronSeen[key] = getComputedStyle(shape).fill;
      }
    }
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"],
  });
  record();
}
"""


def _missing_prerequisites() -> list[str]:
    missing = []
    if shutil.which("chromium") is None:
        missing.append("Chromium (sudo apt-get install chromium)")
    for module, package in (("jupyterlab", "jupyterlab"), ("playwright", "playwright")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f'{package} (pip install "dagron_nb[dev]")')
    return missing


@pytest.fixture(scope="module")
def prerequisites() -> None:
    missing = _missing_prerequisites()
    if not missing:
        return
    if os.environ.get("DAGRON_SKIP_BROWSER") == "1":
        pytest.skip(f"DAGRON_SKIP_BROWSER=1 and missing: {', '.join(missing)}")
    pytest.fail(
        "the browser test needs " + ", ".join(missing) + ": install what is missing "
        "(`make setup-browser` sets up both) or set DAGRON_SKIP_BROWSER=1 to skip this "
        "test on purpose.",
        pytrace=False,
    )


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)


def _lab_settings(config_dir: Path) -> None:
    """User settings that keep JupyterLab quiet: no news or update toasts, and no
    kernel-choice dialog when a notebook whose kernel a test shut down reopens."""
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True})
    )


@pytest.fixture(scope="module")
def lab(prerequisites: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    _write_notebook(root / NOTEBOOK, ["%load_ext dagron_nb", CELL])
    _write_notebook(root / LIVE_NOTEBOOK, ["%load_ext dagron_nb", INSPECT_CELL, CANCEL_CELL])
    _write_notebook(root / INTERRUPT_NOTEBOOK, ["%load_ext dagron_nb", INTERRUPT_CELL])
    _write_notebook(root / DARK_NOTEBOOK, ["%load_ext dagron_nb", DARK_CELL])
    _write_notebook(root / RECONNECT_NOTEBOOK, ["%load_ext dagron_nb", RECONNECT_CELL])
    _write_notebook(root / CACHE_NOTEBOOK, ["%load_ext dagron_nb", CACHE_CELL])
    _lab_settings(base / "config")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log = OUTPUT / "jupyterlab.log"
    port = _free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
    ]
    if os.geteuid() == 0:  # CI containers run as root; JupyterLab refuses unless told
        command.append("--allow-root")
    with log.open("w") as out:
        # its own session, so the kernels it starts can be stopped with it
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(server, f"{url}/api/status?token={token}", log)
        yield Lab(url=url, token=token, root=root, log=log)
    finally:
        _stop(server)


def _wait_for_server(server: subprocess.Popen[bytes], status_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(status_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)  # polling an external process until it listens
    pytest.fail(f"JupyterLab did not answer within {SERVER_START:g} s:\n{log.read_text()[-3000:]}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernels down
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(server.pid, signal.SIGKILL)  # anything of that session still alive
    except ProcessLookupError:
        pass
    if server.poll() is None:
        server.wait(timeout=10)


def _rgb(color: str) -> str:
    """``#rrggbb`` as the browser's computed style writes it."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def browser(lab: Lab) -> Iterator[Browser]:
    """One Chromium for the module's tests (each test opens its own page)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.timeout(180)  # ~15 s here; room for a loaded CI machine
def test_dagron_cell_in_jupyterlab(lab: Lab, browser: Browser) -> None:
    from dagron_nb.notebook.render import STATUS_COLORS

    started = time.monotonic()
    screenshot = OUTPUT / "dagron_jupyterlab.png"
    for stale in ("dagron_jupyterlab_failure.png", "browser_console.log"):
        (OUTPUT / stale).unlink(missing_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        page.set_default_timeout(30_000)
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
        cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
        cells.nth(1).wait_for()
        _dismiss_dialogs(page)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        page.evaluate(RECORDER)

        _run_cell(page, cells.nth(0))  # %load_ext dagron_nb
        _run_cell(page, cells.nth(1))  # the %%dagron cell
        page.wait_for_selector("g.dagron-node", timeout=60_000)
        page.wait_for_function(
            """(final) => Object.entries(final).every(([name, status]) => {
                const g = Array.from(document.querySelectorAll("g.dagron-node"))
                    .find(g => g.getAttribute("data-node") === name);
                return g && g.getAttribute("data-status") === status;
            })""",
            arg={name: status.value for name, status in FINAL.items()},
            timeout=60_000,
        )
        output = cells.nth(1).locator(".jp-OutputArea")
        output.get_by_text("task 'validate' failed").wait_for()
        page.screenshot(path=str(screenshot), full_page=True)

        seen: dict[str, str] = page.evaluate("window.__dagronSeen")
        final = page.evaluate(
            """() => Array.from(document.querySelectorAll("g.dagron-node")).map(g => ({
                name: g.getAttribute("data-node"),
                status: g.getAttribute("data-status"),
                fill: getComputedStyle(g.querySelector("path, polygon, ellipse")).fill,
                title: g.querySelector("title")?.textContent ?? "",
                label: Array.from(g.querySelectorAll("text:not(.dagron-duration)"))
                    .map(t => t.textContent).join(""),
            }))"""
        )
        # markup from the error text or the node name would have become elements
        injected = page.evaluate(
            """() => Array.from(document.querySelectorAll(".jp-OutputArea b, .jp-OutputArea i"))
                .filter(e => /quotes|odd/.test(e.textContent)).length"""
        )
        done = page.locator(".jp-OutputArea .dagron-done").last.inner_text()
        stderr = output.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        stderr_text = stderr.inner_text()
    except Exception:
        # what the page showed when it went wrong is the best clue
        page.screenshot(path=str(OUTPUT / "dagron_jupyterlab_failure.png"), full_page=True)
        (OUTPUT / "browser_console.log").write_text("\n".join(console))
        raise
    finally:
        _close(lab, page)
    elapsed = time.monotonic() - started
    print(f"browser test: {elapsed:.1f} s in the browser; screenshot: {screenshot}")

    running = _rgb(STATUS_COLORS[NodeStatus.RUNNING])
    for name in RAN:  # each task that ran was seen running, in the running colour
        assert seen.get(f"{name}|running") == running, (name, seen)
    assert "load|running" not in seen
    by_name = {node["name"]: node for node in final}
    assert set(FINAL) <= set(by_name)
    for name, status in FINAL.items():
        assert by_name[name]["status"] == status.value
        assert by_name[name]["fill"] == _rgb(STATUS_COLORS[status]), name
    assert ERROR_TEXT in by_name["validate"]["title"]  # literally, as text
    assert ODD_NAME in by_name[ODD_NAME]["title"]
    assert by_name[ODD_NAME]["label"] == ODD_NAME
    assert injected == 0
    assert done == f"3/{len(FINAL)} done"  # the failed and skipped ones are not "done"
    assert stderr_text.count("Traceback (most recent call last)") == 1
    assert f"ValueError: {ERROR_TEXT}" in stderr_text
    assert "dagron_nb" not in stderr_text
    assert screenshot.stat().st_size > 10_000


def _run_cell(page: Page, cell: Locator) -> None:
    """Select ``cell`` and run it, until its prompt shows it queued or run.

    A key press that lands while JupyterLab moves the focus between cells can
    be lost; pressing again is safe only because the prompt says nothing ran.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(3):
        prompt.click()  # selects the cell, in command mode
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(
                "(p) => /\\[(\\*|\\d+)\\]/.test(p.textContent)",
                arg=prompt.element_handle(),
                timeout=5_000,
            )
            return
        except PlaywrightTimeoutError:
            continue
    pytest.fail(f"JupyterLab did not run the cell; its prompt reads {prompt.inner_text()!r}")


def _dismiss_dialogs(page: Page) -> None:
    """Accept a kernel-choice or other modal dialog if JupyterLab shows one."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        dialog.locator(".jp-mod-accept").first.click()


# -- the widget as a place to work: inspector, Cancel, interrupts, themes ----------
def _open(lab: Lab, browser: Browser, notebook: str) -> tuple[Page, Locator]:
    """A page showing ``notebook`` alone (``reset``: no tabs of earlier tests) with
    its kernel idle; its code cells."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset&token={lab.token}")
    cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    cells.nth(1).wait_for()
    _dismiss_dialogs(page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    return page, cells


def _node(widget: Locator, name: str) -> Locator:
    return widget.locator(f"g.dagron-node[data-node='{name}']")


def _wait_status(widget: Locator, name: str, status: str, timeout: float = 60_000) -> None:
    _node(widget, name).and_(widget.locator(f"[data-status='{status}']")).wait_for(timeout=timeout)


def _failure_shot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUTPUT / f"{name}_failure.png"), full_page=True)


def _close(lab: Lab, page: Page) -> None:
    """Close the page and shut its kernels down, so that no test's kernel keeps
    a core busy (or its tab open) for the next one."""
    page.close()
    api = f"{lab.url}/api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab.token}", timeout=10) as response:
        sessions = json.load(response)
    for session in sessions:
        url = f"{api}/{session['id']}?token={lab.token}"
        urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=30).close()


@pytest.mark.timeout(180)
def test_inspector_mid_run_shows_a_value_preview_and_a_traceback(
    lab: Lab, browser: Browser
) -> None:
    page, cells = _open(lab, browser, LIVE_NOTEBOOK)
    try:
        _run_cell(page, cells.nth(0))
        _run_cell(page, cells.nth(1))
        widget = cells.nth(1).locator(".dagron-live")
        _wait_status(widget, "table", "completed")
        _wait_status(widget, "noisy", "failed")
        assert _node(widget, "slow").get_attribute("data-status") == "running"

        # keyboard: Tab focus on a node, Enter opens the inspector, while `slow` runs
        _node(widget, "table").focus()
        page.keyboard.press("Enter")
        panel = widget.locator(".dagron-inspector[data-ready]")
        panel.wait_for(timeout=10_000)  # answered mid-run: the kernel hears the click
        assert _node(widget, "slow").get_attribute("data-status") == "running"
        text = panel.inner_text()
        assert "completed" in text
        assert "Oslo" in text  # the DataFrame's head as a table
        assert "people" in text
        assert panel.locator("table").count() >= 1
        panel.screenshot(path=str(OUTPUT / "inspector_table.png"))

        _node(widget, "noisy").click()
        widget.locator(".dagron-inspector[data-node='noisy'][data-ready]").wait_for()
        text = panel.inner_text()
        assert "Traceback" in text
        assert "ValueError: noisy gave up <on purpose>" in text  # escaped, shown as text
        assert "noisy saw 3 rows" in text  # what the task printed
        assert "def noisy(table):" in text  # its source
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        cells.nth(1).locator(".jp-OutputArea").first.screenshot(
            path=str(SCREENSHOTS / "inspector.png")
        )
        page.keyboard.press("Escape")
        widget.locator(".dagron-inspector").wait_for(state="hidden")
        assert page.evaluate("document.activeElement.getAttribute('data-node')") == "noisy"
    except Exception:
        _failure_shot(page, "inspector")
        raise
    finally:
        _close(lab, page)


@pytest.mark.timeout(180)
def test_cancel_button_lets_running_tasks_finish_and_cancels_the_rest(
    lab: Lab, browser: Browser
) -> None:
    page, cells = _open(lab, browser, LIVE_NOTEBOOK)
    try:
        _run_cell(page, cells.nth(0))
        _run_cell(page, cells.nth(2))
        widget = cells.nth(2).locator(".dagron-live")
        _wait_status(widget, "first", "running")
        _wait_status(widget, "second", "running")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        widget.screenshot(path=str(SCREENSHOTS / "live-midrun.png"))
        widget.locator("button.dagron-cancel").click()
        phase = widget.locator(".dagron-phase")
        # the button shows "cancelling…" at once; the kernel's own text follows
        expected = "cancelling: waiting for 2 running tasks: first, second"
        page.wait_for_function(
            "([el, text]) => el.textContent === text", arg=[phase.element_handle(), expected]
        )
        assert phase.inner_text() == expected
        (lab.root / CANCEL_GO).touch()
        for name in ("first", "second"):  # running tasks finish
            _wait_status(widget, name, "completed")
        for name in ("third", "fourth"):
            _wait_status(widget, name, "cancelled")
        page.wait_for_function("(el) => el.textContent === 'cancelled'", arg=phase.element_handle())
        header = widget.locator(".dagron-header").inner_text()
        assert "2/4 done" in header
        assert "2 cancelled" in header
    except Exception:
        _failure_shot(page, "cancel")
        raise
    finally:
        _close(lab, page)


@pytest.mark.timeout(180)
def test_second_interrupt_returns_the_cell_at_once(lab: Lab, browser: Browser) -> None:
    page, cells = _open(lab, browser, INTERRUPT_NOTEBOOK)
    try:
        _run_cell(page, cells.nth(0))
        _run_cell(page, cells.nth(1))
        widget = cells.nth(1).locator(".dagron-live")
        _wait_status(widget, "sleeper", "running")
        interrupt = page.locator(
            ".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']"
        )
        interrupt.click()
        phase = widget.locator(".dagron-phase")
        page.wait_for_function(
            "(el) => el.textContent.startsWith('cancelling')", arg=phase.element_handle()
        )
        assert phase.inner_text() == "cancelling: waiting for 1 running task: sleeper"
        prompt = cells.nth(1).locator(".jp-InputPrompt")
        assert "*" in prompt.inner_text()  # the first interrupt waits for `sleeper`
        started = time.monotonic()
        interrupt.click()
        page.wait_for_function(
            "(p) => /\\[\\d+\\]/.test(p.textContent)", arg=prompt.element_handle(), timeout=10_000
        )
        returned = time.monotonic() - started
        print(f"the cell returned {returned:.2f} s after the second interrupt")
        # while `sleeper` still sleeps (30 s): the cell returned, the node abandoned
        assert returned < 1.0, f"the cell took {returned:.2f} s to return"
        _wait_status(widget, "sleeper", "cancelled", timeout=10_000)
        output = cells.nth(1).locator(".jp-OutputArea").inner_text()
        assert "interrupted twice" in output or "KeyboardInterrupt" in output
    except Exception:
        _failure_shot(page, "interrupt")
        raise
    finally:
        _close(lab, page)


def _set_theme(lab: Lab, theme: str) -> None:
    """JupyterLab's theme through its settings API (what Settings > Theme does)."""
    url = f"{lab.url}/lab/api/settings/@jupyterlab/apputils-extension:themes?token={lab.token}"
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(url, data=body, method="PUT")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 204)


@pytest.mark.timeout(180)
def test_dark_theme_has_no_white_box(lab: Lab, browser: Browser) -> None:
    from PIL import Image

    _set_theme(lab, "JupyterLab Dark")
    page, cells = _open(lab, browser, DARK_NOTEBOOK)
    try:
        page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
        _run_cell(page, cells.nth(0))
        _run_cell(page, cells.nth(1))
        # the run ends before the view's hello reaches the kernel: the output
        # turns from the static picture back into the widget when it does
        widget = cells.nth(1).locator(".dagron-live")
        _wait_status(widget, "report", "completed")
        page.wait_for_function(
            "(el) => el.textContent === 'finished'",
            arg=widget.locator(".dagron-phase").element_handle(),
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / "dark-theme.png"
        cells.nth(1).locator(".jp-OutputArea").first.screenshot(path=str(shot))
        background = page.evaluate(
            "getComputedStyle(document.body).getPropertyValue('--jp-layout-color0').trim()"
        )
        # a second view of the same output shows the widget's current state
        widget.click(button="right")
        page.get_by_text("Create New View for Cell Output").click()
        second = page.locator(".jp-LinkedOutputView .dagron-live")
        _wait_status(second, "report", "completed")
        assert second.locator(".dagron-phase").inner_text() == "finished"
    except Exception:
        _failure_shot(page, "dark")
        raise
    finally:
        _close(lab, page)
        _set_theme(lab, "JupyterLab Light")
    with Image.open(shot) as image:
        raw = image.convert("RGB").tobytes()  # getdata() is deprecated in Pillow 12
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    white = sum(1 for r, g, b in pixels if min(r, g, b) >= 245)
    dark = sum(1 for r, g, b in pixels if max(r, g, b) <= 80)
    # no white box: almost no white pixels; the theme's dark background dominates
    assert white / len(pixels) < 0.01, (white, len(pixels), background)
    assert dark / len(pixels) > 0.5, (dark, len(pixels), background)


def _kernels_idle(lab: Lab) -> bool:
    with urllib.request.urlopen(f"{lab.url}/api/kernels?token={lab.token}", timeout=10) as r:
        return all(k["execution_state"] == "idle" for k in json.load(r))


@pytest.mark.timeout(180)
def test_a_tab_closed_during_the_run_shows_the_final_picture_when_reopened(
    lab: Lab, browser: Browser
) -> None:
    page, cells = _open(lab, browser, RECONNECT_NOTEBOOK)
    try:
        _run_cell(page, cells.nth(0))
        _run_cell(page, cells.nth(1))
        widget = cells.nth(1).locator(".dagron-live")
        _wait_status(widget, "fetch", "running")
        page.keyboard.press("Control+s")  # what autosave does: the file has the live view
        page.wait_for_function("() => !document.title.startsWith('*')")
        page.locator(".jp-mod-dirty").wait_for(state="detached")
    except Exception:
        _failure_shot(page, "reconnect")
        page.close()
        raise
    page.close()  # the tab closes while `fetch` still sleeps; the kernel goes on
    deadline = time.monotonic() + 60
    while not _kernels_idle(lab):  # polling an external server until the run is over
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{lab.url}/lab/tree/{RECONNECT_NOTEBOOK}?token={lab.token}")
        cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
        widget = cells.nth(1).locator(".dagron-live")
        _wait_status(widget, "use", "completed")  # the model lives on in the kernel
        _wait_status(widget, "fetch", "completed")
        assert "model not found" not in cells.nth(1).locator(".jp-OutputArea").inner_text()
        assert widget.locator(".dagron-phase").inner_text() == "finished"
    except Exception:
        _failure_shot(page, "reconnect")
        raise
    finally:
        _close(lab, page)


def _edit_cell(page: Page, cell: Locator, source: str) -> None:
    """Replace the cell's text the way a user does: click into its editor, select
    all, type the new text (inserted as is: no auto-indent or auto-brackets)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)
    page.wait_for_function(
        "([el, want]) => el.cmView.view.state.doc.toString() === want",
        arg=[cell.locator(".cm-content").element_handle(), source],
    )


def _rerun_cell(page: Page, cell: Locator) -> None:
    """Shift+Enter in the cell's editor; wait until its prompt changed from the last run's."""
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "([p, before]) => p.textContent !== before && /\\[(\\*|\\d+)\\]/.test(p.textContent)",
        arg=[prompt.element_handle(), before],
        timeout=10_000,
    )


@pytest.mark.timeout(180)
def test_an_edited_cell_reruns_only_the_edited_subgraph(lab: Lab, browser: Browser) -> None:
    from dagron_nb.notebook.render import STATUS_COLORS

    page, cells = _open(lab, browser, CACHE_NOTEBOOK)
    cell = cells.nth(1)
    widget = cell.locator(".dagron-live")
    try:
        _run_cell(page, cells.nth(0))
        _run_cell(page, cell)
        for name in CACHED + RERUN:  # the first run computes everything
            _wait_status(widget, name, "completed")
        page.wait_for_function(
            "(el) => el.textContent === 'finished'",
            arg=widget.locator(".dagron-phase").element_handle(),
        )
        _edit_cell(page, cell, EDITED_CELL)
        page.evaluate(ORDER_RECORDER)  # from here on: the second run only
        started = time.monotonic()
        _rerun_cell(page, cell)
        for name in RERUN:
            _wait_status(widget, name, "completed")
        output = cell.locator(".jp-OutputArea")
        output.get_by_text("3 from cache, 2 ran").wait_for()
        elapsed = time.monotonic() - started
        log: list[list[str]] = page.evaluate("window.__dagronLog")
        titles = {
            name: _node(widget, name).locator("title").text_content() or "" for name in CACHED
        }
        fills = {
            name: page.evaluate(
                "(g) => getComputedStyle(g.querySelector('path, polygon, ellipse')).fill",
                _node(widget, name).element_handle(),
            )
            for name in CACHED + RERUN
        }
        summary = output.inner_text()
    except Exception:
        _failure_shot(page, "cache_rerun")
        raise
    finally:
        _close(lab, page)
    print(f"the edited cell re-ran in {elapsed:.1f} s")

    cyan = _rgb(STATUS_COLORS[NodeStatus.CACHE_HIT])
    seen = [(node, status) for node, status, _ in log]
    first = {entry: seen.index(entry) for entry in dict.fromkeys(seen)}
    for name in CACHED:  # from the cache, cyan, never run
        assert (name, "cache-hit") in first, (name, log)
        assert (name, "running") not in first, (name, log)
        assert fills[name] == cyan, (name, fills)
        assert all(
            fill == cyan for node, status, fill in log if (node, status) == (name, "cache-hit")
        )
        assert "from cache" in titles[name], titles[name]
        # at once: cyan before the edited node has finished running
        assert first[(name, "cache-hit")] < first[("plot", "completed")], log
    completed = _rgb(STATUS_COLORS[NodeStatus.COMPLETED])
    for name in RERUN:  # the edited node and its descendant ran again
        assert first[(name, "running")] < first[(name, "completed")], (name, log)
        assert (name, "cache-hit") not in first, (name, log)
        assert fills[name] == completed, (name, fills)
    assert "3 from cache, 2 ran" in summary, summary
