"""Words of the console: Family replies to our SMS (callcenter/family/replies.py) and opted-out numbers."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # Family replies to our SMS (callcenter/family/replies.py) and opted-out numbers.
    "timeline.family_going": ("家属回复：我去", "family: I am going"),
    "timeline.family_cannot": ("家属回复：去不了", "family: I cannot go"),
    "timeline.family_reply": ("家属回复短信", "family replied"),
    "timeline.family_opted_out": ("家属退订短信", "family opted out of SMS"),
    "timeline.family_opted_in": ("家属恢复接收短信", "family opted back in to SMS"),
    "timeline.family_opt_out_confirmed": (
        "已确认：紧急短信也不再发给该号码",
        "confirmed: no emergency SMS to this number either",
    ),
    "actor.family": ("家属", "family"),
    "detail.family_member": ("发信人", "from"),
    "detail.family_on_the_way": ("家属在途", "family on the way"),
    "incident.family_on_the_way": ("家属正在赶来", "Family on the way"),
    "reply.going": ("回复：我去", "replied: I am going"),
    "reply.cannot": ("回复：去不了", "replied: I cannot go"),
    "reply.text": ("回复", "replied"),
    "reply.stop": ("退订", "opted out"),
    "reply.start": ("恢复接收", "opted back in"),
    "reply.opted_out": (
        "该号码已退订通知短信，紧急短信仍会发送",
        "This number opted out of notices; emergency SMS still go",
    ),
    "reply.confirm_emergencies": ("确认紧急短信也不发", "Stop emergency SMS too"),
    "reply.emergencies_confirmed": (
        "已确认：紧急短信也不发",
        "Confirmed: no emergency SMS either",
    ),
}
