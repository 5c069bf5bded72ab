"""Issue 14 item 1: parties are matched only within the actor's scope; another project's party is never
named, linked or revealed — through the occupancy form, the import or the API."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from wuye.estate.models import Occupancy, Party


def test_the_reported_sequence_reveals_nothing_of_another_project(client, kefu_t1, estate, other_project):
    client.force_login(kefu_t1)
    stranger, contact = other_project["owner"], other_project["contact"]
    assert client.get(f"/estate/parties/{stranger.pk}/").status_code == 404
    unit = estate["units"][0]
    response = client.post(f"/estate/units/{unit.pk}/occupancy/", {
        "role": "tenant", "kind": "person", "name": "王租", "id_number": stranger.id_number,
        "mobile": "", "start": "2026-03-01"}, follow=True)
    page = response.content.decode()
    assert "李强国" not in page and "已记录租户：王租" in page
    tenant = Occupancy.objects.get(unit=unit, role="tenant").party
    assert tenant.pk != stranger.pk and tenant.name == "王租"
    assert tenant.natural_key == f"id:{stranger.id_number}#p{estate['project'].pk}"
    assert not stranger.occupancies.filter(unit__project=estate["project"]).exists()
    # the other project's party stays out of reach
    assert client.get(f"/estate/parties/{stranger.pk}/").status_code == 404
    reveal = client.post(f"/api/v1/contacts/{contact.pk}/reveal/")
    assert reveal.status_code == 404 and "13900001111" not in reveal.content.decode()
    # the same ID number again in T1 finds T1's own new party, not a third one
    unit2 = estate["units"][1]
    client.post(f"/estate/units/{unit2.pk}/occupancy/", {
        "role": "tenant", "kind": "person", "name": "王租", "id_number": stranger.id_number,
        "mobile": "", "start": "2026-03-01"})
    assert Occupancy.objects.get(unit=unit2, role="tenant").party_id == tenant.pk


def test_a_company_wide_user_still_finds_the_same_person_across_projects(client, alice, estate, other_project):
    client.force_login(alice)  # a manager with no project assignment sees every project
    unit = estate["units"][0]
    client.post(f"/estate/units/{unit.pk}/occupancy/", {
        "role": "tenant", "kind": "person", "name": "李强国", "id_number": other_project["owner"].id_number,
        "mobile": "", "start": "2026-03-01"})
    assert Occupancy.objects.get(unit=unit, role="tenant").party_id == other_project["owner"].pk


def _import(client, rows: list[list[str]]):
    header = ["项目编码", "项目名称", "楼栋编码", "房号", "楼层", "房屋编码", "物业类型", "建筑面积", "业主姓名", "证件号码"]
    body = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    upload = SimpleUploadedFile("units.csv", body.encode("utf-8"), content_type="text/csv")
    return client.post("/estate/imports/", {"file": upload}, follow=True)


def test_an_import_creates_its_own_party_instead_of_linking_another_projects(client, manager_t1, estate,
                                                                             other_project):
    from wuye.estate.models import ImportJob

    client.force_login(manager_t1)
    stranger = other_project["owner"]
    _import(client, [["T1", "测试花园", "1", "101", "1", "1-101", "多层", "89.50", "李四", stranger.id_number]])
    job = ImportJob.objects.latest("pk")
    assert job.status == ImportJob.Status.SUCCEEDED, job.errors
    owner = Occupancy.objects.get(unit=estate["units"][0], role="owner", end__isnull=True).party
    assert owner.pk != stranger.pk and owner.name == "李四"
    stranger.refresh_from_db()
    assert stranger.name == "李强国" and stranger.occupancies.count() == 1
    assert Party.objects.filter(id_number=stranger.id_number).count() == 2


def test_an_import_cannot_touch_a_project_outside_the_users_scope(client, manager_t1, estate, other_project):
    from wuye.estate.models import ImportJob

    client.force_login(manager_t1)
    _import(client, [["T2", "改名了", "A", "101", "1", "A-101", "多层", "100.00", "张三", ""]])
    job = ImportJob.objects.latest("pk")
    assert job.status == ImportJob.Status.FAILED
    assert any("不在您负责的项目内" in e["message"] for e in job.errors)
    other_project["project"].refresh_from_db()
    assert other_project["project"].name == "别处大厦"


def test_a_legal_case_for_another_projects_party_is_a_404_naming_nobody(make_user, estate, other_project):
    """``POST /api/v1/legal/cases/`` with one's own project and another project's party id answered 400
    "李强国 在测试花园没有逾期未缴的费用": any id named a person of another project."""
    from rest_framework.test import APIClient

    from wuye.accounts.choices import Role

    lawyer = make_user("fawu1", Role.LEGAL)
    lawyer.projects.add(estate["project"])
    api = APIClient()
    api.force_authenticate(lawyer)
    response = api.post("/api/v1/legal/cases/", {"project": estate["project"].pk,
                                                 "party": other_project["owner"].pk}, format="json")
    assert response.status_code == 404, response.content
    assert "李强国" not in response.content.decode()
