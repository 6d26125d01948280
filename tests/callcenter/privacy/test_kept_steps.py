"""What of an incident's steps anonymising keeps: the codes and ids that tie the record together,
never a person's name or words."""

from __future__ import annotations

from callcenter.privacy.service import kept_detail


def test_a_merge_keeps_which_incidents_it_tied_and_drops_the_note() -> None:
    merged = {"into": 12, "released": 7, "note": "王秀英的儿子说她摔倒了"}
    case = {"merged": 13, "kind": "vitals", "raised_to": 1, "note": "同一次急救"}
    assert kept_detail(merged) == {"into": 12, "released": 7}
    assert kept_detail(case) == {"merged": 13, "kind": "vitals", "raised_to": 1}
    assert kept_detail({"linked": 14, "kind": "welfare"}) == {"linked": 14, "kind": "welfare"}


def test_a_call_back_keeps_its_result_not_what_was_said() -> None:
    assert kept_detail({"result": "elder_fine", "note": "她说只是碰到了"}) == {
        "result": "elder_fine"
    }
