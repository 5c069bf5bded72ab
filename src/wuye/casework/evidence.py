"""Photos taken at a visit, kept as evidence: bounded size (``WUYE_VISIT_PHOTO_MAX_BYTES``), JPEG or PNG decided
by the content (never the name or the browser's word), decoded and re-encoded — which drops anything riding
along, EXIF location included (PIPL: minimal data) — and stored with the SHA-256 of the stored bytes, the time
and the collector. The checks are wuye.common.images, shared with legal's delivery proofs."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from wuye.common.images import JPEG, PNG, reencode, sniff

EXTENSIONS = {JPEG: ".jpg", PNG: ".png"}


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
    kind = sniff(data)
    if kind not in (JPEG, PNG):
        raise ValidationError("只接受 JPG 或 PNG 照片（按文件内容识别）。")
    return reencode(data, kind, "照片"), (getattr(upload, "name", "") or "photo")[:200], kind


def stored_file(data: bytes, kind: str) -> tuple[ContentFile, str]:
    """The file to save and its SHA-256 (named by the hash: two uploads of one photo are the same file)."""
    digest = hashlib.sha256(data).hexdigest()
    return ContentFile(data, name=digest[:32] + EXTENSIONS[kind]), digest
