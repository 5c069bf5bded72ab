"""Single effect for a form or an API request that can arrive twice (decision 204).

A double-clicked 确认收款, a browser resending a form after a slow answer, a phone's field app retrying an upload
on a flaky network, a second server behind the load balancer: each sends the same request again, and each
copy would record the payment or the contact again. Every form that records something carries a one-time
key (``{% once_field %}``, a fresh random key each time the form is drawn); an API client may send the
``Idempotency-Key`` header. The key is claimed — a row in ``common.Submission``, unique per user — inside the
transaction of what the request does:

- the first copy inserts the key, does its work and stores its result (the page it redirected to, or the API
  response) in the same commit;
- a copy arriving meanwhile, from any process, waits on the key's unique index until the first commits, then
  finds the key taken and answers with the first one's result: the same page with a note, or the same API
  response marked ``Idempotent-Replayed: true``;
- when the first copy fails (its transaction rolls back) or answers with the form again (a validation error,
  nothing recorded), the key is free again, so the corrected form can be sent with it.

A form posted without a key (an old page, a script) is handled as before, without the guarantee. Keys are
kept ``WUYE_SUBMISSION_RETENTION_DAYS`` days (a nightly job deletes older ones).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

FIELD = "_once"
HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
REPLAYED = "这张表单刚才已经提交过，本次没有重复记录；下面是第一次提交的结果。"
REDIRECTS = (301, 302, 303, 307, 308)


def new_key() -> str:
    """A fresh key for one drawing of a form (24 URL-safe characters, 144 random bits)."""
    return secrets.token_urlsafe(18)


def _claim(user, key: str, path: str, fingerprint: str = ""):
    """Insert the key inside the caller's transaction. Returns None when this request holds it now, else the
    earlier submission (read after its transaction committed: a racing insert waits on the unique index)."""
    from wuye.common.models import Submission

    try:
        with transaction.atomic():
            Submission.objects.create(user=user, key=key, path=path[:200], fingerprint=fingerprint)
    except IntegrityError:
        return Submission.objects.get(user=user, key=key)
    return None


def _release(user, key: str) -> None:
    from wuye.common.models import Submission

    Submission.objects.filter(user=user, key=key).delete()


def _store(user, key: str, **result) -> None:
    from wuye.common.models import Submission

    Submission.objects.filter(user=user, key=key).update(**result)


def _failed(request) -> bool:
    """The view said the submission failed (an error message queued for the next page): nothing was recorded."""
    storage = getattr(request, "_messages", None)
    return any(m.level >= messages.ERROR for m in getattr(storage, "_queued_messages", []))


def once_per_submit(view):
    """For a view that records something on POST. A second copy of the same form (same ``_once`` key, same
    user) records nothing and is answered with the first one's result: a redirect to where the first went,
    or for an htmx request (a one-tap button answered with a piece of page) the first one's piece again.

    The key is released — the form may be sent again with it — when the view answered with the form (for a
    plain post any answer but a redirect, for htmx any answer but 200) or queued an error message."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        key = request.POST.get(FIELD, "") if request.method == "POST" else ""
        if not key or not request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if not KEY_RE.match(key):
            return HttpResponseBadRequest("表单的提交键无效，请刷新页面后重新填写。".encode(),
                                          content_type="text/plain; charset=utf-8")
        htmx = request.headers.get("HX-Request") == "true"
        with transaction.atomic():
            earlier = _claim(request.user, key, request.path)
            if earlier is None:
                response = view(request, *args, **kwargs)
                if _failed(request):
                    _release(request.user, key)  # nothing recorded: the key may be used again
                elif response.status_code in REDIRECTS:
                    _store(request.user, key, result_url=response["Location"][:500], status_code=response.status_code)
                elif htmx and response.status_code == 200:
                    _store(request.user, key, status_code=200, body={"html": response.content.decode()})
                else:
                    _release(request.user, key)
                return response
        if earlier.path != request.path[:200]:
            return HttpResponseBadRequest("该提交键已用于另一张表单，请刷新页面后重新填写。".encode(),
                                          content_type="text/plain; charset=utf-8")
        if htmx and earlier.body is not None:
            return HttpResponse(earlier.body.get("html", ""))
        messages.info(request, REPLAYED)
        target = earlier.result_url
        if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = request.get_full_path()
        return redirect(target)

    return wrapped


def _fingerprint(request) -> str:
    """What makes two API requests the same request: the body, or for a multipart upload (a visit's photo,
    read in chunks, never whole into memory) its fields and each file's name and size."""
    if (request.content_type or "").startswith("multipart/"):
        parts = []
        for name in sorted(request.data.keys()):
            values = request.data.getlist(name) if hasattr(request.data, "getlist") else [request.data[name]]
            for v in values:
                parts.append(f"{name}=<file {v.name} {v.size}>" if hasattr(v, "size") and hasattr(v, "name")
                             else f"{name}={v}")
        raw = "\n".join(parts).encode()
    else:
        raw = request.body
    return hashlib.sha256(raw).hexdigest()


def idempotent(method):
    """For a DRF view's ``post``: with an ``Idempotency-Key`` header, a repeat of the same request by the same
    user gets the first answer again (header ``Idempotent-Replayed: true``) and records nothing; the same key
    with another body or on another address is refused (422). A request that failed may be sent again."""
    from rest_framework.exceptions import APIException, ValidationError
    from rest_framework.response import Response

    class KeyReused(APIException):
        status_code = 422
        default_code = "idempotency_key_reused"
        default_detail = "该幂等键已用于另一个请求；新的请求请使用新的幂等键。"

    @wraps(method)
    def wrapped(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "")
        if not key:
            return method(self, request, *args, **kwargs)
        if not KEY_RE.match(key):
            raise ValidationError({HEADER: "幂等键须为 16–64 位字母、数字、“-”或“_”。"})
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            earlier = _claim(request.user, key, request.path, fingerprint)
            if earlier is None:
                response = method(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
                    _store(request.user, key, status_code=response.status_code, body=body)
                else:
                    _release(request.user, key)
                return response
        if earlier.path != request.path[:200] or earlier.fingerprint != fingerprint:
            raise KeyReused()
        response = Response(earlier.body, status=earlier.status_code or 200)
        response["Idempotent-Replayed"] = "true"
        return response

    return wrapped


def submissions_purge(*, now=None) -> int:
    """Delete keys older than the retention period (a nightly job); returns how many."""
    from wuye.common.models import Submission

    now = now or timezone.now()
    days = int(getattr(settings, "WUYE_SUBMISSION_RETENTION_DAYS", 30))
    deleted, _ = Submission.objects.filter(created_at__lt=now - timedelta(days=days)).delete()
    return deleted
