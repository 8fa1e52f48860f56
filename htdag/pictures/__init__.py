"""Pictures of graphs, flows, runs and timelines, as SVG drawn offline.

grandalf lays the DAGs out (imported when a picture is drawn); the SVG is our
own: no script, no web font, no web service. Nothing here is imported by
``import htdag``; ``TaskGraph`` and ``Flow`` import it when a notebook displays
them.

- ``graph_svg(graph)``, ``flow_svg(flow)``: what will run.
- ``run_svg(details, tree=..., definitions=...)``, ``arun_picture(engine, run_id)``,
  ``run_picture(engine, run_id)``: a run coloured by status, child runs nested.
- ``timeline_svg(tree)``, ``atimeline(engine, run_id)``, ``timeline(engine, run_id)``:
  a Gantt chart of a run tree's tasks.
- ``awatch(engine, run_id)``, ``watch(engine, run_id)``: a live picture in a notebook.
- ``Picture``: SVG text with ``_repr_svg_`` and ``save(path)``."""

from .graphs import flow_picture, flow_svg, graph_picture, graph_svg
from .live import awatch, watch
from .picture import Picture, PictureWriteError
from .runs import arun_picture, run_picture, run_svg
from .timeline import atimeline, timeline, timeline_svg

__all__ = [
    "Picture", "PictureWriteError",
    "graph_svg", "flow_svg", "graph_picture", "flow_picture",
    "run_svg", "arun_picture", "run_picture",
    "timeline_svg", "atimeline", "timeline",
    "awatch", "watch",
]
