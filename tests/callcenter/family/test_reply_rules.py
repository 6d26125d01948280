"""What a family member's SMS says, whose it is, who is on the way, and what an opt-out holds
back: the rules of callcenter/family/replies.py and the sender's decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from callcenter.family import replies, service
from kernel.models import FamilyOptOut, FamilyReply, IncidentKind, ReplyKind
from kernel.settings import Settings
from tests.callcenter.family.test_rules import at_local, create_incident, create_job

K = ReplyKind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("1", K.GOING), (" １。", K.GOING), ("我去", K.GOING), ("我去！", K.GOING),
        ("2", K.CANNOT), ("２", K.CANNOT), ("去不了", K.CANNOT),
        ("STOP", K.STOP), ("stop", K.STOP), ("Unsubscribe.", K.STOP), ("退订", K.STOP),
        ("TD", K.STOP), ("td", K.STOP), ("ＳＴＯＰ", K.STOP),
        ("START", K.START), ("订阅", K.START), ("unstop", K.START),
        ("1 我马上到", K.TEXT), ("12", K.TEXT), ("HELP", K.TEXT), ("", K.TEXT),
        ("不要再发了，谢谢", K.TEXT),
    ],
)  # fmt: skip
def test_what_a_reply_says(body: str, kind: ReplyKind) -> None:
    assert replies.classify(body) is kind


def test_twilio_s_advanced_opt_out_type_is_taken_as_it_is() -> None:
    assert replies.classify("停止", "STOP") is K.STOP
    assert replies.classify("恢复", "START") is K.START
    assert replies.classify("1", "HELP") is K.GOING


def test_twilio_answers_its_own_words_and_we_answer_ours() -> None:
    assert replies.twilio_answers("stop", None) and replies.twilio_answers("停止", "STOP")
    assert not replies.twilio_answers("退订", None) and not replies.twilio_answers("1", None)


def test_a_mainland_mobile_is_matched_as_the_register_writes_it() -> None:
    assert replies.stored_phone("+8613900000001") == "13900000001"
    assert replies.phone_forms("+8613900000001") == ["+8613900000001", "13900000001"]
    assert replies.stored_phone("+85291234567") == "+85291234567"  # Hong Kong: as Twilio says
    assert replies.stored_phone("+8675528912345") == "+8675528912345"  # a landline, not 1…


def _reply(id: int, phone: str, name: str, kind: ReplyKind) -> FamilyReply:
    return FamilyReply(id=id, phone=phone, contact_name=name, relation="", kind=kind)


def test_who_is_on_the_way_by_each_one_s_latest_answer() -> None:
    son, daughter = "13900000001", "13900000002"
    answers = [
        _reply(1, son, "李明", K.GOING),
        _reply(2, daughter, "李娟", K.GOING),
        _reply(3, son, "李明", K.CANNOT),
    ]
    assert replies.on_the_way(answers) == "李娟"
    assert replies.on_the_way(answers[:2]) == "李明、李娟"
    assert replies.on_the_way([*answers, _reply(4, daughter, "李娟", K.CANNOT)]) is None
    assert replies.on_the_way([_reply(5, "13811112222", "", K.GOING)]) == "尾号2222"


def _opted_out(confirmed: bool = False, out: bool = True) -> FamilyOptOut:
    now = dt.datetime(2026, 11, 24, 1, tzinfo=dt.UTC)
    return FamilyOptOut(
        phone="13900000001", opted_out=out, changed_at=now, text="退订",
        emergencies_confirmed_at=now if confirmed else None,
    )  # fmt: skip


def test_an_opt_out_holds_back_notices_and_an_sos_only_once_an_operator_confirmed_it(
    tmp_path: Path,
) -> None:
    rules = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    now = at_local(rules, 14)
    job = create_job()
    notice = create_incident(IncidentKind.VITALS, 2)
    sos = create_incident()

    def decide(incident: object, opt_out: FamilyOptOut | None) -> service.Decision:
        return service.decide(job, incident, [job], [], rules, now, opt_out)  # type: ignore[arg-type]

    refused = decide(notice, _opted_out())
    assert isinstance(refused, service.Skip) and not refused.quiet  # said on the timeline
    assert isinstance(decide(sos, _opted_out()), service.Send)
    assert isinstance(decide(sos, _opted_out(confirmed=True)), service.Skip)
    assert isinstance(decide(notice, _opted_out(out=False)), service.Send)
    assert isinstance(decide(notice, None), service.Send)


@pytest.mark.parametrize("language", service.LANGUAGES)
def test_every_answer_to_a_reply_has_words_that_fit_one_sms(language: str) -> None:
    for kind in ReplyKind:
        text = replies.answer_text(kind, language, "王秀英")
        assert text and "{" not in text and len(text) <= (70 if language == "zh" else 160), text
