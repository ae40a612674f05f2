"""Each committed report opens in headless Chromium without errors and shows what it should.

Uses Debian's `chromium` (installed by .ci/run) driven by Playwright; no browser is
downloaded. Screenshots are saved to test-artifacts/screenshots/ for the reviewer of a change.
On a machine without Chromium the test is skipped with a loud reason.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "test-artifacts" / "screenshots"
REPORTS = sorted((ROOT / "reports").glob("*/report.html"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    warnings.warn("BROWSER TEST SKIPPED: no chromium on this machine (apt-get install chromium)")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="SKIPPED LOUDLY: chromium is not installed; run .ci/run or "
                             "`apt-get install chromium` to check reports in a browser")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, path: Path, width: int = 1200, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: requests.append(req.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, requests


def numbers(cells) -> list[float]:
    """The numbers in a column's cells, in page order (blank and suppressed cells left out)."""
    return [float(v.replace(",", "")) for v in cells.all_inner_texts() if v not in ("", "[c]")]


def test_there_are_three_reports():
    assert len(REPORTS) >= 3, "run `make repro`"


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
def test_report_renders_with_summary_figures_and_tables(browser, report):
    page, errors, requests = open_page(browser, report)
    assert errors == [], errors
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert external == [], f"the report fetched from the network: {external}"
    assert page.locator("h2", has_text="Summary for commissioners").is_visible()
    assert page.locator("nav.toc a").count() >= 6
    images = page.locator("img")
    assert images.count() >= 3
    for i in range(images.count()):
        img = images.nth(i)
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), f"image {i} did not load"
        assert img.get_attribute("alt"), f"image {i} has no alt text"
    assert page.locator("table").count() >= 3
    code = page.locator("details.code").first
    assert not code.locator("pre").first.is_visible(), "code must be folded by default"
    code.locator("summary").click()
    assert code.locator("pre").first.is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{report.parent.name}.png"), full_page=True)
    page.close()


def test_tables_sort_when_a_header_is_clicked(browser):
    page, errors, _ = open_page(browser, REPORTS[0])
    table = page.locator("table").nth(1)
    header = table.locator("thead th").nth(4)
    cells = table.locator("tbody tr td:nth-child(5)")
    header.click()
    values = numbers(cells)
    assert values == sorted(values)
    header.click()
    values = numbers(cells)
    assert values == sorted(values, reverse=True)
    assert errors == []


def test_tables_sort_from_the_keyboard(browser):
    page, errors, _ = open_page(browser, REPORTS[0])
    table = page.locator("table").nth(1)
    header = table.locator("thead th").nth(4)
    cells = table.locator("tbody tr td:nth-child(5)")
    assert header.get_attribute("tabindex") == "0", "a sort header must be reachable by Tab"
    assert header.get_attribute("aria-sort") == "none"
    header.focus()
    page.keyboard.press("Enter")
    assert header.get_attribute("aria-sort") == "ascending"
    values = numbers(cells)
    assert values == sorted(values)
    page.keyboard.press("Space")
    assert header.get_attribute("aria-sort") == "descending"
    values = numbers(cells)
    assert values == sorted(values, reverse=True)
    assert errors == []
    page.close()


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
def test_the_question_and_answer_are_on_the_first_screen(browser, report):
    # a commissioner at 1280 x 800 sees the summary heading and the first answer bullet
    # without scrolling
    page, errors, _ = open_page(browser, report, 1280, 800)
    heading = page.locator("h2", has_text="Summary for commissioners")
    answer = page.locator("xpath=//h2[contains(., 'Summary for commissioners')]/following::li[1]")
    for what, loc in (("heading", heading), ("first answer bullet", answer)):
        box = loc.bounding_box()
        assert box is not None, f"no {what}"
        assert box["y"] + box["height"] <= 800, f"the {what} ends {box['y'] + box['height']:.0f} " \
                                                f"px down, below the first screen (800 px)"
    assert errors == []
    page.close()


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 800)])
def test_no_code_toggle_before_the_title_and_key_messages(browser, report, width, height):
    # On a phone as on a laptop the page opens with the title, then the summary's key
    # messages; no "Show code" toggle sits above or between them (issue 11).
    page, errors, _ = open_page(browser, report, width, height)
    messages = page.locator(
        "xpath=//h2[contains(., 'Summary for commissioners')]/following::ul[1]").bounding_box()
    title = page.locator("h1").first.bounding_box()
    assert messages is not None and title is not None, "no title or key messages"
    end = messages["y"] + messages["height"]
    tops = page.evaluate("""() => [...document.querySelectorAll('details.code')]
        .filter(e => e.getClientRects().length).map(e => e.getBoundingClientRect().top)""")
    above = [round(t) for t in tops if t < end]
    assert above == [], (f"{len(above)} code toggle(s) at {above} px, above the end of the key "
                         f"messages ({end:.0f} px) at {width} px wide")
    assert errors == []
    page.close()


# printable width of A4 (210 mm) less 10 mm margins each side, at 96 CSS px per inch
A4_CSS_PX = round((210 - 20) / 25.4 * 96)
PAGES = REPORTS + [ROOT / "reports" / "index.html"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.parent.name if p.name != "index.html"
                         else "index")
def test_no_horizontal_overflow_on_a_phone(browser, path):
    page, errors, _ = open_page(browser, path, 390, 844)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    assert errors == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{path.parent.name}-390.png"))
    page.close()


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.parent.name)
def test_print_layout_hides_code_and_contents(browser, report):
    page, errors, _ = open_page(browser, report)
    assert page.locator("details.code").count() > 0
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_CSS_PX, "height": 1000})
    shown = page.evaluate("""() => [...document.querySelectorAll('details.code, nav.toc')]
        .filter(e => getComputedStyle(e).display !== 'none').length""")
    assert shown == 0, f"{shown} code toggles or contents boxes would be printed"
    assert page.locator("h2", has_text="Summary for commissioners").is_visible()
    too_wide = page.evaluate("""() => [...document.querySelectorAll('img, table')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .length""")
    assert too_wide == 0, f"{too_wide} figures or tables are cut at the page edge in print"
    assert errors == []
    page.close()


def test_index_links_every_report(browser):
    page, errors, _ = open_page(browser, ROOT / "reports" / "index.html")
    for report in REPORTS:
        link = page.locator(f'a[href="{report.parent.name}/report.html"]')
        assert link.count() == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "index.png"), full_page=True)
    assert errors == []
