"""Issue 14 items 9–11: hostile query parameters are a 400 with a Chinese message (never a 500), ``next`` never
leaves the site, services' ValidationErrors and 404s come out of the API in one Chinese shape, the schema
needs a login, and a message template of another project cannot be opened."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from wuye.common.params import BadParameter, date_param, id_param, int_param

HUGE = "9223372036854775808"


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize("query", [
    f"building={HUGE}", f"project={HUGE}", "project=1e30", "building=1e30", "floor=1e30", "floor=-99999999999999999999",
    "area_min=1e30", "area_max=-1e30", "building=abc",
])
def test_a_number_out_of_range_in_the_unit_filters_is_a_400_in_chinese(api, estate, query):
    response = api.get(f"/api/v1/units/?{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    name = query.split("=")[0]
    assert name in error["fields"]
    assert re.search(r"[\u4e00-\u9fff]", str(error["fields"][name]))


@pytest.mark.parametrize("query", [f"building={HUGE}", "project=1e30", "area_min=1e30", f"floor={HUGE}"])
def test_the_unit_list_page_takes_the_same_bounds(client, admin_user, estate, query):
    client.force_login(admin_user)
    assert client.get(f"/estate/units/?{query}").status_code in (200, 400)


@pytest.mark.parametrize("url", [
    "/api/v1/buildings/?project=" + HUGE, "/api/v1/contacts/?party=" + HUGE, "/api/v1/units/?page=" + HUGE * 2,
    "/api/v1/legal/court-fee/?amount_fen=" + HUGE * 2, "/api/v1/legal/court-fee/?amount_fen=1e30",
    "/api/v1/worklist/?date=9999-99-99", "/api/v1/worklist/?date=0001-01-01",
])
def test_no_number_or_date_in_an_api_query_makes_a_500(api, estate, url):
    assert api.get(url).status_code in (400, 404)


@pytest.mark.parametrize("url", [
    "/collection/?date=2026-13-45", "/collection/?project=abc", f"/collection/?project={HUGE}",
    "/collection/outbox/?date=not-a-date", "/collection/notices/?date=0001-01-01&building=x",
    "/collection/notices/poster/?project=abc", "/casework/desk/debrief/?date=2026-02-30",
    "/banking/review/?account=" + HUGE,
])
def test_malformed_query_parameters_on_pages_are_a_400_naming_the_parameter(client, alice, estate, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400, (url, response.status_code)
    assert "参数" in response.content.decode()


def test_the_helpers_refuse_and_accept():
    assert int_param({"n": " 42 "}, "n") == 42 and int_param({}, "n", 7) == 7
    assert id_param({"n": str(2**63 - 1)}, "n") == 2**63 - 1
    for bad in (HUGE, "1e30", "0x10", "1.5", "-" + HUGE + "0"):
        with pytest.raises(BadParameter):
            int_param({"n": bad}, "n")
    with pytest.raises(BadParameter):
        id_param({"n": "0"}, "n")
    for bad in ("2026-02-30", "20260101", "0001-01-01", "2026-1-1"):
        with pytest.raises(BadParameter):
            date_param({"d": bad}, "d")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "http:evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(client, bob_territory, estate, target):
    from wuye.estate.models import ContactPoint

    client.force_login(bob_territory)
    contact = ContactPoint.objects.filter(party__occupancies__unit=estate["units"][0]).first()
    response = client.post(f"/estate/contacts/{contact.pk}/validity/", {"validity": "empty", "next": target})
    assert response.status_code == 302
    assert response["Location"] == f"/estate/parties/{contact.party_id}/"


def test_next_on_the_same_site_is_followed(client, bob_territory, estate):
    from wuye.estate.models import ContactPoint

    client.force_login(bob_territory)
    contact = ContactPoint.objects.filter(party__occupancies__unit=estate["units"][0]).first()
    response = client.post(f"/estate/contacts/{contact.pk}/validity/", {"validity": "empty", "next": "/casework/"})
    assert response["Location"] == "/casework/"


def test_every_view_reading_next_goes_through_the_one_helper():
    from pathlib import Path

    import wuye

    offenders = []
    for path in Path(wuye.__file__).parent.rglob("*.py"):
        if path.parts[-2:] == ("common", "views.py"):
            continue
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            # reading it is fine only to hand it to a template's hidden field ("next": request…)
            if re.search(r"""(POST|GET|query_params|data)\.get\(\s*["']next["']""", line) \
                    and not re.search(r'"next":\s*request\.(POST|GET)\.get\("next"', line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == [], "read next through wuye.common.views.redirect_next:\n" + "\n".join(offenders)


def test_the_schema_needs_a_login(client, api):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert api.get("/api/schema/").status_code == 200


# words in the README's API section that are not fields or parameters of the schema, with the reason
README_NOT_FIELDS = {
    "v1": "the prefix /api/v1/", "schema": "/api/schema/ itself",
    "pay": "provider callbacks (pay/wechat/notify/), excluded from the schema",
    "notify": "provider callbacks", "receipts": "delivery receipt callbacks, excluded from the schema",
    "aliyun": "a receipt provider in a callback's path", "zip": "the pack file's format in its path",
    "invalid_parameter": "the error code of a bad query parameter",
    "idempotency_key_reused": "the error code of an Idempotency-Key sent again with another body",
    "true": "the value of the Idempotent-Replayed header",
}


def test_every_field_the_readme_names_is_one_the_api_takes():
    """The README's API section once named a field the API does not take (`promise_date` for `promised_on`,
    `next_follow_up` for `follow_up_on`): every snake_case word it puts in backticks must be a field, a
    parameter, a choice or a path word of the OpenAPI schema."""
    from pathlib import Path

    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    vocabulary: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            vocabulary.update(node.get("properties", {}))
            vocabulary.update(str(v) for v in node.get("enum", ()) if v is not None)
            if isinstance(node.get("name"), str):
                vocabulary.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    for path in schema["paths"]:
        vocabulary.update(re.findall(r"[a-z_-]+", path))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## API"):]
    section = section[:section.index("\n## ", 5)]
    words = {part for quoted in re.findall(r"`([^`]+)`", section)
             for part in re.split(r"[|/?&=,{} ]+", quoted) if re.fullmatch(r"[a-z][a-z0-9_]*", part)}
    assert len(words) > 60, words
    assert sorted(words - vocabulary - set(README_NOT_FIELDS)) == []


def test_api_404s_are_in_chinese_and_name_no_model(api, estate):
    for url in ("/api/v1/units/999999/", f"/api/v1/units/{HUGE}/", "/api/v1/contacts/999999/",
                "/api/v1/legal/cases/999999/", "/api/v1/message-templates/999999/"):
        response = api.get(url)
        assert response.status_code == 404, url
        message = response.json()["error"]["message"]
        assert re.search(r"[\u4e00-\u9fff]", message) and not re.search(r"[A-Za-z]{3,}", message), (url, message)


def test_a_services_validation_error_is_a_400_through_the_one_handler():
    from django.core.exceptions import ValidationError
    from rest_framework.test import APIRequestFactory

    from wuye.common.api import exception_handler

    request = APIRequestFactory().get("/")
    for exc in (ValidationError({"amount_fen": "金额必须大于 0。"}), ValidationError("不能重复登记。")):
        response = exception_handler(exc, {"request": request})
        assert response.status_code == 400
        assert response.data["error"]["fields"] in ({"amount_fen": ["金额必须大于 0。"]},
                                                    {"non_field_errors": ["不能重复登记。"]})


def test_a_message_template_of_another_project_cannot_be_opened(client, make_user, estate, other_project):
    from wuye.accounts.choices import Role
    from wuye.dunning.models import MessageTemplate

    template = MessageTemplate.objects.create(project=other_project["project"], code="other", name="别处模板",
                                              channel="sms", body="您好，物业费账单已出，请及时缴纳。")
    manager = make_user("jingli1", Role.MANAGER, is_staff=True)
    manager.projects.add(estate["project"])
    client.force_login(manager)
    assert client.get(f"/collection/templates/{template.pk}/").status_code == 404
    assert client.post(f"/collection/templates/{template.pk}/", {"body": "改了", "subject": ""}).status_code == 404


@pytest.mark.parametrize("amount, message", [("1e30", "金额超出范围"), ("-1e30", "金额超出范围"),
                                             ("1000000000000", "金额超出范围"), ("Infinity", "请输入金额"),
                                             ("NaN", "请输入金额")])
def test_an_absurd_amount_at_the_desk_is_a_form_error_not_a_500(client, alice, arrears_estate, amount, message):
    """``1e30`` yuan could not be rounded to fen (decimal.InvalidOperation): the desk, the adjustment, the
    prepayment and the takings forms answered 500."""
    from wuye.billing.models import Payment

    unit = arrears_estate["units"][0]
    client.force_login(alice)
    response = client.post(f"/billing/units/{unit.pk}/", {"amount": amount, "method": "cash"})
    assert response.status_code == 200 and message in response.content.decode()
    assert Payment.objects.count() == 0
