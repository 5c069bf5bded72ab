"""Posting a bank statement's payments: billing's public bulk service, under the names banking used.

The set-based posting of many payments belongs to billing (``wuye.billing.bulk.payments_record_bulk``, also
exported by ``wuye.billing.services``): it applies billing's own rules (checks, method limits, receipt
numbers, allocation order, late fees charged at settlement). Banking only builds the drafts.
"""

from __future__ import annotations

from wuye.billing.bulk import PaymentDraft, notify_arrears_reduced, payments_record_bulk

__all__ = ["PaymentDraft", "notify_arrears_reduced", "payments_record_bulk"]
