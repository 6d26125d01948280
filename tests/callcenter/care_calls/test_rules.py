"""Who is owed a care call on a day, rule by rule (service.due_reasons), and who calls them now."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from callcenter.care_calls import service
from callcenter.care_calls.service import ElderFacts, caller_centre, calling_now, due_reasons
from kernel.models import CareCallReason, WeatherKind, WeatherWarning
from kernel.settings import Settings
from tests.conftest import free_port

R = CareCallReason
DAY = dt.date(2026, 12, 7)  # a Monday


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The defaults: first weekly calls spread over 7 days, 7 days after hospital and incidents,
    weather calls from 80, calls 08:00-21:00."""
    return Settings(_env_file=None, data_dir=tmp_path, mqtt_port=free_port())  # type: ignore[call-arg]


def at(settings: Settings, day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), settings.tz).astimezone(dt.UTC)


def elder(**facts: object) -> ElderFacts:
    """An elder of 禾花 owed nothing, unless `facts` say otherwise."""
    plain = ElderFacts(
        elder_id=7, community_code="PH03", living_alone=False, dementia=False, age=70
    )
    return dataclasses.replace(plain, **facts)  # type: ignore[arg-type]


def warning(settings: Settings, day: dt.date, hour: int) -> WeatherWarning:
    return WeatherWarning(kind=WeatherKind.TYPHOON, day=day, recorded_at=at(settings, day, hour))


def days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range(count)]


def test_an_elder_at_no_risk_is_owed_nothing(settings: Settings) -> None:
    assert due_reasons(elder(), DAY, [], settings) == []


def test_an_elder_living_alone_is_called_a_week_after_the_last_answered_call(
    settings: Settings,
) -> None:
    answered = at(settings, DAY - dt.timedelta(days=7), hour=20)
    alone = elder(living_alone=True, last_answered_at=answered)
    assert due_reasons(alone, DAY, [], settings) == [R.LIVING_ALONE]
    assert due_reasons(alone, DAY - dt.timedelta(days=1), [], settings) == []
    # Late is still owed: not answered for ten days, the weekly call is due.
    assert due_reasons(alone, DAY + dt.timedelta(days=3), [], settings) == [R.LIVING_ALONE]


def test_first_weekly_calls_are_spread_one_day_each_over_the_week(settings: Settings) -> None:
    owed_on = {
        elder_id: [
            day
            for day in days(DAY, 7)
            if due_reasons(elder(elder_id=elder_id, living_alone=True), day, [], settings)
        ]
        for elder_id in range(1, 15)
    }
    assert all(len(found) == 1 for found in owed_on.values()), owed_on
    per_day = [sum(found == [day] for found in owed_on.values()) for day in days(DAY, 7)]
    assert per_day == [2] * 7


def test_with_a_spread_of_one_day_every_first_weekly_call_is_today(settings: Settings) -> None:
    at_once = settings.model_copy(update={"care_calls_first_spread_days": 1})
    for elder_id in range(1, 8):
        alone = elder(elder_id=elder_id, living_alone=True)
        assert due_reasons(alone, DAY, [], at_once) == [R.LIVING_ALONE]


def test_dementia_is_called_every_day_unless_answered_today(settings: Settings) -> None:
    forgetful = elder(dementia=True, last_answered_at=at(settings, DAY - dt.timedelta(days=1), 20))
    assert due_reasons(forgetful, DAY, [], settings) == [R.DEMENTIA]
    answered_today = dataclasses.replace(forgetful, last_answered_at=at(settings, DAY, 9))
    assert due_reasons(answered_today, DAY, [], settings) == []


def test_after_a_hospital_stay_daily_calls_from_its_last_day_for_a_week(
    settings: Settings,
) -> None:
    home = elder(hospital_ended_on=DAY)
    owed = [
        day for day in days(DAY - dt.timedelta(days=2), 12) if due_reasons(home, day, [], settings)
    ]
    assert owed == days(DAY, 7)
    assert due_reasons(home, DAY, [], settings) == [R.AFTER_HOSPITAL]


def test_after_an_incident_daily_calls_from_the_next_day_for_a_week(settings: Settings) -> None:
    fell = elder(incident_resolved_on=DAY)
    owed = [
        day for day in days(DAY - dt.timedelta(days=2), 12) if due_reasons(fell, day, [], settings)
    ]
    assert owed == days(DAY + dt.timedelta(days=1), 7)
    assert due_reasons(fell, DAY + dt.timedelta(days=1), [], settings) == [R.AFTER_INCIDENT]


def test_a_weather_warning_owes_a_call_to_the_80_and_over_living_alone(
    settings: Settings,
) -> None:
    typhoon = [warning(settings, DAY, hour=11)]
    assert due_reasons(elder(living_alone=True, age=80, last_answered_at=at(settings, DAY, 9)),
                       DAY, typhoon, settings) == [R.WEATHER]  # fmt: skip
    assert due_reasons(elder(living_alone=True, age=79, last_answered_at=at(settings, DAY, 9)),
                       DAY, typhoon, settings) == []  # fmt: skip
    assert due_reasons(elder(age=90), DAY, typhoon, settings) == []  # not alone
    # Called since the warning: nothing more is owed for it.
    called = elder(living_alone=True, age=86, last_answered_at=at(settings, DAY, 12))
    assert due_reasons(called, DAY, typhoon, settings) == []
    # A second warning later that day asks again.
    heat = [*typhoon, warning(settings, DAY, hour=15)]
    assert due_reasons(called, DAY, heat, settings) == [R.WEATHER]


def test_a_follow_up_is_owed_from_its_day_until_answered(settings: Settings) -> None:
    asked = elder(follow_up_on=DAY, last_answered_at=at(settings, DAY - dt.timedelta(days=2)))
    assert due_reasons(asked, DAY - dt.timedelta(days=1), [], settings) == []
    assert due_reasons(asked, DAY, [], settings) == [R.FOLLOW_UP]
    assert due_reasons(asked, DAY + dt.timedelta(days=2), [], settings) == [R.FOLLOW_UP]
    answered = dataclasses.replace(asked, last_answered_at=at(settings, DAY, 16))
    assert due_reasons(answered, DAY + dt.timedelta(days=1), [], settings) == []


def test_reasons_add_up_in_one_call(settings: Settings) -> None:
    everything = elder(
        living_alone=True, dementia=True, age=88, hospital_ended_on=DAY,
        incident_resolved_on=DAY - dt.timedelta(days=1), follow_up_on=DAY,
        last_answered_at=at(settings, DAY - dt.timedelta(days=8)),
    )  # fmt: skip
    assert due_reasons(everything, DAY, [warning(settings, DAY, 8)], settings) == [
        R.LIVING_ALONE, R.DEMENTIA, R.AFTER_HOSPITAL, R.AFTER_INCIDENT, R.WEATHER, R.FOLLOW_UP,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "said"),
    [(["阿尔茨海默症"], True), (["高血压", "老年痴呆"], True), (["轻度认知障碍"], True),
     (["高血压", "糖尿病"], False), ([], False)],
)  # fmt: skip
def test_dementia_is_read_from_the_register_s_words(words: list[str], said: bool) -> None:
    assert service.has_dementia(words) is said


@pytest.mark.parametrize(
    ("reason", "said"),
    [("住院", True), ("龙岗区人民医院 住院观察", True), ("Hospital stay", True),
     ("探亲", False), ("去女儿家住一周", False)],
)  # fmt: skip
def test_a_hospital_stay_is_read_from_the_away_period_s_reason(reason: str, said: bool) -> None:
    assert service.is_hospital_stay(reason) is said


def test_the_community_calls_its_elders_while_someone_is_on_duty_the_street_otherwise(
    settings: Settings,
) -> None:
    assert caller_centre("PH03", {"PH03", "PH01"}, "PH00", calling=True) == "PH03"
    assert caller_centre("PH02", {"PH03", "PH01"}, "PH00", calling=True) == "PH00"
    assert caller_centre("PH03", {"PH03"}, "PH00", calling=False) is None
    assert [calling_now(at(settings, DAY, hour), settings) for hour in (7, 8, 20, 21, 23)] == [
        False, True, True, False, False,
    ]  # fmt: skip
