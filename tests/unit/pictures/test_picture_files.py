"""A Picture displays itself in Jupyter and saves to a file; a path that cannot
be written raises PictureWriteError, naming the path and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from htdag.core.errors import HtdagError
from htdag.errors import PictureWriteError
from htdag.pictures import Picture
from htdag.pictures.picture import check_writable
from htdag.pictures.timeline import _tick_step

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'


def test_a_picture_is_its_svg_in_jupyter() -> None:
    picture = Picture(SVG, "tiny")
    assert picture._repr_svg_() == SVG == picture.svg
    assert "tiny" in repr(picture)


def test_save_writes_the_svg(tmp_path: Path) -> None:
    target = tmp_path / "graph.svg"
    assert Picture(SVG).save(target) == target
    assert target.read_text(encoding="utf-8") == SVG


def test_save_into_a_missing_folder_says_which_path_and_why(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "folder" / "graph.svg"
    with pytest.raises(PictureWriteError) as info:
        Picture(SVG).save(target)
    assert str(target) in str(info.value)
    assert "No such file or directory" in str(info.value)
    assert isinstance(info.value, HtdagError)


def test_save_onto_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PictureWriteError, match="it is a directory"):
        Picture(SVG).save(tmp_path)


def test_save_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(PictureWriteError, match="Not a directory"):
        Picture(SVG).save(tmp_path / "file" / "graph.svg")


def test_a_path_is_checked_before_any_work(tmp_path: Path) -> None:
    assert check_writable(tmp_path / "ok.svg") == tmp_path / "ok.svg"
    with pytest.raises(PictureWriteError, match="does not exist"):
        check_writable(tmp_path / "missing" / "x.svg")
    with pytest.raises(PictureWriteError, match="is a directory"):
        check_writable(tmp_path)


@pytest.mark.parametrize(("total", "step"), [(0.7, 0.2), (3.0, 0.5), (12.0, 2.0),
                                             (60.0, 10.0), (0.004, 0.001)])
def test_time_axis_ticks_are_round(total: float, step: float) -> None:
    assert _tick_step(total) == pytest.approx(step)
