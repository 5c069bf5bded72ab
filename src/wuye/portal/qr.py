"""QR codes from reportlab's QR encoder (already a dependency): as a module matrix, as inline SVG for the
owner pages, and drawn straight onto a PDF canvas for printed notices."""

from __future__ import annotations

from functools import lru_cache

from reportlab.graphics.barcode import qrencoder


def qr_matrix(text: str, *, mask: int | None = None) -> list[list[bool]]:
    """The dark (True) and light modules of ``text`` at error correction level M, smallest version that
    fits. ``mask`` fixes the mask pattern (0–7; any of them is a valid code) instead of trying all eight
    for the one that scans best — eight times faster, for printing a thousand notices."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(text)
    if mask is None:
        qr.make()
    else:
        qr.version = qr.calculate_version()
        qr.makeImpl(False, mask)
    return qr.modules


@lru_cache(maxsize=512)  # an order page opened again (a reload, back from the wallet app) draws no new code
def qr_svg(text: str, *, size_px: int = 220, border: int = 4) -> str:
    """One ``<svg>`` with one path: dark modules as unit squares, ``border`` modules of quiet zone (5–9 ms:
    the eight masks are all tried, for the code that scans best)."""
    modules = qr_matrix(text)
    count = len(modules)
    parts = []
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                parts.append(f"M{c + border},{r + border}h1v1h-1z")
    full = count + 2 * border
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_px}" height="{size_px}" '
            f'viewBox="0 0 {full} {full}" shape-rendering="crispEdges" role="img" aria-label="支付二维码">'
            f'<rect width="{full}" height="{full}" fill="#fff"/><path fill="#000" d="{"".join(parts)}"/></svg>')


@lru_cache(maxsize=512)
def qr_png_data_uri(text: str, *, scale: int = 8, border: int = 4) -> str:
    """The code as a PNG ``data:`` URI (Pillow, already there with reportlab): an ``<img>`` of it is what
    WeChat's built-in browser offers to recognise on a long press (识别图中二维码)."""
    import base64
    import io

    from PIL import Image

    modules = qr_matrix(text)
    full = len(modules) + 2 * border
    image = Image.new("1", (full, full), 1)
    pixels = image.load()
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                pixels[c + border, r + border] = 0
    image = image.resize((full * scale, full * scale), Image.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def qr_draw(canvas, text: str, x: float, y: float, side: float, *, mask: int | None = 2) -> None:
    """Draw the code of ``text`` on a reportlab canvas in the square (x, y, side), quiet zone included:
    one filled rectangle per horizontal run of dark modules (a few hundred drawing operations)."""
    modules = qr_matrix(text, mask=mask)
    count = len(modules)
    cell = side / (count + 8)  # 4 modules of quiet zone on each side
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(modules):
        top = y + side - (r + 4 + 1) * cell
        c = 0
        while c < count:
            if row[c]:
                start = c
                while c < count and row[c]:
                    c += 1
                canvas.rect(x + (start + 4) * cell, top, (c - start) * cell, cell, stroke=0, fill=1)
            else:
                c += 1
    canvas.restoreState()
