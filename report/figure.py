"""The figure record every drawing function returns, and the one way figures are saved.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg backend
(no display, no pyplot global state), saved as PNG in the output folder.

>>> import tempfile
>>> from pathlib import Path
>>> fig = new_figure(4, 3)
>>> _ = fig.subplots().plot([0, 1], [0, 1])
>>> out = save(fig, Path(tempfile.mkdtemp()), "line")
>>> out.name, out.read_bytes()[:8] == PNG_MAGIC
('line.png', True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: First eight bytes of every PNG file.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

#: Resolution of the saved PNGs.
DPI = 110

#: One colour per model/heuristic, the same in every figure (seaborn "colorblind").
PALETTE: tuple[str, ...] = (
    "#0173b2",
    "#de8f05",
    "#029e73",
    "#d55e00",
    "#cc78bc",
    "#ca9161",
    "#fbafe4",
    "#949494",
    "#ece133",
    "#56b4e9",
)


@dataclass
class ReportFigure:
    """One saved figure and the numbers shown beside it in the report."""

    #: File name inside the output folder (``plays_per_entity.png``).
    filename: str
    title: str
    #: One or two sentences on how to read it.
    caption: str
    #: Label -> value already formatted for display, in display order.
    numbers: dict[str, str] = field(default_factory=dict)
    #: Which section of the report it belongs to: ``data`` or ``model``.
    section: str = "data"


def new_figure(width: float, height: float) -> Figure:
    """A blank figure of ``width`` x ``height`` inches with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def style_axes(ax: Axes) -> None:
    """Light grid behind the data, no top/right spines."""
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def save(fig: Figure, out_dir: Path, stem: str) -> Path:
    """Write ``fig`` as ``out_dir/stem.png`` and return the path."""
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=DPI, format="png")
    return path


def fmt_int(value: float | int) -> str:
    """``129310`` -> ``129,310``."""
    return f"{int(value):,}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """``0.748`` -> ``74.8%``; ``None`` -> ``-``."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def fmt_float(value: float | None, digits: int = 4) -> str:
    """Fixed decimals; ``None`` -> ``-``."""
    return "-" if value is None else f"{value:.{digits}f}"
