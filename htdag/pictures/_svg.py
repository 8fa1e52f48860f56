"""A small SVG writer: boxes, text, arrows and bars, written as plain SVG text.

No CDN, no script, no web font: the pictures render offline in a notebook, a
browser or an image viewer. Every piece of text is escaped, so a task id or an
error message cannot break the document."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape as _escape

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_WIDTH = 0.62  # of the font size: an average glyph of the fonts above
Point = tuple[float, float]


def escape(text: str) -> str:
    """Text for an SVG element or attribute: &, <, >, quotes, and no control characters."""
    cleaned = "".join(ch if ch >= " " or ch == "\t" else " " for ch in text)
    return _escape(cleaned, {'"': "&quot;", "'": "&apos;"})


def text_width(text: str, size: float = 12) -> float:
    """An estimate of the width of ``text`` drawn at ``size`` (no font metrics offline)."""
    return len(text) * size * CHAR_WIDTH


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, so boxes stay narrow."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class SvgDocument:
    """An SVG picture being drawn: call the drawing methods, then :meth:`render`."""

    def __init__(self, width: float, height: float, title: str = "") -> None:
        self.width = width
        self.height = height
        self.title = title
        self._parts: list[str] = []

    def rect(self, x: float, y: float, width: float, height: float, *, fill: str,
             stroke: str = "none", radius: float = 6, dashed: bool = False,
             stroke_width: float = 1.5, css_class: str = "", tooltip: str = "") -> None:
        attrs = (f'x="{_num(x)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" '
                 f'rx="{_num(radius)}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{_num(stroke_width)}"')
        if dashed:
            attrs += ' stroke-dasharray="6 4"'
        if css_class:
            attrs += f' class="{escape(css_class)}"'
        if tooltip:
            self._parts.append(f"<rect {attrs}><title>{escape(tooltip)}</title></rect>")
        else:
            self._parts.append(f"<rect {attrs}/>")

    def text(self, x: float, y: float, content: str, *, size: float = 12, bold: bool = False,
             anchor: str = "start", fill: str = "#1f2328", mono: bool = False,
             css_class: str = "") -> None:
        weight = ' font-weight="bold"' if bold else ""
        cls = f' class="{escape(css_class)}"' if css_class else ""
        family = MONO if mono else FONT
        self._parts.append(
            f'<text x="{_num(x)}" y="{_num(y)}" font-family="{family}" font-size="{_num(size)}"'
            f' text-anchor="{anchor}" fill="{fill}"{weight}{cls}>{escape(content)}</text>')

    def line(self, points: Sequence[Point], *, stroke: str = "#57606a", width: float = 1.4,
             arrow: bool = True, dashed: bool = False, css_class: str = "") -> None:
        coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
        extra = ' marker-end="url(#htdag-arrow)"' if arrow else ""
        if dashed:
            extra += ' stroke-dasharray="4 3"'
        if css_class:
            extra += f' class="{escape(css_class)}"'
        self._parts.append(f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
                           f'stroke-width="{_num(width)}"{extra}/>')

    def render(self) -> str:
        width, height = max(self.width, 1.0), max(self.height, 1.0)
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" '
                f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}">')
        defs = ('<defs><marker id="htdag-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
                '<path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>')
        title = f"<title>{escape(self.title)}</title>" if self.title else ""
        background = f'<rect width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>'
        return "\n".join([head, title, defs, background, *self._parts, "</svg>"])
