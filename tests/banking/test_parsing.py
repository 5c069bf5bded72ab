import datetime as dt

import pytest

from wuye.banking.parsing import (
    code_key,
    memo_code_keys,
    parse_amount,
    parse_date,
    parse_statement,
    payment_reference,
    preset_mapping,
    references_in,
)

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only


@pytest.mark.parametrize(("text", "fen"), [
    ("1,234.50", 123450), ("￥1234.5", 123450), ("-300.00", -30000), ("¥ 88", 8800), ("(12.30)", -1230),
    ("+5.00", 500), ("１２.３０", 1230), ("", None), ("RMB 1,000.00元", 100000),
])
def test_amounts_parse_with_decimal(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize("text", ["1.005", "12.3.4", "abc", "1,2a"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_dates_in_the_usual_shapes():
    assert parse_date("2026-03-05")[0] == dt.date(2026, 3, 5)
    assert parse_date("2026/3/5 10:22:33") == (dt.date(2026, 3, 5), dt.time(10, 22, 33))
    assert parse_date("20260305", "%Y%m%d")[0] == dt.date(2026, 3, 5)
    assert parse_date("2026年3月5日")[0] == dt.date(2026, 3, 5)
    with pytest.raises(ValueError):
        parse_date("2026-13-45")


def test_unit_codes_survive_how_people_type_them():
    assert code_key("3-2-1502") == "3-2-1502"
    assert "3-2-1502" in memo_code_keys("３－２－１５０２物业费")
    assert "3-2-1502" in memo_code_keys("交3栋2单元1502室物业费")
    assert "3-2-1502" in memo_code_keys("3/02/1502")


def test_payment_reference_has_a_check_number():
    ref = payment_reference(1234)
    assert ref.startswith("JF00001234") and len(ref) == 12
    assert references_in(f"缴费编号 {ref} 物业费") == [1234]
    wrong = ref[:-1] + str((int(ref[-1]) + 1) % 10)
    assert references_in(wrong) == []
    swapped = ref[:8] + ref[9] + ref[8] + ref[10:]
    assert references_in(swapped) == []


def test_boc_layout_signed_amounts_and_compact_dates():
    raw = ("交易日期,交易流水号,交易金额,对方账户名称,对方账号,用途,备注\n"
           "20260720,B001,\"1,200.00\",张三,6222000011112222,1-101物业费,\n"
           "20260721,B002,-35.00,银行,,手续费,\n").encode("gbk")
    result = parse_statement("boc.csv", raw, preset_mapping("boc_signed"))
    assert not result.errors
    assert [(line.amount_fen, line.txn_date) for line in result.lines] == [
        (120000, dt.date(2026, 7, 20)), (-3500, dt.date(2026, 7, 21))]
    assert result.lines[0].fingerprint == "S:B001"
