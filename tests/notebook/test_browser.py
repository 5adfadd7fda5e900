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
    from playwright.sync_api import Locator, Page

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


def _write_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext dagron_nb"),
            nbformat.v4.new_code_cell(CELL),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)


def _lab_settings(config_dir: Path) -> None:
    """User settings that keep JupyterLab quiet: no news or update toasts."""
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture(scope="module")
def lab(prerequisites: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    _write_notebook(root / NOTEBOOK)
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


@pytest.mark.timeout(180)  # ~15 s here; room for a loaded CI machine
def test_dagron_cell_in_jupyterlab(lab: Lab) -> None:
    from playwright.sync_api import sync_playwright

    from dagron_nb.notebook.render import STATUS_COLORS

    started = time.monotonic()
    screenshot = OUTPUT / "dagron_jupyterlab.png"
    for stale in ("dagron_jupyterlab_failure.png", "browser_console.log"):
        (OUTPUT / stale).unlink(missing_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
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
                    label: Array.from(g.querySelectorAll("text")).map(t => t.textContent).join(""),
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
            browser.close()
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
    assert done == f"{len(FINAL)}/{len(FINAL)} done"
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
