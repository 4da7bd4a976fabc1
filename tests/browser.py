"""A Snakemake report looked at the way a person would: Debian's Chromium, headless, driven by
Selenium through Debian's chromedriver (nothing downloaded). Each check returns the problems it
found, in words, so that a failing test lists all of them beside its screenshot."""

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

WIDTH, HEIGHT = 1400, 1000  # a laptop's browser window
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
RENDER_TIMEOUT = 30  # seconds for the report's scripts to draw a view


def unavailable() -> str | None:
    """Why no browser check can run here, or None."""
    if not (CHROMIUM and CHROMEDRIVER):
        return "Chromium or chromedriver missing: apt-get install chromium chromium-driver (CI does)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium missing: make install (it is a dev requirement)"
    return None


@contextmanager
def chromium(width: int = WIDTH, height: int = HEIGHT):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver, script: str, what: str):
    """The first truthy value of `script` (JavaScript returning a value), polled until RENDER_TIMEOUT."""
    deadline = time.monotonic() + RENDER_TIMEOUT
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"the report did not show {what} within {RENDER_TIMEOUT} s")


def open_report(driver, report: Path) -> None:
    driver.get(Path(report).resolve().as_uri())
    # the landing view is drawn once the rule graph's canvas is
    _wait_for(driver, "return document.querySelector('#rulegraph canvas')", "the landing page's rule graph")


# Every cell of the verdict tables: its box, and whether the topmost element at its centre is the
# cell itself (or inside it), after scrolling it into view, i.e. whether anything is drawn over it.
_CELLS = """
const out = [];
for (const [t, table] of [...document.querySelectorAll('table.verdict-table')].entries()) {
  for (const cell of table.querySelectorAll('td, th')) {
    cell.scrollIntoView({block: 'center'});
    const r = cell.getBoundingClientRect();
    const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    out.push({table: t, text: cell.textContent.trim().slice(0, 40), left: r.left, right: r.right,
              covered: !(top && cell.contains(top)),
              by: top ? (top.id || top.tagName + '.' + top.className) : 'nothing'});
  }
}
return out;
"""


def landing_problems(driver) -> list[str]:
    """What a person would object to on the landing page: its top cut off, no verdict table, a
    table wider than the window or its text column, anything drawn over a table, sideways scroll."""
    problems = []
    driver.execute_script("window.scrollTo(0, 0)")
    top = driver.execute_script(
        "const p = document.querySelector('#gmnrep-landing ~ p, .prose p');"
        "return p ? p.getBoundingClientRect().top : null"
    )
    if top is None or top < 0:
        problems.append(f"the page's first paragraph starts above the window (top {top}): its top cannot be read")
    tables = driver.execute_script(
        "return [...document.querySelectorAll('table.verdict-table')].map(t => {"
        "const r = t.getBoundingClientRect(), c = t.closest('.prose').getBoundingClientRect();"
        "return {width: r.width, column: c.width, visible: r.width > 0 && r.height > 0}})"
    )
    if not tables:
        problems.append("no verdict table (table.verdict-table) on the landing page")
    for i, table in enumerate(tables):
        if not table["visible"]:
            problems.append(f"verdict table {i + 1} is not displayed")
        if table["width"] > table["column"] + 1:
            problems.append(
                f"verdict table {i + 1} is {table['width']:.0f} px wide, its text column {table['column']:.0f}"
            )
    width = driver.execute_script("return window.innerWidth")
    for cell in driver.execute_script(_CELLS):
        where = f"verdict table {cell['table'] + 1}, cell {cell['text']!r}"
        if cell["left"] < 0 or cell["right"] > width:
            problems.append(f"{where} lies outside the {width} px window ({cell['left']:.0f}-{cell['right']:.0f})")
        elif cell["covered"]:
            problems.append(f"{where} is drawn over by {cell['by']}")
    sideways = driver.execute_script(
        "return [...document.querySelectorAll('div')].filter(d => d.contains(document.getElementById('gmnrep-landing'))"
        " && d.scrollWidth > d.clientWidth + 1).map(d => d.className)"
    )
    problems += [f"the landing page scrolls sideways (in div.{name})" for name in sideways]
    return problems


def scroll_to_top(driver) -> None:
    """Every scrolled box back at its top (the report scrolls inside its panels, not the window)."""
    driver.execute_script("document.querySelectorAll('div').forEach(d => { d.scrollTop = 0; d.scrollLeft = 0; })")


def _click(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//a[normalize-space()='{text}']").click()


# The report's tables that list files (the landing page's verdict tables list none)
FILE_TABLES = "[...document.querySelectorAll('table')].filter(t => t.innerText.startsWith('FILE'))"


def _home(driver) -> None:
    """Back to the report's main menu by the first link of its breadcrumbs (the house), as a person
    would: no file table is shown there."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "nav nav ol li a").click()
    _wait_for(driver, f"return !{FILE_TABLES}.length", "the main menu")


def listed_files(driver, report: Path) -> dict[str, list[str]]:
    """Each category's files as the menu lists them, opened by clicking as a person would (category,
    then each subcategory, then back to the main menu); AssertionError naming a category or
    subcategory that lists nothing."""
    open_report(driver, report)
    categories = driver.execute_script(
        "return Object.fromEntries(Object.entries(categories).map(([c, s]) => [c, Object.keys(s)]))"
    )
    listed = {}
    for category, subcategories in categories.items():
        listed[category] = []
        for subcategory in subcategories:
            _click(driver, category)
            if len(subcategories) > 1:  # a category with one subcategory lists its files at once
                _click(driver, subcategory)
            files = _wait_for(
                driver,
                f"return {FILE_TABLES}.flatMap(t => [...t.querySelectorAll('tbody tr')].map(r => r.innerText.trim()))",
                f"the files of {category} / {subcategory}",
            )
            listed[category] += files
            _home(driver)
    return listed
