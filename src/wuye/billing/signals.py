"""Signals billing sends so that lower modules (dunning, casework) can react without billing knowing them.

``arrears_reduced`` is sent inside the transaction that reduced what a unit owes (a payment, an approved
waiver or void); receivers run in that transaction, so they commit or roll back with it. Receivers must be
quick and must not fail on ordinary data.
"""

from django.dispatch import Signal

arrears_reduced = Signal()  # kwargs: unit_id (int), on (datetime.date)
# The same news for many units at once (bulk posting, e.g. a bank statement): a module that listens to
# ``arrears_reduced`` listens to this too, with a set-based reaction.
arrears_reduced_many = Signal()  # kwargs: units (dict[int, datetime.date])
