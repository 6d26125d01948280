"""Words of the console: Click-to-call through Twilio (callcenter/voice)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # Click-to-call through Twilio (callcenter/voice): the incident screen's call buttons and
    # calls, and the steps they leave on the timeline.
    "voice.title": ("电话", "Calls"),
    "voice.call": ("拨打", "Call"),
    "voice.call_terminal": ("拨打终端", "Call the terminal"),
    "voice.how": (
        "点击“拨打”后，系统先拨通您的电话，您接听后再为您接通对方。",
        "After you click Call, your own phone rings; answer it and you are put through.",
    ),
    "voice.my_phone": ("我的电话", "My phone"),
    "voice.change_phone": ("修改", "Change"),
    "voice.save_phone": ("保存", "Save"),
    "voice.no_phone": (
        "请先填写您的电话：系统先拨通它",
        "Put your own phone first: it rings first",
    ),
    "voice.none": ("暂无通话", "No calls yet"),
    "voice.placed": ("正在拨打您的电话，请接听", "Your phone is ringing: answer it"),
    "voice.duration": ("通话", "talked"),
    "call_state.placing": ("正在发起", "placing"),
    "call_state.calling_operator": ("正在拨打您的电话", "ringing your phone"),
    "call_state.connecting": ("您已接听，正在接通对方", "you answered: connecting"),
    "call_state.ringing": ("对方振铃中", "ringing"),
    "call_state.in_progress": ("通话中", "talking"),
    "call_state.completed": ("通话结束", "ended"),
    "call_state.busy": ("对方忙线", "busy"),
    "call_state.no_answer": ("无人接听", "no answer"),
    "call_state.failed": ("呼叫失败", "failed"),
    "call_state.canceled": ("接通前已挂断", "hung up before it was answered"),
    "call_state.operator_unreached": ("您的电话未接通", "your phone was not reached"),
    "timeline.call_placed": ("发起电话", "call placed"),
    "timeline.call_ringing": ("对方振铃", "ringing"),
    "timeline.call_answered": ("对方已接听", "answered"),
    "timeline.call_completed": ("通话结束", "call ended"),
    "timeline.call_hung_up": ("挂断", "hung up"),
    "timeline.call_busy": ("对方忙线", "busy"),
    "timeline.call_no_answer": ("无人接听", "no answer"),
    "timeline.call_failed": ("呼叫失败", "call failed"),
    "timeline.call_canceled": ("接通前已挂断", "hung up before it was answered"),
    "timeline.call_operator_unreached": ("接线员电话未接通", "caller's own phone not reached"),
    "actor.voice": ("电话服务", "phone service"),
    "reason.operator_hung_up": ("接线员先挂断", "the caller hung up"),
    "reason.callee_hung_up": ("对方先挂断", "the other party hung up"),
    "reason.call_busy": ("忙线", "the line was busy"),
    "reason.call_no_answer": ("响铃无人接听", "nobody answered"),
    "reason.call_canceled": ("对方接听前已挂断", "hung up before it was answered"),
    "reason.call_not_dialled": ("未拨出对方号码", "the other party was not dialled"),
    "reason.call_failed": ("无法接通", "could not be connected"),
    "error.voice_off": (
        "未开通电话服务，请直接拨号",
        "Calls through the centre are off: dial the number",
    ),
    "error.no_own_phone": ("请先填写您的电话", "Put your own phone first"),
}
