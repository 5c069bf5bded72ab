"""Photos taken at a visit, kept as evidence: bounded size (``WUYE_VISIT_PHOTO_MAX_BYTES``), JPEG or PNG decided
by the content (never the name or the browser's word), decoded and re-encoded — which drops anything riding
along, EXIF location included (PIPL: minimal data) — and stored with the SHA-256 of the stored bytes, the time
and the collector. The same rules as legal's delivery proofs, for images only."""

from __future__ import annotations

import hashlib
import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

JPEG, PNG = "image/jpeg", "image/png"
EXTENSIONS = {JPEG: ".jpg", PNG: ".png"}
MAX_PIXELS = 40_000_000


def max_bytes() -> int:
    return int(getattr(settings, "WUYE_VISIT_PHOTO_MAX_BYTES", 10 * 1024 * 1024))


def check_photo(upload) -> tuple[bytes, str, str]:
    """(bytes to store, original name, content type) of a visit photo; ``ValidationError`` in Chinese."""
    limit = max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(f"照片过大（{size / 1048576:.1f} MB），上限 {limit // 1048576} MB。")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"照片过大，上限 {limit // 1048576} MB。")
    if not data:
        raise ValidationError("照片文件是空的。")
    if data[:3] == b"\xff\xd8\xff":
        kind = JPEG
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        kind = PNG
    else:
        raise ValidationError("只接受 JPG 或 PNG 照片（按文件内容识别）。")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError("照片像素过多，请缩小后上传。")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            out = io.BytesIO()
            if kind == JPEG:
                img.convert("RGB").save(out, "JPEG", quality=90)
            else:
                img.save(out, "PNG")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError("照片文件已损坏或无法识别。") from exc
    return out.getvalue(), (getattr(upload, "name", "") or "photo")[:200], kind


def stored_file(data: bytes, kind: str) -> tuple[ContentFile, str]:
    """The file to save and its SHA-256 (named by the hash: two uploads of one photo are the same file)."""
    digest = hashlib.sha256(data).hexdigest()
    return ContentFile(data, name=digest[:32] + EXTENSIONS[kind]), digest
