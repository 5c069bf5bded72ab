"""Checks on uploaded evidence: bounded size, type decided by the content (never the name or the browser's
word), images decoded and re-encoded (which drops anything riding along, such as EXIF location or appended
data), PDFs checked for their structure and refused when they carry scripts or launch actions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from wuye.common.images import JPEG, PDF, PNG, reencode, sniff

EXTENSIONS = {JPEG: ".jpg", PNG: ".png", PDF: ".pdf"}
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


def _pdf_ok(data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise ValidationError("PDF 文件不完整（缺少文件结尾）。")
    if any(marker in data for marker in PDF_ACTIVE):
        raise ValidationError("PDF 含有脚本、附件或启动动作，不予接收；请另存为普通 PDF 后上传。")


def check_proof(upload) -> tuple[bytes, str, str]:
    """(bytes to store, original name, content type) of a delivery proof: a JPEG or PNG photo or scan, or a PDF."""
    data, name = _read(upload)
    kind = sniff(data)
    if kind is None:
        raise ValidationError("只接受 JPG、PNG 图片或 PDF 文件（按文件内容识别）。")
    if kind == PDF:
        _pdf_ok(data)
        return data, name, kind
    return reencode(data, kind), name, kind


def check_pdf(upload) -> tuple[bytes, str]:
    """A PDF document (the law firm's issued letter)."""
    data, name = _read(upload)
    if sniff(data) != PDF:
        raise ValidationError("请上传 PDF 文件（按文件内容识别）。")
    _pdf_ok(data)
    return data, name
