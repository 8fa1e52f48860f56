"""Picture: SVG text that Jupyter displays and that can be saved to a file."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import HtdagError


class PictureWriteError(HtdagError, OSError):
    """A picture could not be written to the path given: choose a writable path."""


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raises PictureWriteError now if a picture could not be written to ``path``
    (no such folder, a directory, no permission), before any work is done."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise PictureWriteError(f"cannot write the picture to {str(target)!r}: it is a "
                                "directory; give a file name such as picture.svg")
    if not folder.is_dir():
        raise PictureWriteError(f"cannot write the picture to {str(target)!r}: the folder "
                                f"{str(folder)!r} does not exist; create it or choose another")
    if not os.access(target if target.exists() else folder, os.W_OK):
        raise PictureWriteError(f"cannot write the picture to {str(target)!r}: permission "
                                "denied; choose a path you may write to")
    return target


class Picture:
    """An SVG picture of a graph, a flow, a run or a timeline.

    In a notebook it displays itself (``_repr_svg_``); ``.svg`` is its text;
    ``.save(path)`` writes it."""

    def __init__(self, svg: str, title: str = "") -> None:
        self.svg = svg
        self.title = title

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the SVG to ``path`` (UTF-8) and returns the path; raises
        PictureWriteError naming the path and the reason when it cannot."""
        target = Path(path)
        if target.is_dir():
            raise PictureWriteError(f"cannot write the picture to {str(target)!r}: it is a "
                                    "directory; give a file name such as picture.svg")
        try:
            target.write_text(self.svg, encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise PictureWriteError(f"cannot write the picture to {str(target)!r}: {reason}; "
                                    "choose a path in a folder that exists and that you may "
                                    "write to") from exc
        return target

    def __repr__(self) -> str:
        return f"<Picture {self.title!r}: {len(self.svg)} characters of SVG>"
