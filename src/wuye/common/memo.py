"""A memo for the length of one request: what a page works out about its user more than once — the projects a
manager is assigned to, a collector's territories — is read from the database once per request, not once per
selector (the manager's insights page asked for the same assigned projects four times).

``RequestMemoMiddleware`` opens the memo around each request; outside a request (jobs, commands, the shell,
tests calling selectors directly) nothing is memoized and every call reads the database, as before. A change
to what is memoized within the request (a user's projects, a territory) empties the memo (``accounts.apps``),
so a view that changes someone's scope and then reads it sees the change. Nothing outlives its request."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict | None] = ContextVar("wuye_request_memo", default=None)


@contextlib.contextmanager
def request_memo() -> Iterator[dict]:
    """Within the block, ``memoized`` keeps what it computes (one fresh memo per block)."""
    token = _memo.set({})
    try:
        yield _memo.get()
    finally:
        _memo.reset(token)


def memoized(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per request for ``key``; every call outside a request computes."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def forget() -> None:
    """Empty the current request's memo (something it holds has changed)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


class RequestMemoMiddleware:
    """Opens a fresh ``request_memo()`` around the view and the rendering of its response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_memo():
            return self.get_response(request)
