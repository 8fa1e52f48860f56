"""Flows and helpers of the picture tests: runs made by real workers on a real
PostgreSQL, and their SVG read back (parsed with xml.etree)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

from htdag import Flow, NonRetryableError

NS = "{http://www.w3.org/2000/svg}"
GREEN, RED, BLUE = "#aceebb", "#ffcecb", "#b6e3ff"


def rects(svg: str, css_class: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [el for el in root.iter(f"{NS}rect") if css_class in el.get("class", "").split()]


def titles(elements: list[ET.Element]) -> list[str]:
    return [(el.findtext(f"{NS}title") or "") for el in elements]


def texts(svg: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(svg).iter(f"{NS}text")]


def fan_flow(name: str = "pictures") -> Flow:
    """split -> square (map) -> total."""
    flow = Flow(name)

    @flow.step()
    def split(inp: dict[str, Any]) -> list[int]:
        return list(range(int(inp["run"]["n"])))

    @flow.step(depends_on=["split"], map=True)
    def square(x: int) -> int:
        return x * x

    @flow.step(depends_on=["square"])
    def total(inp: dict[str, Any]) -> int:
        return sum(inp["square"])

    return flow


def failing_flow() -> Flow:
    flow = Flow("pictures-failing")

    @flow.step()
    def first(inp: Any) -> int:
        return 1

    @flow.step(depends_on=["first"])
    def broken(inp: Any) -> int:
        raise NonRetryableError("the broken step broke")

    @flow.step(depends_on=["broken"])
    def never(inp: Any) -> int:
        return 0

    return flow


def gated_map_flow(gate: asyncio.Event, open_below: int) -> Flow:
    """A map step whose elements below ``open_below`` finish at once; the others
    wait for ``gate``."""
    flow = Flow("pictures-gated")

    @flow.step(map=True)
    async def work(x: int) -> int:
        if x >= open_below:
            await gate.wait()
        return x

    return flow
