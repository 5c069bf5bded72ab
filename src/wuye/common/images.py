"""Uploaded images kept as evidence (legal's delivery proofs, casework's visit photos): the type decided by the
content, never the name or the browser's word, and the picture decoded and re-encoded, which drops anything
riding along (EXIF location, appended data)."""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
MAX_PIXELS = 40_000_000


def sniff(data: bytes) -> str | None:
    """JPEG, PNG or PDF by the first bytes; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:5] == b"%PDF-":
        return PDF
    return None


def reencode(data: bytes, kind: str, noun: str = "图片") -> bytes:
    """``data`` (a JPEG or PNG) decoded, bounded in pixels and encoded again; ``ValidationError`` naming
    ``noun`` (图片, 照片) when it is too large or not a picture."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(f"{noun}像素过多，请缩小后上传。")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            out = io.BytesIO()
            if kind == JPEG:
                img.convert("RGB").save(out, "JPEG", quality=90)
            else:
                img.save(out, "PNG")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(f"{noun}文件已损坏或无法识别。") from exc
    return out.getvalue()
