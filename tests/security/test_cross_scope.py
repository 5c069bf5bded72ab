"""Issue 14 standing check: every URL pattern, walked from the URL conf, refuses an object of another
project or territory (403/404, or 405 for a method the page does not take).

The world: the shared test estate T1 billed and in arrears, with a dunning run and dispatch, a payment, a
hold, a dispute and work order, a legal case with a deadline, a bank account, a pay link and order, an import
job. The users work elsewhere: a manager scoped to project T2 and a collector whose territory is in T2. For
each pattern, the word before each id (``units/<int:pk>``, ``cases/<int:pk>``, …) names the kind of object
(``SEGMENTS``); the test takes T1's object of that kind and asks as each user, GET and POST. A new page under
a known word is covered without touching this file; a page with a new word fails until the word is added
(or the page is put in ``NOT_STAFF_SCOPED`` with the reason). A kind of object the world does not build
through the services is derived generically (``_derive``), and the test fails if any pattern with an id is
left unprobed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

# word before the id → (app_label.Model, extra filter) — the kind of object the id names
SEGMENTS: dict[str, tuple[str, dict]] = {
    "units": ("estate.Unit", {}), "parties": ("estate.Party", {}), "owners": ("estate.Party", {}),
    "contacts": ("estate.ContactPoint", {}), "imports": ("estate.ImportJob", {}), "projects": ("estate.Project", {}),
    "buildings": ("estate.Building", {}), "payments": ("billing.Payment", {}), "bills": ("billing.Bill", {}),
    "installments": ("billing.InstallmentPlan", {}), "approvals": ("billing.Adjustment", {}),
    "runs": ("billing.BillRun", {}), "policies": ("dunning.Policy", {}),
    "templates": ("dunning.MessageTemplate", {"project__isnull": False}),
    "message-templates": ("dunning.MessageTemplate", {"project__isnull": False}),
    "outbox": ("dunning.Action", {}), "tasks": ("dunning.Task", {}), "holds": ("dunning.Hold", {}),
    "disputes": ("casework.Dispute", {}), "work-orders": ("casework.WorkOrder", {}),
    "referrals": ("dunning.Task", {}), "cases": ("legal.LegalCase", {}), "deadlines": ("legal.CaseDeadline", {}),
    "packs": ("legal.EvidencePack", {}), "proofs": ("dunning.Action", {}), "file": ("legal.DeliveryProof", {}),
    "orders": ("portal.PaymentOrder", {}), "links": ("portal.PayLink", {}),
    "statements": ("banking.StatementImport", {}), "bank-statements": ("banking.StatementImport", {}),
    "lines": ("banking.StatementLine", {}), "accounts": ("banking.BankAccount", {}),
    "mandates": ("banking.Mandate", {}), "batches": ("banking.DebitBatch", {}),
    "territories": ("accounts.Territory", {}), "audit-events": ("accounts.AuditEvent", {}),
    "disclosure": ("insights.Disclosure", {}), "doorstep": ("estate.Unit", {}),
    "photos": ("casework.VisitPhoto", {}), "field-payments": ("portal.FieldPayment", {}),
}
# the same word naming another kind under one prefix
ROUTE_SEGMENTS = {("casework/contacts/", "contacts"): ("casework.ContactAttempt", {})}
# values for the non-id arguments
STRINGS = {"kind": "lawyer_letter", "fmt": "pdf", "format": "json", "table": "units", "month": "2026-01"}
DESK_KINDS = {"adjustment": "billing.Adjustment", "plan": "billing.InstallmentPlan"}

# Patterns not scoped by staff project or territory — each with the reason; nothing else is skipped.
NOT_STAFF_SCOPED = {
    "p/": "the owner portal: reached by the link's unguessable token, not by staff scope (tests/portal)",
    "api/v1/receipts/": "provider delivery receipts: a long random secret in the path (tests/dunning/test_receipts)",
    "casework/talking-points/": "the talking-point library is company-wide (no project); managers edit it",
    "api/v1/talking-points/": "the same company-wide library through the API",
    "admin/": "Django admin: superusers only (is_staff), outside the role scopes",
    "gongshi/": "the public disclosure page: no login, aggregates only (tests/insights)",
}
# A kind of object this world does not build through the services is derived generically (``_derive``): a row of
# the model in T1 with every required field filled — so every pattern with an id is probed, and the test fails
# if one is not.


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def _params(route: str) -> list[tuple[str, str, str]]:
    """(word before it, converter, name) for each argument of a route (path() and DRF's regex routes)."""
    out = []
    for m in re.finditer(r"([\w-]+)/<(?:(\w+):)?(\w+)>|([\w-]+)/\(\?P<(\w+)>", route):
        if m.group(3):
            out.append((m.group(1), m.group(2) or "str", m.group(3)))
        else:
            out.append((m.group(4), "int", m.group(5)))
    for m in re.finditer(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>", route):
        name = m.group(2) or m.group(3)
        if name not in {n for _, _, n in out}:
            out.append(("", m.group(1) or "str", name))
    return out


def _url(route: str, values: dict) -> str:
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), url)
    url = url.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return "/" + url


def _object(label: str, extra: dict, project):
    model = apps.get_model(label)
    qs = model.objects.filter(**extra)
    fields = {f.name for f in model._meta.get_fields()}
    for lookup in ("project", "unit__project", "occupancies__unit__project", "case__project", "party__occupancies__unit__project",
                   "building__project", "statement__account__project", "account__project", "payment__unit__project",
                   "bill__project", "bank_account__project", "contact__project"):
        head = lookup.split("__")[0]
        if head in fields:
            try:
                return qs.filter(**{lookup: project}).order_by("pk").first()
            except Exception:  # noqa: BLE001 - a lookup this model does not have
                continue
    if label == "estate.Project":
        return project
    if label == "accounts.AuditEvent":
        return qs.filter(project_id=project.pk).first()
    if label == "estate.ImportJob":
        return qs.first()
    return None


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "PNG")
    return out.getvalue()


_PNG = _png()


def _derive(label: str, extra: dict, project, user, depth: int = 0):
    """A row of ``label`` in ``project``: the world's own if it built one, else one made here with every
    required field filled (foreign keys: the project's own objects, derived in turn; users: ``user``; text:
    the first choice or "x"; numbers 1; dates today; files a few bytes)."""
    from django.core.files.base import ContentFile
    from django.db import models
    from django.utils import timezone

    found = _object(label, extra, project)
    if found is not None or depth > 3:
        return found
    model = apps.get_model(label)
    values, files = {}, {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.has_default() or getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            continue
        if f.null and not isinstance(f, models.ForeignKey):
            continue
        if isinstance(f, models.ForeignKey):
            target = f.related_model
            if target._meta.label == "accounts.User":
                values[f.name] = user
            elif target._meta.label == "estate.Project":
                values[f.name] = project
            elif f.null:
                continue
            else:
                values[f.name] = _derive(target._meta.label, {}, project, user, depth + 1)
        elif isinstance(f, models.FileField):  # a real image: photos and proofs are read back (evidence packs)
            files[f.name] = ContentFile(_PNG, name="x.png")
        elif f.name == "content_type":
            values[f.name] = "image/png"
        elif f.choices:
            values[f.name] = f.choices[0][0]
        elif isinstance(f, models.DateTimeField):
            values[f.name] = timezone.now()
        elif isinstance(f, models.DateField):
            values[f.name] = dt.date.today()
        elif isinstance(f, (models.IntegerField, models.DecimalField)):
            values[f.name] = 1
        elif isinstance(f, models.JSONField):
            values[f.name] = {}
        elif isinstance(f, models.BooleanField):
            values[f.name] = False
        else:
            values[f.name] = f"x{model.objects.count()}"[: f.max_length or 10]
    obj = model(**values, **extra)
    for name, content in files.items():
        getattr(obj, name).save(content.name, content, save=False)
    obj.save()
    return obj


@pytest.fixture
def world(alice, arrears_estate, tmp_path, settings, make_user):
    settings.MEDIA_ROOT = tmp_path / "media"
    """T1 full of objects; users who work only in T2."""
    from wuye.accounts.choices import Role
    from wuye.accounts.services import territory_assign
    from wuye.billing.services import payment_record
    from wuye.casework.services import dispute_open, work_order_open
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run
    from wuye.dunning.models import MessageTemplate, Task
    from wuye.estate.choices import PropertyType
    from wuye.estate.models import Building, Project, Unit
    from wuye.legal.services import case_open, deadline_add
    from wuye.portal.links import link_create

    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    t1 = arrears_estate["project"]
    units = arrears_estate["units"]
    dunning_run(as_of=dt.date(2026, 4, 20))
    dispatch(now=dt.datetime(2026, 4, 20, 2, 0, tzinfo=dt.UTC))
    payment_record(actor=alice, unit=units[1], amount_fen=5_000, method="cash")
    owner = units[0].occupancies.get().party
    case = case_open(actor=alice, project=t1, party=owner, on=dt.date(2026, 8, 1))
    deadline_add(actor=alice, case=case, kind="other", due_on=dt.date(2026, 9, 1), note="test")
    Task.objects.create(project=t1, unit=units[0], kind="referral", title="律师函转介", assignee_role="legal",
                        due_on=dt.date(2026, 7, 20))
    dispute = dispute_open(actor=alice, unit=units[2], reason="service", description="漏水")
    work_order_open(actor=alice, dispute=dispute, title="修漏水", due_on=dt.date.today() + dt.timedelta(days=7))
    MessageTemplate.objects.create(project=t1, code="t1", name="本项目模板", channel="sms",
                                   body="您好，物业费账单已出，请及时缴纳。")
    territory_assign(actor=alice, user=make_user("shoufei1", Role.COLLECTOR), building=arrears_estate["buildings"][0])
    from django.core.files.uploadedfile import SimpleUploadedFile

    from wuye.estate.importer import import_submit

    import_submit(actor=alice, upload=SimpleUploadedFile("t1.csv", "项目编码,项目名称\nT1,测试花园\n".encode()))
    link_create(unit=units[3], actor=alice)
    from wuye.banking.services import bank_account_save

    bank_account_save(actor=alice, project=t1, name="收款户", bank="工商银行", account_no="1202 0201 0900 0012 345",
                      layout="icbc_csv")

    t2 = Project.objects.create(code="T2", name="别处", city="上海")
    b2 = Building.objects.create(project=t2, code="A", name="A座", floors=2)
    Unit.objects.create(project=t2, building=b2, floor=1, number="101", code="A-101",
                        property_type=PropertyType.LOW_RISE, area=Decimal("90"))
    manager = make_user("jingli2", Role.MANAGER, is_staff=True)
    manager.projects.add(t2)
    collector = make_user("shoufei2", Role.COLLECTOR)
    territory_assign(actor=alice, user=collector, building=b2)
    return {"t1": t1, "users": [manager, collector], "maker": alice}


def test_no_page_or_endpoint_serves_another_projects_object(client, world):
    from rest_framework.test import APIClient

    t1 = world["t1"]
    probed, unfilled, leaks, probed_routes, with_ids = 0, set(), [], set(), set()
    for route, _pattern in _routes(get_resolver().url_patterns):
        params = _params(route)
        if not params or any(route.startswith(prefix) for prefix in NOT_STAFF_SCOPED):
            continue
        if route.endswith("(?P<format>[a-z0-9]+)/?$") or "drf_format_suffix" in route:
            continue  # the same views with a .json suffix
        values, missing = {}, None
        if "desk/approvals" in route:  # <str:kind>/<int:pk>: the kind names the model
            params = [("approvals", "int", "pk")]
            values["kind"] = "adjustment"
        for word, _converter, name in params:
            if name in STRINGS:
                values[name] = STRINGS[name]
                continue
            if name == "hold_pk":
                label, extra = "dunning.Hold", {}
            elif word == "approvals" and "kind" in values:
                label, extra = DESK_KINDS[values["kind"]], {}
            else:
                override = next((v for (prefix, w), v in ROUTE_SEGMENTS.items()
                                 if route.startswith(prefix) and w == word), None)
                assert override or word in SEGMENTS, f"{route}: add '{word}' to SEGMENTS (what its id names)"
                label, extra = override or SEGMENTS[word]
            obj = _derive(label, extra, t1, world["maker"])
            if obj is None:
                missing = label
                break
            values[name] = obj.pk
        if all(name in STRINGS for _, _, name in params):
            continue  # no object in the path (e.g. insights/export/<table>.xlsx): the user's own scope
        with_ids.add(route)
        if missing:
            unfilled.add(missing)
            continue
        url = _url(route, values)
        probed_routes.add(route)
        for user in world["users"]:
            for method in ("get", "post"):
                if url.startswith("/api/"):
                    api = APIClient()
                    api.force_authenticate(user)
                    response = getattr(api, method)(url, {}, format="json")
                else:
                    client.force_login(user)
                    response = getattr(client, method)(url, {})
                probed += 1
                if response.status_code not in (403, 404, 405):
                    leaks.append(f"{method.upper()} {url} as {user.username}: {response.status_code}")
    assert leaks == [], "\n".join(leaks)
    assert unfilled == set(), f"kinds that could not be built: {unfilled}"
    assert with_ids - probed_routes == set(), f"patterns with an id left unprobed: {sorted(with_ids - probed_routes)}"
    print(f"probed {probed} requests over {len(probed_routes)} patterns")
    assert probed >= 150, probed


# what only T1 has: its name, its developer, its owners' names and phones, its bank account
T1_MARKS = re.compile(r"测试花园|绿城置业|业主0\d\d|138000000\d\d|收款户|1202 0201")
# list queries that could widen a list: a search for T1's words, T1 asked for by id
LIST_QUERIES = ["", "?q=业主", "?q=1-101", "?q=测试", "?project={t1}", "?project_id={t1}", "?status=all",
                "?building={building}", "?unit={unit}&party={party}", "?party={party}&project={t1}"]


def _text(response) -> str:
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if body.startswith(b"PK"):  # a workbook: its cells
        import io

        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row
                        if v is not None)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("gb18030", "replace")


def test_no_list_page_or_endpoint_names_another_projects_people(client, world):
    """The pages without an id (lists, searches, exports, the API's lists): as the users of T2, searching
    for T1's words or asking for T1 by id, nothing of T1 — its name, owners, phones, bank account — is shown."""
    from rest_framework.test import APIClient

    from wuye.insights.services import live_refresh, month_close

    t1 = world["t1"]
    month_close(period=dt.date(2026, 7, 1), actor_label="test")  # the insights pages and exports have figures
    live_refresh()
    unit = t1.units.order_by("pk").first()
    ids = {"t1": t1.pk, "building": unit.building_id, "unit": unit.pk, "party": unit.occupancies.get().party_id}
    leaks, asked = [], 0
    for route, _pattern in _routes(get_resolver().url_patterns):
        params = _params(route)
        if any(name not in STRINGS for _, _, name in params) or any(route.startswith(p) for p in NOT_STAFF_SCOPED):
            continue  # pages with an object in the path: the walk above
        if "format" in route or route.startswith(("logout", "api/schema")):
            continue
        urls = [_url(route, STRINGS)]
        if "<str:table>" in route:  # every table the insights export writes
            from wuye.insights.views import EXPORTABLE

            urls = [_url(route, {**STRINGS, "table": table}) for table in EXPORTABLE]
        for url, query in ((u, q) for u in urls for q in LIST_QUERIES):
            for user in world["users"]:
                if url.startswith("/api/"):
                    api = APIClient()
                    api.force_authenticate(user)
                    response = api.get(url + query.format(**ids))
                else:
                    client.force_login(user)
                    response = client.get(url + query.format(**ids))
                asked += 1
                if response.status_code == 200 and (found := T1_MARKS.findall(_text(response))):
                    leaks.append(f"{url}{query.format(**ids)} as {user.username}: {sorted(set(found))[:5]}")
    assert leaks == [], "\n".join(leaks)
    assert asked > 1000, asked
    # the marks are what these pages show to someone who may see T1
    client.force_login(world["maker"])
    for url in ("/estate/units/?q=1-101", "/estate/parties/?q=业主", f"/insights/units/?project={t1.pk}",
                "/insights/export/units.xlsx", "/insights/export/projects.xlsx?period=2026-07"):
        response = client.get(url)
        assert response.status_code == 200 and T1_MARKS.search(_text(response)), url


# --- ids in request bodies (decision 121; the table is checked against the API, decision 172) ---------------

WRITES = ("post", "put", "patch")


def _body_cases(o: dict) -> dict[tuple[str, str], list[tuple[str, dict, bool]]]:
    """Every write operation of the API whose body names objects by id → the requests the walk sends as the
    users of T2: (url, body, multipart), with T1's ids (``o``) in every id field, and mixed with their own
    unit, project or case (``own_unit``, ``own_project``, ``own_case``). Keyed by the operation's method and
    path in the API schema: ``test_every_write_operation_that_takes_ids_is_walked`` fails on an operation that
    takes ids and is missing here."""
    today = dt.date.today().isoformat()
    cases: dict[tuple[str, str], list[tuple[str, dict, bool]]] = {}

    def add(method, path, url, body, multipart=False):
        cases.setdefault((method, path), []).append((url, body, multipart))

    for unit in (o["unit"], o["own_unit"]):
        add("post", "/api/v1/contacts/", "/api/v1/contacts/",
            {"unit": unit, "channel": "call", "outcome": "promise", "promised_on": today,
             "contact_point": o["contact_point"], "task": o["task"]})
        add("post", "/api/v1/contacts/", "/api/v1/contacts/",
            {"unit": unit, "channel": "call", "outcome": "dead_number", "contact_point": o["contact_point"]})
        add("post", "/api/v1/contacts/", "/api/v1/contacts/",
            {"unit": unit, "channel": "call", "outcome": "no_answer", "corrects": o["contact_attempt"]})
        add("post", "/api/v1/contacts/", "/api/v1/contacts/",
            {"unit": unit, "channel": "call", "outcome": "dispute", "reason": "service", "bill_ids": [o["bill"]]})
        add("post", "/api/v1/promises/", "/api/v1/promises/", {"unit": unit, "promised_on": today})
        add("post", "/api/v1/payments/", "/api/v1/payments/",
            {"unit": unit, "amount_fen": 100, "method": "cash", "bill_ids": [o["bill"]]})
        add("post", "/api/v1/field-payments/", "/api/v1/field-payments/",
            {"unit": unit, "party": o["party"], "amount_fen": 100, "method": "wechat", "reference": "x1",
             "paid_on": today, "bill_ids": [o["bill"]]})
        add("post", "/api/v1/visits/", "/api/v1/visits/",
            {"unit": unit, "outcome": "not_home", "party": o["party"], "task": o["task"]}, True)
    for project in (o["project"], o["own_project"]):
        add("post", "/api/v1/legal/cases/", "/api/v1/legal/cases/", {"project": project, "party": o["party"]})
    add("post", "/api/v1/legal/cases/", "/api/v1/legal/cases/", {"task": o["task"]})
    add("post", "/api/v1/insights/targets/", "/api/v1/insights/targets/",
        {"project": o["project"], "period": "2026-07", "collection_rate": "90.00", "clearance_rate": "10.00"})
    add("post", "/api/v1/legal/proofs/", "/api/v1/legal/proofs/",
        {"action": o["action"], "kind": "ems", "file": None}, True)
    add("post", "/api/v1/legal/proofs/", "/api/v1/legal/proofs/", {"task": o["task"], "kind": "ems", "file": None},
        True)
    add("post", "/api/v1/bank-statements/", "/api/v1/bank-statements/",
        {"bank_account": o["bank_account"], "file": o["statement_file"], "preview": True}, True)
    # their own case handed to a legal officer who works only in T1
    add("post", "/api/v1/legal/cases/{id}/owner/", f"/api/v1/legal/cases/{o['own_case']}/owner/",
        {"owner": o["t1_officer"], "note": "x"})
    return cases


# Write operations of the API that name no object of a project in their body — each with the reason. An
# operation whose body has an id field cannot be put here (the test below reads the schema).
NO_IDS_IN_BODY = {
    ("post", "/api/v1/contacts/{id}/reveal/"): "no body: the contact point is the id in the path (the walk above)",
    ("post", "/api/v1/field-payments/{id}/decision/"): "confirm or reject, and a note; the transfer is in the path",
    ("patch", "/api/v1/message-templates/{id}/"): "a template's text; the template is in the path",
    ("post", "/api/v1/talking-points/"): "the company-wide talking-point library: words and choices only",
    ("put", "/api/v1/talking-points/{id}/"): "the same library: words and choices only",
    ("patch", "/api/v1/talking-points/{id}/"): "the same library: words and choices only",
    ("post", "/api/v1/legal/cases/{id}/events/"): "an event's kind, date, words and amount; the case is in the path",
    ("post", "/api/v1/legal/cases/{id}/deadlines/"): "a deadline's kind, date and note; the case is in the path",
    ("post", "/api/v1/legal/cases/{id}/costs/"): "a cost's kind, amount, date and note; the case is in the path",
    ("post", "/api/v1/legal/cases/{id}/packs/"): "no body: the case is in the path",
}
# Write routes of the API outside its schema — each with the reason.
NOT_IN_SCHEMA = {
    "/api/v1/pay/wechat/notify/": "the provider's signed payment notification: no staff, no scope (tests/portal)",
    "/api/v1/pay/alipay/notify/": "the provider's signed payment notification: no staff, no scope (tests/portal)",
    "/api/v1/receipts/{}/{}/": "provider delivery receipts: a long random secret in the path (NOT_STAFF_SCOPED)",
}


def _shape(path: str) -> str:
    """A route of the URL conf or a path of the schema with every parameter as ``{}``."""
    path = re.sub(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>|\{\w+\}", "{}", path).replace("^", "").replace("$", "")
    return "/" + path.lstrip("/")


def _schema_writes() -> dict[tuple[str, str], set[str]]:
    """(method, path) → the id fields of its request body, for every write operation of the API schema. An id
    field is an integer (or a list of integers) that names an object: called after a model (``unit``,
    ``bank_account``), ending in ``_id``/``_ids``, or described as an ID or 编号."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    model_names = {re.sub(r"(?<!^)(?=[A-Z])", "_", m.__name__).lower() for m in apps.get_models()}

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[-1]]
        for key in ("allOf", "oneOf", "anyOf"):
            if key in node:
                merged: dict = {"properties": {}}
                for part in node[key]:
                    merged["properties"].update(resolve(part).get("properties", {}))
                    merged.setdefault("type", resolve(part).get("type"))
                return merged
        return node

    out = {}
    for path, item in schema["paths"].items():
        for method in WRITES:
            if method not in item:
                continue
            fields = set()
            for media in item[method].get("requestBody", {}).get("content", {}).values():
                for name, prop in resolve(media.get("schema", {})).get("properties", {}).items():
                    prop = resolve(prop)
                    kind = resolve(prop.get("items", {})).get("type") if prop.get("type") == "array" else prop.get("type")
                    if kind != "integer" or prop.get("readOnly"):
                        continue
                    if (re.search(r"(^|_)ids?$", name) or name in model_names
                            or re.search(r"ID|编号", prop.get("description", ""))):
                        fields.add(name)
            out[(method, path)] = fields
    return out


def test_every_write_operation_that_takes_ids_is_walked():
    """Every write operation of the API — read from the URL conf and the schema, not listed by hand — is either
    posted by the walk below with another project's ids in its body (``_body_cases``), or named in
    NO_IDS_IN_BODY with the reason, and the schema agrees that its body takes no id. A new endpoint fails here
    until its case is written."""
    writes = _schema_writes()
    # the URL conf's write routes are all in the schema (or named with their reason)
    shapes = {_shape(path) for _, path in writes}
    outside = []
    for route, pattern in _routes(get_resolver().url_patterns):
        if not route.startswith("api/") or "format" in route:
            continue
        view = pattern.callback
        actions, cls = getattr(view, "actions", None), getattr(view, "cls", None)
        methods = ({m for m in actions if m in WRITES} if actions else
                   {m for m in WRITES if hasattr(cls, m)} if cls else {"post"})  # a plain view: assume it writes
        if methods and _shape(route) not in shapes and _shape(route) not in NOT_IN_SCHEMA:
            outside.append(f"{sorted(methods)} /{route}")
    assert outside == [], f"write routes of the API outside its schema: {outside}"
    assert set(NOT_IN_SCHEMA) <= {_shape(r) for r, _ in _routes(get_resolver().url_patterns)}, "stale NOT_IN_SCHEMA"

    from collections import defaultdict

    cases = _body_cases(defaultdict(int))  # which operations have cases: the ids do not matter here
    missing = sorted(f"{m.upper()} {p} (ids: {', '.join(sorted(f))})" for (m, p), f in writes.items()
                     if f and (m, p) not in cases)
    assert missing == [], ("write operations that take ids in their body, with no case in _body_cases: "
                           + "; ".join(missing))
    # and each id field carries another project's id in at least one of the operation's requests
    unprobed = sorted(f"{m.upper()} {p}: {sorted(f - {k for _, body, _ in cases[(m, p)] for k in body})}"
                      for (m, p), f in writes.items() if (m, p) in cases
                      and f - {k for _, body, _ in cases[(m, p)] for k in body})
    assert unprobed == [], f"id fields no request of _body_cases fills: {unprobed}"
    unexplained = sorted(f"{m.upper()} {p}" for (m, p), f in writes.items()
                         if not f and (m, p) not in cases and (m, p) not in NO_IDS_IN_BODY)
    assert unexplained == [], f"write operations neither walked nor in NO_IDS_IN_BODY: {unexplained}"
    wrongly_allowed = sorted(f"{m.upper()} {p}: {sorted(writes[(m, p)])}" for m, p in NO_IDS_IN_BODY
                             if writes.get((m, p)))
    assert wrongly_allowed == [], f"NO_IDS_IN_BODY names operations whose body takes ids: {wrongly_allowed}"
    stale = sorted(set(cases) - set(writes)) + sorted(set(NO_IDS_IN_BODY) - set(writes))
    assert stale == [], f"cases for operations the API no longer has: {stale}"


def _ids(world) -> dict:
    """T1's ids for the bodies, and what the users of T2 own (a unit, their project, a case)."""
    from wuye.accounts.choices import Role
    from wuye.banking.models import BankAccount
    from wuye.billing.models import Bill
    from wuye.dunning.models import Action, Task
    from wuye.estate.models import ContactPoint, Unit

    t1 = world["t1"]
    u1 = t1.units.order_by("pk").first()
    owner = u1.occupancies.get().party
    own_unit = Unit.objects.get(project__code="T2")
    officer = _officer(t1, Role)
    own_case = _derive("legal.LegalCase", {}, own_unit.project, world["users"][0])
    return {"unit": u1.pk, "party": owner.pk, "project": t1.pk, "bill": Bill.objects.filter(unit=u1).first().pk,
            "contact_point": ContactPoint.objects.filter(party=owner).first().pk,
            "task": Task.objects.filter(project=t1).first().pk, "action": Action.objects.filter(project=t1).first().pk,
            "bank_account": BankAccount.objects.get(project=t1).pk,
            "statement_file": ("s.csv", "交易日期,金额\n2026-07-01,1.00\n".encode()),
            "contact_attempt": _derive("casework.ContactAttempt", {}, t1, world["maker"]).pk,
            "own_unit": own_unit.pk, "own_project": own_unit.project_id, "own_case": own_case.pk,
            "t1_officer": officer.pk}


T1_OFFICER = "法务只在测试花园"


def _officer(t1, Role):
    """A legal officer who works only in T1: their name is T1's too."""
    from wuye.accounts.models import User

    officer, made = User.objects.get_or_create(username="fawu1", defaults={"role": Role.LEGAL,
                                                                         "display_name": T1_OFFICER})
    if made:
        officer.projects.add(t1)
    return officer


def test_another_projects_ids_in_a_request_body_name_nobody(world):
    """Ids in request bodies (not in the path): every API operation whose body names objects
    (``_body_cases``, checked against the API by the test above) is posted by the users of T2 with a body that
    is valid but for T1's ids — in every id field, and mixed with their own unit, project or case, the way a
    legal case for one's own project and another project's party once answered 400 naming that person.
    Nothing is created and no answer shows anything of T1."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from wuye.banking.models import StatementImport
    from wuye.billing.models import Bill
    from wuye.dunning.models import Action, Task
    from wuye.legal.models import LegalCase

    ids = _ids(world)
    marks = re.compile(T1_MARKS.pattern + "|" + T1_OFFICER)
    counted = (Bill, Task, Action, StatementImport)
    before = {m: m.objects.count() for m in counted}
    case_owner = LegalCase.objects.get(pk=ids["own_case"]).owner_id
    leaks, sent = [], 0
    for user in world["users"]:
        api = APIClient()
        api.force_authenticate(user)
        for requests in _body_cases(ids).values():
            for url, body, multipart in requests:
                if multipart and "file" in body:  # None: a picture; else (name, bytes)
                    name, content = body["file"] or ("p.png", _PNG)
                    body = {**body, "file": SimpleUploadedFile(name, content)}
                response = api.post(url, body, format="multipart" if multipart else "json")
                sent += 1
                if response.status_code < 400 or marks.search(_text(response)):
                    leaks.append(f"POST {url} {body} as {user.username}: {response.status_code} "
                                 f"{_text(response)[:200]}")
    assert leaks == [], "\n".join(leaks)
    assert before == {m: m.objects.count() for m in counted}
    assert LegalCase.objects.get(pk=ids["own_case"]).owner_id == case_owner
    assert sent >= 40, sent
