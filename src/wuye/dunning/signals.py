"""Signals the collection engine sends so that casework can react without dunning knowing it.

``promises_broken`` is sent after the daily run committed the chunk that found promises to pay whose date
passed unpaid (their holds are released with outcome "broken").
"""

from django.dispatch import Signal

promises_broken = Signal()  # kwargs: hold_ids (list[int]), on (datetime.date)
