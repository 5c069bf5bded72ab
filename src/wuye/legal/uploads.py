"""Checks on uploaded evidence: bounded size, type decided by the content (never the name or the browser's
word), images decoded and re-encoded (which drops anything riding along, such as EXIF location or appended
data), PDFs checked for their structure and refused when they carry scripts or launch actions."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.exceptions import ValidationError

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
EXTENSIONS = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf"}
MAX_PIXELS = 40_000_000
PDF_ACTIVE = (b"/JavaScript", b"/JS ", b"/JS(", b"/Launch", b"/EmbeddedFile", b"/RichMedia")


def max_bytes() -> int:
    return getattr(settings, "WUYE_LEGAL_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)


def _read(upload) -> tuple[bytes, str]:
    if upload is None:
        raise ValidationError("请选择要上传的文件。")
    limit = max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(f"文件过大（{size / 1048576:.1f} MB），上限 {limit // 1048576} MB。")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"文件过大，上限 {limit // 1048576} MB。")
    if not data:
        raise ValidationError("文件是空的。")
    return data, getattr(upload, "name", "") or "upload"


def sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:5] == b"%PDF-":
        return PDF
    return None


def _pdf_ok(data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise ValidationError("PDF 文件不完整（缺少文件结尾）。")
    if any(marker in data for marker in PDF_ACTIVE):
        raise ValidationError("PDF 含有脚本、附件或启动动作，不予接收；请另存为普通 PDF 后上传。")


def _image(data: bytes, kind: str) -> bytes:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError("图片像素过多，请缩小后上传。")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            out = io.BytesIO()
            if kind == JPEG:
                img.convert("RGB").save(out, "JPEG", quality=90)
            else:
                img.save(out, "PNG")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError("图片文件已损坏或无法识别。") from exc
    return out.getvalue()


def check_proof(upload) -> tuple[bytes, str, str]:
    """(bytes to store, original name, content type) of a delivery proof: a JPEG or PNG photo or scan, or a PDF."""
    data, name = _read(upload)
    kind = sniff(data)
    if kind is None:
        raise ValidationError("只接受 JPG、PNG 图片或 PDF 文件（按文件内容识别）。")
    if kind == PDF:
        _pdf_ok(data)
        return data, name, kind
    return _image(data, kind), name, kind


def check_pdf(upload) -> tuple[bytes, str]:
    """A PDF document (the law firm's issued letter)."""
    data, name = _read(upload)
    if sniff(data) != PDF:
        raise ValidationError("请上传 PDF 文件（按文件内容识别）。")
    _pdf_ok(data)
    return data, name
