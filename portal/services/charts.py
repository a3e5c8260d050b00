"""Geometry of the staff pages' server-rendered SVG charts (templates draw them; no JavaScript).

A chart is a plain data structure: bars with their coordinates in the chart's ``viewBox``, axis ticks
and a legend. Colours are CSS classes of ``advocacy-admin.css``, never inline styles.

A year by day is 730 to 1,095 bars per chart. Their ``<rect>`` elements are written here in one pass
(:meth:`Chart.bars_svg`) rather than by a template loop, and the bars are kept as plain tuples: a
template loop escaped six attributes per bar, and thousands of bar objects alive through the request
were promoted to the collector's oldest generation, setting off full collections of the whole process.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from markupsafe import Markup
from markupsafe import escape


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    #: The bar's value in words (the SVG ``<title>``: a tooltip, and read by screen readers).
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    #: Left edge and bottom of the plot area.
    left: float
    bottom: float
    #: ``(x, y, width, height, css, title)`` per bar: the fields of :class:`Bar`, as plain tuples.
    rows: list[tuple[float, float, float, float, str, str]] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False

    @property
    def bars(self) -> list[Bar]:
        """The bars, as :class:`Bar` objects (for templates that draw them themselves)."""
        return [Bar(*row) for row in self.rows]

    def bars_svg(self) -> Markup:
        """The ``<rect>`` of every bar that has a size, each with its ``<title>`` (tooltip, and what a
        screen reader says), as markup for the chart's ``<svg>``."""
        return Markup("".join([
            f'<rect class="advocacy-bar {escape(css)}" x="{x}" y="{y}" width="{width}" height="{height}">'
            f"<title>{escape(title)}</title></rect>"
            for x, y, width, height, css, title in self.rows
            if width > 0 and height > 0
        ]))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def column_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    value_label: Callable[[float], str] = str,
    *,
    width: int = 640,
    height: int = 240,
    max_x_labels: int = 8,
) -> Chart:
    """Grouped columns: one group per label, one column per series (``(name, css class, values)``)."""
    left, right, top, bottom = 88.0, 8.0, 8.0, height - 28.0
    chart = Chart(width=width, height=height, left=left, bottom=bottom,
                  legend=[(css, name) for name, css, _ in series])
    peak = max((value for _, _, values in series for value in values), default=0)
    chart.empty = peak <= 0
    top_value = _nice_max(peak)
    plot_height = bottom - top
    for step in range(5):
        value = top_value * step / 4
        chart.y_ticks.append(Tick(bottom - plot_height * step / 4, value_label(value)))
    count = max(1, len(labels))
    slot = (width - left - right) / count
    gap = slot * 0.2 if slot > 4 else 0
    column = (slot - gap) / max(1, len(series))
    every = max(1, -(-count // max_x_labels))
    for index, label in enumerate(labels):
        x0 = left + index * slot + gap / 2
        if index % every == 0:
            chart.x_ticks.append(Tick(x0 + (slot - gap) / 2, label))
        for number, (name, css, values) in enumerate(series):
            value = values[index] if index < len(values) else 0
            bar_height = plot_height * value / top_value if value > 0 else 0
            chart.rows.append(
                (round(x0 + number * column, 2), round(bottom - bar_height, 2), round(max(column, 0.5), 2),
                 round(bar_height, 2), css, f"{label}, {name}: {value_label(value)}")
            )
    return chart


def bar_chart(
    rows: Sequence[tuple[str, str, float]],
    value_label: Callable[[float], str] = str,
    *,
    width: int = 640,
    row_height: int = 36,
) -> Chart:
    """Horizontal bars, one per ``(label, css class, value)``, scaled to the largest."""
    left, right = 150.0, 90.0
    height = row_height * max(1, len(rows)) + 8
    chart = Chart(width=width, height=height, left=left, bottom=float(height))
    peak = max((value for _, _, value in rows), default=0)
    chart.empty = peak <= 0
    plot_width = width - left - right
    for index, (label, css, value) in enumerate(rows):
        bar_width = plot_width * value / peak if peak > 0 and value > 0 else 0
        y = 4 + index * row_height
        chart.rows.append((left, y + 6, round(bar_width, 2), row_height - 12, css, f"{label}: {value_label(value)}"))
        chart.y_ticks.append(Tick(y + row_height / 2, label))
        chart.x_ticks.append(Tick(left + bar_width + 6, value_label(value)))
    return chart
