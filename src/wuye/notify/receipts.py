"""Delivery receipts (状态报告/回执) pushed by the providers to an HTTP endpoint.

Each parser turns the provider's request body into ``Receipt`` rows and says what to answer, so that the
provider stops retrying. Nothing here touches the database: the collection engine matches the receipts to
its actions (by our ``out_id`` where the provider echoes it, else by the provider's message id).

- Tencent Cloud SMS (``report_status`` callback): a JSON array of ``{"sid", "report_status": "SUCCESS"|"FAIL",
  "user_receive_time", "errmsg", "description", "mobile", ...}``; ``sid`` is the ``SerialNo`` that
  ``SendSms`` returned. Answer ``{"result": 0, "errmsg": "OK"}``.
- Aliyun SMS (``SmsReport``, HTTP batch push): a JSON array of ``{"biz_id", "out_id", "success",
  "report_time", "err_code", "err_msg", "phone_number", ...}``. Answer ``{"code": 0, "msg": "成功"}``.
- WeChat template messages: the official account's message server receives an XML event
  ``TEMPLATESENDJOBFINISH`` with ``MsgID`` and ``Status`` (``success`` / ``failed:user block`` /
  ``failed: system failed``), signed with the server token (sha1 of the sorted token, timestamp and nonce).
  Answer ``success``.

The endpoints carry no signature of their own (Tencent and Aliyun sign nothing), so the URL includes a
secret path token; WeChat's pushes are checked against its signature as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from dataclasses import dataclass
from xml.etree import ElementTree

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")

# Aliyun receipt codes that mean the number itself is dead (the contact point gets flagged).
ALIYUN_DEAD = {
    "MOBILE_NOT_ON_SERVICE": "suspended",  # 停机
    "MOBILE_ACCOUNT_ABNORMAL": "suspended",
    "MOBILE_NUMBER_ILLEGAL": "wrong",
    "MOBILE_TERMINAL_ERROR": "",  # the handset, not the number
    "NUMBER_NOT_EXIST": "empty",
    "EMPTY_NUMBER": "empty",
}


class ReceiptError(ValueError):
    """The body is not a receipt push of this provider (answered 400, nothing recorded)."""


@dataclass(frozen=True)
class Receipt:
    out_id: str  # ours, when the provider echoes it
    provider_message_id: str
    delivered: bool
    at: dt.datetime
    detail: str
    dead_address: str = ""


@dataclass(frozen=True)
class Parsed:
    receipts: list[Receipt]
    reply: str
    content_type: str = "application/json"


def _local_time(text: str | None, now: dt.datetime) -> dt.datetime:
    """'2026-11-23 10:01:02' in China time → aware datetime; the receive time when absent or unreadable."""
    if not text:
        return now
    try:
        return dt.datetime.strptime(str(text).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        return now


def _json_array(body: bytes) -> list[dict]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReceiptError(f"回执不是有效的 JSON：{e}") from e
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ReceiptError("回执应为 JSON 数组，每项为一个对象。")
    return data


def parse_tencent(body: bytes, now: dt.datetime) -> Parsed:
    rows = _json_array(body)
    out = []
    for n, row in enumerate(rows, start=1):
        sid = str(row.get("sid") or "").strip()
        status = str(row.get("report_status") or "").upper()
        if not sid or status not in ("SUCCESS", "FAIL"):
            raise ReceiptError(f"第 {n} 条回执缺少 sid 或 report_status。")
        detail = " ".join(str(row.get(k) or "") for k in ("errmsg", "description")).strip()
        out.append(Receipt("", sid, status == "SUCCESS", _local_time(row.get("user_receive_time"), now), detail))
    return Parsed(out, json.dumps({"result": 0, "errmsg": "OK"}))


def parse_aliyun(body: bytes, now: dt.datetime) -> Parsed:
    rows = _json_array(body)
    out = []
    for n, row in enumerate(rows, start=1):
        biz_id = str(row.get("biz_id") or "").strip()
        out_id = str(row.get("out_id") or "").strip()
        if (not biz_id and not out_id) or "success" not in row:
            raise ReceiptError(f"第 {n} 条回执缺少 biz_id/out_id 或 success。")
        ok = row["success"] in (True, "true", "True", 1)
        code = str(row.get("err_code") or "")
        detail = f"{code} {row.get('err_msg') or ''}".strip()
        out.append(Receipt(out_id, biz_id, ok, _local_time(row.get("report_time"), now), detail,
                           "" if ok else ALIYUN_DEAD.get(code, "")))
    return Parsed(out, json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False))


def wechat_signature_ok(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    if not (token and signature and timestamp and nonce):
        return False
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature)


def parse_wechat(body: bytes, now: dt.datetime) -> Parsed:
    """A WeChat push; events other than TEMPLATESENDJOBFINISH are answered and ignored."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - WeChat's XML has no DTD; expat does not fetch entities
    except ElementTree.ParseError as e:
        raise ReceiptError(f"回执不是有效的 XML：{e}") from e
    if (root.findtext("Event") or "") != "TEMPLATESENDJOBFINISH":
        return Parsed([], "success", "text/plain")
    msg_id = (root.findtext("MsgID") or root.findtext("MsgId") or "").strip()
    status = (root.findtext("Status") or "").strip()
    if not msg_id or not status:
        raise ReceiptError("模板消息回执缺少 MsgID 或 Status。")
    try:
        at = dt.datetime.fromtimestamp(int(root.findtext("CreateTime") or ""), dt.UTC)
    except ValueError:
        at = now
    delivered = status == "success"
    detail = {"success": "送达", "failed:user block": "用户拒收", "failed: system failed": "发送失败（平台原因）"}.get(
        status, status)
    # a user who blocked the account will not get messages there again: the WeChat contact is dead
    return Parsed([Receipt("", msg_id, delivered, at, detail, "wrong" if status == "failed:user block" else "")],
                  "success", "text/plain")


PARSERS = {"tencent": parse_tencent, "aliyun": parse_aliyun, "wechat": parse_wechat}
