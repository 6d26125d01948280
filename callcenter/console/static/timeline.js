// How an incident's timeline reads: each step and its details in words (staff ids as names, codes
// as words, moments in the street's time); shared by the incident screen and the summary sheet.
"use strict";

function actorLabel(actor) {
  const match = /^staff:(\d+)$/.exec(actor || "");
  return match ? Staff.name(Number(match[1])) : tWord("actor", actor);
}

// A reason as the page's language says it: a code or sentence the texts know; else the SMS
// sender's "中文 (English)" reasons (Twilio's refusals), the half in this language.
function reasonWords(value) {
  const key = `reason.${value}`;
  if (Object.prototype.hasOwnProperty.call(BOOT.texts, key)) return BOOT.texts[key];
  const both = /^([^()]*[\u4e00-\u9fff][^()]*) \(([^()]+)\)(.*)$/.exec(String(value));
  if (!both) return String(value);
  const [, zh, en, more] = both;
  if (BOOT.lang !== "zh") return `${en}${more}`;
  return more ? `${zh}${t("reason.as_before")}` : zh;
}

// How each detail of a timeline step reads: staff ids as names, codes as words, moments in the
// street's time. A key not listed here shows as itself, so that a new one is seen and named.
const staffWord = (id) => Staff.name(id);
// Another incident, by its number: "警情 14".
const incidentWord = (id) => `${t("incident.number")} ${id}`;
const DETAIL_WORDS = {
  staff_id: staffWord,
  previous_staff_id: staffWord,
  unanswered_by: staffWord,
  supervisor_id: staffWord,
  holder: staffWord,
  centre: centreName,
  level: String,
  seconds: (v) => `${v} ${t("common.seconds")}`,
  minutes_open: (v) => `${v} ${t("common.minutes")}`,
  outcome: (v) => tWord("outcome", v),
  type: (v) => tWord("event", v),
  band: (v) => tWord("band", v),
  state: (v) => tWord("door", v),
  reason: reasonWords,
  devices: (v) => (Array.isArray(v) ? v.join("、") : String(v)),
  battery: (v) => `${v}%`,
  since: formatTime,
  still_since: formatTime,
  sensed_at: formatTime,
  until: formatTime,
  step: (v) => tWord("sms_step", v),
  status: (v) => tWord("delivery", v),
  to: String,
  error_code: String,
  service: (v) => tWord("emergency_service", v),
  number: String,
  called_at: formatTime,
  handed_over_at: formatTime,
  reference: String,
  hospital: String,
  family_member: String,
  family_on_the_way: String,
  kind: (v) => tWord("kind", v),
  raised_to: (v) => `P${v}`,
  due: formatTime,
  result: (v) => tWord("callback_result", v),
  merged: incidentWord,
  into: incidentWord,
  linked: incidentWord,
  released: staffWord,
};
// Said as a flag when true, left out when false.
const DETAIL_FLAGS = ["street_operators_alerted", "unidentified_caller", "registered_elder_departed", "callback_withdrawn"];
// Shown as they are, without a label: a person's own words, the engine's own sentence.
const DETAIL_PROSE = ["note", "text", "summary", "routing"];
// Kept for the record, not for reading: ids of messages and receipts, a duplicate of a name.
const DETAIL_HIDDEN = ["staff_name", "message_id", "sid", "ref", "device_event_id"];

function detailText(detail) {
  const parts = [];
  for (const [key, value] of Object.entries(detail || {})) {
    if (value === null || value === undefined || value === "" || DETAIL_HIDDEN.includes(key)) continue;
    if (DETAIL_FLAGS.includes(key)) {
      if (value === true) parts.push(t(`detail.${key}`));
    } else if (DETAIL_PROSE.includes(key)) {
      parts.push(String(value));
    } else if (Object.prototype.hasOwnProperty.call(DETAIL_WORDS, key)) {
      parts.push(`${t(`detail.${key}`)} ${DETAIL_WORDS[key](value)}`);
    } else {
      parts.push(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
    }
  }
  return parts.join(" · ");
}

function timelineItems(entries) {
  return entries.map((entry) =>
      el("li", { dataset: { action: entry.action } },
        el("time", {}, formatTime(entry.at)), " ",
        el("strong", {}, tWord("timeline", entry.action)), " ",
        el("span", { class: "muted" }, actorLabel(entry.actor)),
        entry.detail && Object.keys(entry.detail).length ? el("div", { class: "detail" }, detailText(entry.detail)) : ""),
  );
}
