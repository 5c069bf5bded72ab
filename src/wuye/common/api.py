"""One error format for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        message, fields = str(data["detail"]), {}
    else:
        message, fields = "提交的数据有误", data
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


class Pagination(PageNumberPagination):
    """?page=N&page_size=M (at most 500 a page)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
