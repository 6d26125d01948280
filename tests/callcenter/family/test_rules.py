"""Which messages go when: policy, quiet hours, per-number limits, words in both languages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callcenter.family import service
from kernel.models import (
    FamilyMessage,
    FamilyStep,
    Incident,
    IncidentKind,
    IncidentStatus,
    Outcome,
    SmsState,
)
from kernel.settings import Settings


def create_incident(
    kind: IncidentKind = IncidentKind.SOS, priority: int = 1, **fields: object
) -> Incident:
    values: dict[str, object] = {
        "id": 1, "kind": kind, "priority": priority, "status": IncidentStatus.ASSIGNED,
        "opened_at": dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC), "outcome": None,
    }  # fmt: skip
    return Incident(**(values | fields))


def create_job(
    id: int = 1, step: FamilyStep = FamilyStep.OPENED, rank: int = 1, **fields: object
) -> FamilyMessage:
    values: dict[str, object] = {
        "id": id, "incident_id": 1, "step": step, "contact_rank": rank, "contact_name": "李明",
        "relation": "儿子", "phone": f"1390000000{rank}", "language": "zh",
        "facts": {"elder": "王秀英"}, "state": SmsState.PENDING, "attempts": 0, "reason": "",
        "due_at": dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC), "sent_at": None,
        "delivery_status": None, "error_code": None,
    }  # fmt: skip
    return FamilyMessage(**(values | fields))


@pytest.fixture
def rules(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, sms_per_number_hour=2, sms_per_number_day=3)  # type: ignore[call-arg]


def at_local(settings: Settings, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 24, hour, minute, tzinfo=settings.tz).astimezone(dt.UTC)


def test_no_message_for_technical_or_service_incidents_and_none_for_a_false_welfare_alarm(
    rules: Settings,
) -> None:
    now = at_local(rules, 14)
    technical = create_incident(IncidentKind.TECHNICAL, 4)
    assert isinstance(service.decide(create_job(), technical, [], [], rules, now), service.Skip)
    service_call = create_incident(IncidentKind.SERVICE, 3)
    assert isinstance(service.decide(create_job(), service_call, [], [], rules, now), service.Skip)
    welfare = create_incident(IncidentKind.WELFARE, 3, outcome=Outcome.FALSE_ALARM.value)
    finding = create_job(step=FamilyStep.WELFARE_FINDING)
    assert isinstance(service.decide(finding, welfare, [], [], rules, now), service.Skip)
    welfare.outcome = Outcome.AMBULANCE_CALLED.value
    assert isinstance(service.decide(finding, welfare, [], [], rules, now), service.Send)


def test_the_second_contact_waits_for_the_first_and_is_skipped_when_it_was_reached(
    rules: Settings,
) -> None:
    now = at_local(rules, 14)
    first, second = create_job(1, rank=1), create_job(2, rank=2)
    sos = create_incident()
    assert isinstance(service.decide(second, sos, [first, second], [], rules, now), service.Wait)
    first.state, first.sent_at = SmsState.ACCEPTED, now
    assert isinstance(service.decide(second, sos, [first, second], [], rules, now), service.Skip)
    first.state = SmsState.FAILED
    assert isinstance(service.decide(second, sos, [first, second], [], rules, now), service.Send)


def test_non_urgent_messages_wait_out_the_quiet_hours_and_p1_does_not(rules: Settings) -> None:
    night = at_local(rules, 23, 30)
    warning = create_incident(IncidentKind.VITALS, 2)
    decision = service.decide(create_job(), warning, [], [], rules, night)
    assert isinstance(decision, service.Wait) and decision.reason == "quiet hours"
    assert decision.until == at_local(rules, 7) + dt.timedelta(days=1)  # deferred, not dropped
    assert isinstance(
        service.decide(create_job(), create_incident(), [], [], rules, night), service.Send
    )
    assert service.quiet_until(at_local(rules, 6, 59), rules) == at_local(rules, 7)
    assert service.quiet_until(at_local(rules, 7), rules) is None


def test_a_number_gets_at_most_the_hourly_and_daily_limits(rules: Settings) -> None:
    now = at_local(rules, 14)
    two_this_hour = [now - dt.timedelta(minutes=50), now - dt.timedelta(minutes=10)]
    decision = service.decide(create_job(), create_incident(), [], two_this_hour, rules, now)
    assert isinstance(decision, service.Wait) and "hour" in decision.reason
    assert decision.until == now + dt.timedelta(minutes=10)
    three_today = [now - dt.timedelta(hours=h) for h in (20, 10, 5)]
    decision = service.decide(create_job(), create_incident(), [], three_today, rules, now)
    assert isinstance(decision, service.Wait) and "day" in decision.reason
    assert decision.until == now + dt.timedelta(hours=4)
    one = [now - dt.timedelta(minutes=10)]
    assert isinstance(
        service.decide(create_job(), create_incident(), [], one, rules, now), service.Send
    )


@pytest.mark.parametrize("language", service.LANGUAGES)
def test_every_step_and_outcome_has_words(rules: Settings, language: str) -> None:
    words = service.templates()[language]
    assert set(words["outcome"]) == {o.value for o in Outcome}
    for step in FamilyStep:
        for kind in IncidentKind:
            job = create_job(step=step, language=language, facts={
                "elder": "王秀英", "worker": "张敏", "eta_min": 7, "outcome": "false_alarm", "text": "您好",
            })  # fmt: skip
            text = service.render(job, create_incident(kind), rules)
            assert "{" not in text and len(text) <= (70 if language == "zh" else 160), text


def test_english_for_a_contact_whose_language_is_english(rules: Settings) -> None:
    job = create_job(
        step=FamilyStep.ON_THE_WAY,
        language="en",
        facts={"elder": "王秀英", "worker": "张敏", "eta_min": 7},
    )
    assert service.render(job, create_incident(), rules) == (
        "[Pinghu Call Centre] Care worker 张敏 is on the way to 王秀英, about 7 min."
    )
