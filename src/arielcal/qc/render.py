"""Figure plumbing shared by every QC figure: the object-API figure, its title, contact-time lines, PNG output."""

from __future__ import annotations

import io
import math

from .. import formats

DPI = 80
# Report copies: at most this wide, 256-colour palette (a full-size figure is ~250 KB).
REPORT_MAX_WIDTH_PX = 900
CONTACTS = ("t1_h", "t2_h", "t3_h", "t4_h")


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _window_lines(ax, window) -> None:
    for name in CONTACTS if window is not None else ():
        ax.axvline(window[name], color="0.5", lw=0.8, ls="--")


def _finish(fig, title: str):
    fig.suptitle(title)
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.1, top=0.86, wspace=0.3, hspace=0.55)
    return fig


def _or_nan(value) -> float:
    return math.nan if value is None else float(value)


def png_bytes(fig, dpi: int = DPI, max_width_px: int | None = None) -> bytes:
    """The figure as PNG; with ``max_width_px``, scaled down to it and reduced to 256 colours."""
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")
    if max_width_px is None:
        return buffer.getvalue()
    from PIL import Image

    buffer.seek(0)
    with Image.open(buffer) as image:
        image = image.convert("RGB")
        if image.width > max_width_px:
            image = image.resize((max_width_px, round(image.height * max_width_px / image.width)), Image.LANCZOS)
        small = io.BytesIO()
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(small, format="PNG", optimize=True)
    return small.getvalue()


def save_png(fig, path, dpi: int = DPI, max_width_px: int | None = None) -> None:
    """Write the figure atomically (a killed job leaves no truncated PNG)."""
    data = png_bytes(fig, dpi, max_width_px)
    with formats.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
