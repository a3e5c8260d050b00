"""Look at a page as its users get it: a screenshot at desktop and phone widths, axe-core (the copy bundled
by axe-playwright-python) with no violation, colour contrast included, nothing wider than the viewport,
and the contrast of every visible link and button measured from its rendered colours (axe reports a
button whose background it cannot work out as "incomplete", not as a violation: blue on blue passed it).

``schemes=("light", "dark")`` looks at the page in both ``prefers-color-scheme`` modes."""

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


#: Every visible link and button whose text contrast against its rendered background is below WCAG AA
#: (4.5:1; 3:1 for large text), with both colours. The background is the first opaque one found walking
#: up from the element (semi-transparent layers are blended onto what is below them).
CONTROL_CONTRAST_JS = """() => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const parts = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const blend = (top, bottom) => ({r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
                                   b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const background = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage && style.backgroundImage !== 'none') return null;  // a gradient or image: axe's job
      const colour = parse(style.backgroundColor);
      if (colour && colour.a > 0) { layers.push(colour); if (colour.a >= 1) break; }
    }
    let result = {r: 255, g: 255, b: 255, a: 1};
    if (layers.length && layers[layers.length - 1].a >= 1) result = layers.pop();
    while (layers.length) result = blend(layers.pop(), result);
    return result;
  };
  const luminance = (c) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  };
  const found = [];
  const controls = document.querySelectorAll('a[href], button, input[type=submit], input[type=button], [role=button], summary');
  for (const element of controls) {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (box.width < 2 || box.height < 2 || box.right <= 0 || box.bottom <= 0 || style.visibility === 'hidden'
        || Number(style.opacity) === 0) continue;
    const text = (element.innerText || element.value || '').trim();
    if (!text) continue;
    const bg = background(element);
    if (!bg) continue;
    let fg = parse(style.color);
    if (!fg) continue;
    if (fg.a < 1) fg = blend(fg, bg);
    const [light, dark] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < needed) found.push(`${element.tagName.toLowerCase()} "${text.slice(0, 40)}": ${ratio.toFixed(2)}:1 `
      + `(${style.color} on rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)}), needs ${needed}:1)`);
  }
  return found;
}"""


def look_at(page, name: str, widths=WIDTHS, schemes=("light",)) -> list[Path]:
    """Screenshot ``page`` at each width (and colour scheme) into ``test-artifacts/<name>-<width>.png``
    (``<name>-dark-<width>.png`` for the dark scheme) and check it.

    :raises AssertionError: on an axe-core violation, a link or button below AA contrast, or a page
        wider than the viewport.
    """
    shots = []
    for scheme in schemes:
        page.emulate_media(color_scheme=scheme)
        shots += _look(page, name if scheme == "light" else f"{name}-{scheme}", widths)
    if schemes != ("light",):
        page.emulate_media(color_scheme="light")
    return shots


def _look(page, name: str, widths) -> list[Path]:
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
        low = page.evaluate(CONTROL_CONTRAST_JS)
        assert not low, f"{name} at {width}px: links or buttons below AA contrast: {low}"
        results = Axe().run(page)
        assert results.violations_count == 0, f"{name} at {width}px:\n{_report(results)}"
        shot = ARTIFACTS / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    return shots


def _report(results) -> str:
    # axe-playwright-python's own report fails on a target inside a shadow root (a list of selectors,
    # as in the widget): say the rule, the element and axe's message ourselves.
    try:
        return results.generate_report()
    except TypeError:
        return "\n".join(
            f"{violation['id']}: {' >> '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
            for violation in results.response["violations"] for node in violation["nodes"]
        )
