"""QR codes the pages show, drawn here as SVG (no script, no image service)."""

from __future__ import annotations

import io

import segno
from markupsafe import Markup


def svg(text: str, scale: int = 6) -> bytes:
    """A QR code of `text` as an SVG document."""
    drawn = io.BytesIO()
    segno.make(text, error="m").save(drawn, kind="svg", scale=scale, border=2, xmldecl=False)
    return drawn.getvalue()


def inline_svg(text: str, label: str, scale: int = 5) -> Markup:
    """A QR code of `text` to put in a page as it is: an `<svg>` element named `label`."""
    # A viewBox rather than a size, so the page's style sets how large it shows.
    drawn = segno.make(text, error="m").svg_inline(
        scale=scale, border=2, title=label, svgclass="qr-code", omitsize=True
    )
    return Markup(drawn)
