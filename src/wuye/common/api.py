"""One error format for the whole API: {"error": {"code", "message", "fields"}}.

The one exception handler also turns what services and helpers raise into that shape, so an endpoint never
has to catch them itself: Django's ``ValidationError`` → 400 with its messages by field, a bad query parameter
(``wuye.common.params.BadParameter``) → 400 naming it, ``Http404`` → 404 and ``PermissionDenied`` → 403 with a
Chinese message that names no model.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from wuye.common.formatting import AMOUNT_MAX_FEN, AMOUNT_TOO_LARGE
from wuye.common.params import BIGINT_MAX, DATE_MAX, DATE_MIN, BadParameter

NOT_FOUND = "未找到，或不在您的权限范围内。"
FORBIDDEN = "您没有执行该操作的权限。"


class AmountFenField(serializers.IntegerField):
    """An amount in integer fen within the shared bound (``AMOUNT_MAX_FEN``): ``10**19`` is a 400 naming the
    field, not an overflow in the database. Each service still checks its own lower bound (more than 0, …)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", AMOUNT_MAX_FEN)
        kwargs.setdefault("min_value", -AMOUNT_MAX_FEN)
        kwargs["error_messages"] = {"invalid": "金额应为整数（分）。", "max_value": AMOUNT_TOO_LARGE,
                                    "min_value": AMOUNT_TOO_LARGE, "max_string_length": AMOUNT_TOO_LARGE,
                                    **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)


class IdField(serializers.IntegerField):
    """A record id: a positive 64-bit integer (larger is a 400, not an overflow in a lookup)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


class BoundedDateTimeField(serializers.DateTimeField):
    """A date and time within 1900–2100, as ``date_param`` bounds a date. ``0001-01-01`` read in a time zone east
    of UTC falls before year 1: DRF's own time-zone check overflowed (a 500)."""

    default_error_messages = {"out_of_range": "日期应在 1900–2100 年之间。"}

    def to_internal_value(self, value):
        try:
            result = super().to_internal_value(value)
        except OverflowError:
            self.fail("out_of_range")
        if not DATE_MIN <= result.date() <= DATE_MAX:
            self.fail("out_of_range")
        return result


def _validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in errs] for field, errs in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc, context):
    message = None
    if isinstance(exc, BadParameter):
        message = str(exc)
        exc = exceptions.ValidationError({exc.name: [exc.message]}, code="invalid_parameter")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or FORBIDDEN)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    bad_parameter = message
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        message, fields = str(data["detail"]), {}
    else:
        message, fields = bad_parameter or "提交的数据有误", data
    if bad_parameter:
        code = "invalid_parameter"
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class Pagination(PageNumberPagination):
    """?page=N&page_size=M (at most 500 a page)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
