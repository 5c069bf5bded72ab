"""Decision 202: the legal services check the actor's project themselves (the pages and API list only the user's
cases, but a service is also reached from a shell, a job, a new view or an API that forgets). Each is called
directly by a legal officer of another project: refused with the project named, nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from tests.legal.conftest import referral_for
from wuye.legal import services

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def case(arrears_estate, carol):
    return services.case_open_from_referral(actor=carol, task=referral_for(arrears_estate["units"][0]), on=TODAY)


@pytest.fixture
def outsider(make_user, case):
    from wuye.estate.models import Project

    user = make_user("fawu_else", "legal")
    user.projects.set([Project.objects.create(code="T9", name="别处花园", city="杭州", developer=case.project.developer)])
    return user


def _counts():
    from wuye.accounts.models import AuditEvent
    from wuye.legal.models import CaseCost, CaseDeadline, CaseEvent, LegalCase

    return (LegalCase.objects.count(), CaseEvent.objects.count(), CaseDeadline.objects.count(),
            CaseCost.objects.count(), AuditEvent.objects.count(),
            list(CaseDeadline.objects.values_list("done_on", flat=True)), list(LegalCase.objects.values_list("owner_id", flat=True)))


def test_deadlines_and_costs_are_refused_to_another_projects_officer(case, carol, outsider):
    deadline = services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 20))
    before = _counts()
    name = case.project.name
    with pytest.raises(PermissionDenied, match=f"“{name}”不在您负责的项目范围内，不能为该案件添加期限"):
        services.deadline_add(actor=outsider, case=case, kind="hearing", due_on=D(2026, 12, 21))
    with pytest.raises(PermissionDenied, match="不能办结该案件的期限"):
        services.deadline_done(actor=outsider, deadline=deadline)
    with pytest.raises(PermissionDenied, match="不能记录该案件的费用"):
        services.cost_add(actor=outsider, case=case, kind="court_fee", amount_fen=5_000, on=TODAY)
    assert _counts() == before
    # the same calls by someone who works in the project go through
    outsider.projects.add(case.project)
    services.deadline_done(actor=outsider, deadline=deadline)
    services.cost_add(actor=outsider, case=case, kind="court_fee", amount_fen=5_000, on=TODAY)


def test_opening_assigning_and_recording_events_are_refused_too(case, carol, outsider, arrears_estate):
    from wuye.dunning.models import Task

    task = referral_for(arrears_estate["units"][2])
    before = _counts()
    with pytest.raises(PermissionDenied, match="不能办理该转介任务"):
        services.case_open_from_referral(actor=outsider, task=task, on=TODAY)
    party = services.liable_party(arrears_estate["units"][2], TODAY)
    with pytest.raises(PermissionDenied, match="不能在该项目立案"):
        services.case_open(actor=outsider, project=case.project, party=party, on=TODAY)
    with pytest.raises(PermissionDenied, match="不能调整该案件的承办人"):
        services.case_assign(actor=outsider, case=case, owner=carol)
    with pytest.raises(PermissionDenied, match="不能记录该案件的进展"):
        services.case_event_add(actor=outsider, case=case, event="note", on=TODAY, note="越权")
    assert _counts() == before and Task.objects.get(pk=task.pk).status == "open"
