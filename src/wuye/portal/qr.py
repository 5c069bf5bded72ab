"""QR codes as small inline SVG, from reportlab's QR encoder (already a dependency)."""

from __future__ import annotations

from reportlab.graphics.barcode import qrencoder


def qr_svg(text: str, *, size_px: int = 220, border: int = 4) -> str:
    """One ``<svg>`` with one path: dark modules as unit squares, ``border`` modules of quiet zone."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)  # the smallest version that fits
    qr.addData(text)
    qr.make()
    count = qr.getModuleCount()
    parts = []
    for r, row in enumerate(qr.modules):
        for c, dark in enumerate(row):
            if dark:
                parts.append(f"M{c + border},{r + border}h1v1h-1z")
    full = count + 2 * border
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_px}" height="{size_px}" '
            f'viewBox="0 0 {full} {full}" shape-rendering="crispEdges" role="img" aria-label="支付二维码">'
            f'<rect width="{full}" height="{full}" fill="#fff"/><path fill="#000" d="{"".join(parts)}"/></svg>')
