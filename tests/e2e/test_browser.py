"""A real browser visits every page of `streamlit run streamlit_app.py` on the demo cohort.

Needs Debian's chromium (`apt-get install -y chromium`); skipped without it unless
VOE_REQUIRE_E2E=1 (as in CI), where its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: url path → text that must appear on that page
PAGES: dict[str, str] = {
    "": "Voice Outcome Explorer",
    "cohort": "Validation report",
    "audio": "Sliding windows",
    "train": "Hyper-parameters of this run",
    "results": "Test (patient level)",
    "explain": "In plain words",
    "patient": "Why the model thinks so",
    "present": "Slide 1 of",
    "predict": "A recording (WAV or FLAC)",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_cohort_dir: Path, demo_runs_root: Path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("VOE_REQUIRE_E2E") == "1":
            pytest.fail(f"chromium not found at {CHROMIUM}; CI must install it")
        pytest.skip("chromium is not installed")
    work = tmp_path_factory.mktemp("e2e")
    demo = work / "demo_cohort"
    shutil.copytree(demo_cohort_dir, demo)
    shutil.copytree(demo_runs_root, work / "runs")
    env = dict(
        os.environ, VOE_DEMO_DIR=str(demo), VOE_RUNS_DIR=str(work / "runs"), VOE_CACHE_DIR=str(work / "cache")
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {proc.stdout.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a loaded machine: a page run may still be finishing
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chrome
        chrome.close()


@pytest.fixture(scope="module")
def opened(server: str, browser) -> str:
    """Open the app's root once, as `streamlit run` does: the entry script registers the
    navigation, after which every page's URL resolves (Streamlit falls back to the bare
    pages/ folder for a deep link into a server that never ran its entry script)."""
    page = browser.new_page()
    page.goto(server, wait_until="networkidle")
    page.get_by_text("Voice Outcome Explorer").first.wait_for(timeout=60_000)
    page.close()
    return server


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_without_error(opened: str, browser, path: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(f"{opened}/{path}", wait_until="networkidle")
    page.get_by_text(PAGES[path], exact=False).first.wait_for(timeout=60_000)
    # Let the script finish: the "running" indicator disappears when the run completes.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    charts = page.locator(".js-plotly-plot")
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2000)  # tables and charts paint after the script finishes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{path or 'overview'}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    # The sections of st.navigation, not Streamlit's bare pages/ listing.
    assert page.locator('[data-testid="stNavSectionHeader"]').count() >= 2
    page.close()


def test_clicking_a_point_explains_that_segment(opened: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(f"{opened}/explain", wait_until="networkidle")
    page.get_by_text("In plain words").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    # The probability strip is the chart whose traces carry segment ids.
    strip = (
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".find(gd => gd.calcdata && gd.data.some(t => t.customdata))"
    )
    page.wait_for_function(f"() => {strip} !== undefined", timeout=30_000)
    # The last trace's first point: its segment id and name, and where Plotly drew it.
    locate = f"""() => {{
        const gd = {strip};
        const t = gd.calcdata.length - 1, point = gd.calcdata[t][0];  // points keep the data's order
        const area = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return {{id: Number(gd.data[t].customdata[0][0]), name: String(gd.data[t].customdata[0][1]),
                x: area.left + gd._fullLayout.xaxis.l2p(point.x),
                y: area.top + gd._fullLayout.yaxis.l2p(point.y)}};
    }}"""
    shows = (
        "(text) => [...document.querySelectorAll('[data-testid=stSelectbox] input')]"
        ".some(e => e.value.includes(text))"
    )
    for attempt in range(3):  # a click that lands while the chart redraws is lost, for a user too
        target = page.evaluate(locate)
        page.mouse.click(target["x"], target["y"])  # Plotly's drag layer hit-tests it, as for a user's mouse
        try:
            page.wait_for_function(shows, arg=target["name"], timeout=20_000)
            break
        except Exception:
            if attempt == 2:
                raise
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def _settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )


def test_a_second_cohort_loads_from_a_folder_and_its_link_reopens_it(
    opened: str, browser, pd_root: Path
) -> None:
    """A user types the pd_vowels folder into the sidebar: 81 real speakers load, and the URL
    then carries the cohort, so the link opens the same cohort on another page."""
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(f"{opened}/cohort", wait_until="networkidle")
    page.get_by_text("Validation report").first.wait_for(timeout=60_000)
    _settled(page)
    sources = page.locator('[data-testid="stSidebar"] [role="radiogroup"] label')
    sources.filter(has_text="A folder on this machine").click()
    _settled(page)
    folder = page.locator('[data-testid="stSidebar"] input[aria-label="Cohort folder"]').first
    folder.fill(str(pd_root))
    folder.press("Enter")
    page.get_by_text("81 patients · 81 recordings · 0 errors").first.wait_for(timeout=120_000)
    _settled(page)
    assert "class_folders" in page.inner_text("body")
    assert page.locator('[data-testid="stException"]').count() == 0
    link = page.url
    assert "cohort=" in link
    page.close()
    other = browser.new_page(viewport={"width": 1400, "height": 1600})
    other.goto(link.replace("/cohort?", "/?"), wait_until="networkidle")
    other.get_by_text("Voice Outcome Explorer").first.wait_for(timeout=60_000)
    _settled(other)
    metrics = other.locator('[data-testid="stMetric"]')
    metrics.first.wait_for(timeout=60_000)
    texts = [metrics.nth(i).inner_text() for i in range(metrics.count())]
    assert any("Patients" in t and "81" in t for t in texts), texts
    assert "is not that cohort" in other.inner_text("body")  # the demo run is not paired with it
    assert other.locator('[data-testid="stException"]').count() == 0
    other.close()
