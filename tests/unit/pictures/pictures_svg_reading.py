"""Reading the SVG of a picture back in tests: parsed with xml.etree (so it must
be well-formed), its boxes and arrows by class."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    classes: frozenset[str]
    title: str

    def overlaps(self, other: Rect) -> bool:
        return (self.x < other.x + other.width and other.x < self.x + self.width
                and self.y < other.y + other.height and other.y < self.y + self.height)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def rects(svg: str, css_class: str) -> list[Rect]:
    """The rect elements with ``css_class`` among their classes."""
    found = []
    for el in parse(svg).iter(f"{NS}rect"):
        classes = frozenset(el.get("class", "").split())
        if css_class in classes:
            title = el.find(f"{NS}title")
            found.append(Rect(float(el.get("x", 0)), float(el.get("y", 0)),
                              float(el.get("width", 0)), float(el.get("height", 0)),
                              el.get("fill", ""), classes,
                              title.text or "" if title is not None else ""))
    return found


def texts(svg: str) -> list[str]:
    return [el.text or "" for el in parse(svg).iter(f"{NS}text")]


def edges(svg: str) -> list[list[tuple[float, float]]]:
    """Each arrow's points."""
    found = []
    for el in parse(svg).iter(f"{NS}polyline"):
        if "edge" in el.get("class", "").split():
            points = [tuple(float(v) for v in p.split(",")) for p in el.get("points", "").split()]
            found.append([(p[0], p[1]) for p in points])
    return found


def title(svg: str) -> str:
    el = parse(svg).find(f"{NS}title")
    assert el is not None
    return el.text or ""
