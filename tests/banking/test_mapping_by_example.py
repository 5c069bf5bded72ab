"""Issue 17 item 6: a bank's columns and date format are chosen from a sample of its own file, by example."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from wuye.banking.models import BankAccount, StatementImport
from wuye.banking.parsing import date_format_options


def _visible(html: str) -> str:
    return re.sub(r"<[^>]*>", " ", html)


SAMPLE = ("某某银行 账户明细\n"
          "查询区间,2026-07-01,2026-07-31\n"
          "记账日,流水,收入金额,支出金额,对方名称,用途\n"
          "20260720,A0001,537.00,,业主001,1-101物业费\n"
          "20260721,A0002,179.00,,业主002,1-102\n"
          "合计,,716.00,,,\n").encode("gbk")


def test_the_sample_shows_its_columns_with_their_values_and_dates_by_example(client, fiona, icbc_account):
    client.force_login(fiona)
    url = f"/banking/accounts/{icbc_account.pk}/"
    html = client.get(url).content.decode()
    assert 'data-testid="date-format"' in html and "2026-07-20" in html
    assert "%" not in _visible(html.split('data-testid="date-format"')[1].split("</select>")[0])  # no codes shown
    r = client.post(url, {"preview": "1", "name": icbc_account.name, "bank": icbc_account.bank, "layout": "custom",
                          "m_header_row": "", "m_date": "", "m_credit": "", "m_date_format": "auto",
                          "sample": SimpleUploadedFile("sample.csv", SAMPLE)})
    html = r.content.decode()
    assert 'data-testid="sample-preview"' in html
    assert "表头行（第 3 行）" in html  # found under the title block
    # on a phone each row is a card naming its values by the header's columns (decision 203's page check)
    cards = html.split('data-testid="sample-cards"')[1].split("</ol>")[0]
    assert "第 3 行 · 表头" in cards and "收入金额：</span>537.00" in cards and "用途：</span>1-101物业费" in cards
    assert "支出金额：" not in cards.split("第 4 行")[1].split("第 5 行")[0]  # an empty cell is left out
    assert "收入金额（例：537.00、179.00）" in html and "对方名称（例：业主001、业主002）" in html
    assert "合计" not in html.split('data-testid="map-credit"')[1].split("</select>")[0]  # totals are no example
    assert '<option value="记账日" selected>' in html.split('data-testid="map-date"')[1]  # the date column guessed
    date_select = html.split('data-testid="date-format"')[1].split("</select>")[0]
    assert "20260720：20260720 → 2026年7月20日" in date_select and "%" not in _visible(date_select)
    # nothing was saved or imported by the preview
    assert BankAccount.objects.get(pk=icbc_account.pk).mapping == icbc_account.mapping
    assert not StatementImport.objects.exists()


def test_saving_the_chosen_columns_then_importing_the_same_file(client, fiona, icbc_account, owed):
    client.force_login(fiona)
    url = f"/banking/accounts/{icbc_account.pk}/"
    client.post(url, {"name": icbc_account.name, "bank": icbc_account.bank, "layout": icbc_account.layout,
                      "active": "1", "m_header_row": "3", "m_date": "记账日", "m_date_format": "%Y%m%d",
                      "m_credit": "收入金额", "m_debit": "支出金额", "m_payer_name": "对方名称", "m_serial": "流水",
                      "m_memo": "用途", "m_encoding": "auto"})
    account = BankAccount.objects.get(pk=icbc_account.pk)
    assert account.mapping["date"] == "记账日" and account.mapping["date_format"] == "%Y%m%d"
    html = client.get(url).content.decode()
    assert '<option value="%Y%m%d" selected>20260720</option>' in html


def test_date_options_say_which_formats_fit():
    options = {fmt: (label, fits) for fmt, label, fits in date_format_options(["2026/07/20", "2026/07/21"])}
    assert options["%Y/%m/%d"] == ("2026/07/20：2026/07/20 → 2026年7月20日", True)
    assert options["%Y%m%d"][1] is False and "与文件不符" in options["%Y%m%d"][0]
    assert options["auto"][1] is True
