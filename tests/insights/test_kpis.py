"""The KPI definitions (docs/glossary.md, insights.metrics) against a table computed by hand on the small ledger
of conftest.py: prepaid money, a waiver, a write-off, a payment reversed after the month was closed and a
payment dated inside a closed month but recorded after the close.

February 2026 as closed (fen; B1 = building 1, bob's territory; B2 = building 2):

| figure                     | B1    | B2    | total | how                                                            |
|----------------------------|-------|-------|-------|----------------------------------------------------------------|
| 当期应收 billed            | 20000 | 20000 | 40000 | four February lines of 10000                                   |
| 当期实收 collected         | 20000 |     0 | 20000 | U1 prepaid applied 02-01, U2 paid 02-20                        |
| 应收户数 / 结清户数        | 2 / 2 | 2 / 0 | 4 / 2 | 收费率 50.00 %, 户收费率 50.00 %                             |
| 月初陈欠 old_start         |     0 | 20000 | 20000 | January open on 01-31: U3 10000 (waiver came 02-05), U4 10000  |
| 清欠实收 old_collected     |     0 |  6000 |  6000 | U3 paid 6000 on 02-10 → 清欠率 30.00 %                          |
| 陈欠减免 old_relieved      |     0 |  4000 |  4000 | U3's waiver approved 02-05 (also 本月减免 waived)              |
| 月末当期欠费               |     0 | 20000 | 20000 | U3 and U4 February                                             |
| 月末陈欠                   |     0 | 10000 | 10000 | U4 January (paid only on 03-03)                                |
| 逾期 1–30 天 (due 02-15)   |     0 | 20000 | 20000 |                                                                |
| 逾期 31–90 天 (due 01-15)  |     0 | 10000 | 10000 |                                                                |
| 预存余额 prepaid           |  5000 |     0 |  5000 | U1: 25000 received − 20000 applied                             |

After the close: U2's 02-20 payment is reversed (B1: collected −10000, settled −1, open and 1–30 +10000) and a
transfer of 3000 dated 02-27 is recorded for U4 (B2: collected +3000, open and 1–30 −3000): each shows as its
own adjustment revision; the closing rows stay as they were.

March 2026 (after all of it): billed 40000, collected 5000 (U1's last prepaid 03-01), relieved 10000 (U3's
write-off 03-20), households 4 / 1 (U3 settled by the write-off), 月初陈欠 37000 (Jan U4 10000; Feb U2 10000,
U3 10000, U4 7000), 清欠实收 15000 (U4 on 03-03: Jan 10000 + Feb 5000), 月末当期欠费 25000, 月末陈欠 22000,
1–30 days 25000, 31–90 days 22000, prepaid 0, 本月核销 10000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from wuye.insights.metrics import Window, rows
from wuye.insights.models import FigureKind, MonthClose, MonthFigure
from wuye.insights.selectors import month_figures, rollup, total
from wuye.insights.services import month_close

pytestmark = pytest.mark.django_db
FEB, MAR = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
TODAY = dt.date(2026, 12, 4)

FEB_B1 = {"billed_fen": 20000, "collected_fen": 20000, "relieved_fen": 0, "units_billed": 2, "units_settled": 2,
          "old_start_fen": 0, "old_collected_fen": 0, "old_relieved_fen": 0, "current_open_fen": 0,
          "old_open_fen": 0, "age_30_fen": 0, "age_90_fen": 0, "prepaid_fen": 5000, "waived_fen": 0}
FEB_B2 = {"billed_fen": 20000, "collected_fen": 0, "relieved_fen": 0, "units_billed": 2, "units_settled": 0,
          "old_start_fen": 20000, "old_collected_fen": 6000, "old_relieved_fen": 4000, "current_open_fen": 20000,
          "old_open_fen": 10000, "age_30_fen": 20000, "age_90_fen": 10000, "prepaid_fen": 0, "waived_fen": 4000}
MAR_TOTAL = {"billed_fen": 40000, "collected_fen": 5000, "relieved_fen": 10000, "units_billed": 4,
             "units_settled": 1, "old_start_fen": 37000, "old_collected_fen": 15000, "old_relieved_fen": 0,
             "current_open_fen": 25000, "old_open_fen": 22000, "age_30_fen": 25000, "age_90_fen": 22000,
             "age_180_fen": 0, "age_over_3y_fen": 0, "prepaid_fen": 0, "written_off_fen": 10000, "waived_fen": 0}


def _by(month, dim):
    return {f.key: f for f in rollup(month, dim)}


def _check(values: dict, expected: dict) -> None:
    assert {k: values[k] for k in expected} == expected


def test_february_as_closed_matches_the_hand_computed_table(small_ledger, alice, bob):
    closing, written = month_close(period=FEB, actor_label="test", today=TODAY)
    assert written > 0 and closing.revisions == 0
    month = month_figures(FEB, user=alice, today=TODAY)
    assert month.source == "close"
    b1, b2 = small_ledger["b1"], small_ledger["b2"]
    by_building = _by(month, "building")
    _check(by_building[(small_ledger["project"].pk, b1.pk)].values, FEB_B1)
    _check(by_building[(small_ledger["project"].pk, b2.pk)].values, FEB_B2)
    company = total(month)
    assert company.collection_rate == Decimal("50.00")
    assert company.household_rate == Decimal("50.00")
    assert company.clearance_rate == Decimal("30.00")
    assert company.values["age_over_3y_fen"] == 0 and company.values["written_off_fen"] == 0
    collectors = _by(month, "collector")
    _check(collectors[(bob.pk,)].values, FEB_B1)  # bob's territory is building 1
    _check(collectors[(None,)].values, FEB_B2)    # nobody answers for building 2
    items = _by(month, "fee_item")
    assert items[(small_ledger["project"].pk, small_ledger["item"].pk)].values["collected_fen"] == 20000


def test_late_entries_after_the_close_show_as_adjustment_lines(small_ledger, alice):
    from wuye.billing.services import payment_reverse

    month_close(period=FEB, actor_label="test", today=TODAY)
    closed = list(MonthFigure.objects.filter(kind=FigureKind.CLOSE).order_by("id").values())
    _, again = month_close(period=FEB, actor_label="test", today=TODAY)
    assert again == 0 and MonthClose.objects.get().revisions == 0  # idempotent: nothing changed, nothing written

    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    _, n = month_close(period=FEB, actor_label="test", today=TODAY)
    assert n == 2  # building 1: the row of the fee item and the all-items row
    adj = MonthFigure.objects.get(kind=FigureKind.ADJUST, revision=1, fee_item__isnull=True)
    assert adj.building_id == small_ledger["b1"].pk
    assert (adj.collected_fen, adj.units_settled, adj.current_open_fen, adj.age_30_fen, adj.prepaid_fen) == \
        (-10000, -1, 10000, 10000, 0)

    small_ledger["pay"]("U4", 3000, "2026-02-27", ref="BANK-0227")  # dated in February, recorded now
    call_command("close_month", "--period", "2026-02", "--today", "2026-12-04")
    adj2 = MonthFigure.objects.get(kind=FigureKind.ADJUST, revision=2, fee_item__isnull=True)
    assert adj2.building_id == small_ledger["b2"].pk
    assert (adj2.collected_fen, adj2.current_open_fen, adj2.age_30_fen, adj2.old_collected_fen) == \
        (3000, -3000, -3000, 0)
    assert list(MonthFigure.objects.filter(kind=FigureKind.CLOSE).order_by("id").values()) == closed

    month = month_figures(FEB, user=alice, today=TODAY)
    company = total(month)
    assert company.values["collected_fen"] == 20000 - 10000 + 3000
    assert company.adjust["collected_fen"] == -7000
    assert company.collection_rate == Decimal("32.50")
    # the ledger recomputed from scratch says the same as snapshot + adjustments
    fresh = rows(Window.of(FEB))
    assert sum(v["collected_fen"] for k, v in fresh.items() if k[3] is None) == company.values["collected_fen"]


def test_march_after_everything(small_ledger, alice):
    from wuye.billing.services import payment_reverse

    payment_reverse(actor=alice, payment=small_ledger["late_feb"], reason="银行退票")
    small_ledger["pay"]("U4", 3000, "2026-02-27", ref="BANK-0227")
    month = month_figures(MAR, user=alice, today=TODAY, compute=True)
    assert month.source == "computed"  # not closed yet: from the ledger (pages show "not closed" instead)
    _check(total(month).values, MAR_TOTAL)
    assert total(month).clearance_rate == Decimal("40.54")  # 15000 / 37000


def test_the_month_in_progress_is_live_and_partial(small_ledger, alice):
    """As of 2026-03-10 March's lines are not overdue yet; the 1–30 bucket holds February's."""
    month = month_figures(MAR, user=alice, today=dt.date(2026, 3, 10), compute=True)
    assert month.source == "live"  # the provisional snapshot, written because there was none
    company = total(month)
    assert company.values["collected_fen"] == 5000 and company.values["old_collected_fen"] == 15000
    assert company.values["written_off_fen"] == 0  # approved on 03-20
    # February open on 03-10: U3 10000, U4 5000 (its 03-03 payment paid January and half of February)
    assert (company.values["age_30_fen"], company.values["age_90_fen"]) == (15000, 0)
    assert MonthFigure.objects.filter(kind=FigureKind.LIVE).exists()


def test_a_month_cannot_be_closed_before_it_ends(small_ledger):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        month_close(period=dt.date(2026, 12, 1), today=TODAY)
