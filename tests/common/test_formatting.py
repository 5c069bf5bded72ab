from decimal import Decimal

import pytest

from wuye.common.formatting import format_yuan, mask_email, mask_id_number, mask_phone, yuan_to_fen

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only


def test_it_masks_mobile_numbers_the_chinese_way():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"


def test_it_masks_landlines_and_short_values():
    assert mask_phone("0571-87654321") == "0571****4321"
    assert mask_phone("123") == "****"
    assert mask_phone("") == ""


def test_it_masks_id_numbers_and_emails():
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_email("zhangwei@example.com") == "z***@example.com"


def test_it_formats_fen_as_yuan_with_thousands():
    assert format_yuan(123450) == "¥1,234.50"
    assert format_yuan(5) == "¥0.05"
    assert format_yuan(-100) == "-¥1.00"


def test_it_converts_yuan_to_fen_exactly_and_refuses_float():
    assert yuan_to_fen(Decimal("1234.505")) == 123451
    assert yuan_to_fen("0.01") == 1
    with pytest.raises(TypeError):
        yuan_to_fen(0.1)
