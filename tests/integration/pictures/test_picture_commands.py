"""The pieces of ``htdag graph GOAL --svg FILE`` and ``htdag timeline RUN --svg
FILE``: they write SVG, and a path that cannot be written or a run that does not
exist is a clear HtdagError (exit code 2 once htdag.cli maps it)."""

from __future__ import annotations

import argparse
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from htdag.core.engine import AsyncEngine
from htdag.errors import HtdagError, NoDecomposition, PictureWriteError, UnknownRunError
from htdag.pictures import arun_picture
from htdag.pictures.cli import add_parsers, run_graph, run_timeline

from .._support import running_worker
from ._pictures import fan_flow, rects


def parse(dsn: str, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="htdag")
    parser.add_argument("--url")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["--url", dsn, *argv])


async def test_graph_plans_without_running_and_writes_svg(dsn: str, tmp_path: Path,
                                                          engine: AsyncEngine,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    target = tmp_path / "graph.svg"
    await run_graph(parse(dsn, "graph", "compare postgres with redis", "--svg", str(target)))
    svg = target.read_text(encoding="utf-8")
    ET.fromstring(svg)
    assert len(rects(svg, "node")) >= 3
    assert "wrote" in capsys.readouterr().out
    assert await engine.list_runs() == []  # planned, not run


async def test_timeline_writes_svg(dsn: str, tmp_path: Path, engine: AsyncEngine) -> None:
    flow = fan_flow("pictures-cli")
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 3})
        await run.wait(10)
    target = tmp_path / "timeline.svg"
    await run_timeline(parse(dsn, "timeline", str(run.run_id), "--svg", str(target)))
    assert len(rects(target.read_text(encoding="utf-8"), "bar")) == 5


async def test_an_unwritable_path_fails_before_any_work(dsn: str, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "graph.svg"
    with pytest.raises(PictureWriteError, match="does not exist") as info:
        await run_graph(parse(dsn, "graph", "compare postgres with redis", "--svg",
                              str(target)))
    assert str(target) in str(info.value) and isinstance(info.value, HtdagError)
    with pytest.raises(PictureWriteError):
        await run_timeline(parse(dsn, "timeline", str(uuid.uuid4()), "--svg", str(tmp_path)))


async def test_a_goal_no_decomposer_can_plan_writes_nothing(dsn: str, tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    with pytest.raises(NoDecomposition):
        await run_graph(parse(dsn, "graph", "juggle seven flaming torches", "--svg",
                              str(target)))
    assert not target.exists()


async def test_an_unknown_run_has_no_timeline(dsn: str, tmp_path: Path) -> None:
    missing = uuid.uuid4()
    with pytest.raises(UnknownRunError, match=str(missing)):
        await run_timeline(parse(dsn, "timeline", str(missing), "--svg",
                                 str(tmp_path / "t.svg")))
    assert not (tmp_path / "t.svg").exists()


async def test_saving_a_run_picture_to_an_unwritable_path(engine: AsyncEngine,
                                                         tmp_path: Path) -> None:
    flow = fan_flow("pictures-save")
    async with running_worker(engine, [flow]):
        run = await engine.start(flow, {"n": 1})
        await run.wait(10)
    picture = await arun_picture(engine, run.run_id)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(PictureWriteError) as info:
        picture.save(tmp_path / "a-file" / "run.svg")
    assert "a-file/run.svg" in str(info.value)
    assert picture.save(tmp_path / "run.svg").read_text(encoding="utf-8") == picture.svg
