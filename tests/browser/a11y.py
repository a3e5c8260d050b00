"""Look at a page as its users get it: a screenshot at desktop and phone widths, axe-core (the copy bundled
by axe-playwright-python) with no violation, colour contrast included, and nothing wider than the viewport."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: The widths every page is looked at: a laptop, and a phone (iPhone 12-15).
WIDTHS = (1280, 390)

#: The elements that reach past the viewport's right edge, outermost first (for the failure message).
WIDEST_JS = """() => {
  const width = window.innerWidth, found = [];
  const clipped = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(up).overflowX)) return true;
    }
    return false;
  };
  for (const element of document.querySelectorAll('body *')) {
    if (clipped(element)) continue;
    const box = element.getBoundingClientRect();
    if (box.right > width + 1) found.push(`${element.tagName.toLowerCase()}${element.id ? '#' + element.id : ''}`
      + `${element.className && typeof element.className === 'string' ? '.' + element.className.split(' ').join('.') : ''}`
      + ` (right edge ${Math.round(box.right)}px)`);
  }
  return found.slice(0, 8);
}"""


def look_at(page, name: str, widths=WIDTHS) -> list[Path]:
    """Screenshot ``page`` at each width into ``test-artifacts/<name>-<width>.png`` and check it.

    :raises AssertionError: on an axe-core violation or a page wider than the viewport.
    """
    from axe_playwright_python.sync_playwright import Axe

    ARTIFACTS.mkdir(exist_ok=True)
    shots = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)
        overflow = page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"
        )
        if overflow > 0:
            wide = page.evaluate(WIDEST_JS)
            raise AssertionError(f"{name} at {width}px is {overflow}px wider than the viewport: {wide}")
        results = Axe().run(page)
        assert results.violations_count == 0, f"{name} at {width}px:\n{results.generate_report()}"
        shot = ARTIFACTS / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    return shots
