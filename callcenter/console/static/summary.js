// The hand-over sheet: what a 120/110 dispatcher asks and what paramedics need, on one page to
// read out or print. From the same API as the incident screen (the elder's profile view audited).
"use strict";

const SHEET_INCIDENT = PAGE.incident_id;
// Steps that tell what was done; readings, door events and SMS fates stay on the incident screen.
const SHEET_LEAVES_OUT = /^(reading|door|door_activity|more_devices_offline|sms.*)$/;

// A value of the profile as words: a list joined, a record's parts (a medication's name and
// dose), a text as it is; nothing when there is nothing.
function sheetWords(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(sheetWords).filter(Boolean).join("、");
  if (typeof value === "object") return Object.values(value).map(sheetWords).filter(Boolean).join(" ");
  return String(value).trim();
}

function sheetFact(label, value, { big = false } = {}) {
  const shown = value instanceof Node ? value : sheetWords(value) || "—";
  return el("div", { class: big ? "fact big" : "fact" }, el("dt", {}, label), el("dd", {}, shown));
}

// What the call centre keeps beyond the register (how to get in, medicines, the doctor): shown
// when the elder's API gives it (grouped as `home_access` and `medical`, or flat), left out when
// not; the sheet works without them. Door and key-safe codes are never on it: it says they are
// kept, and the call centre reads one out on request (each showing audited).
function careDetails(elder) {
  const access = elder.home_access || elder;
  const medical = elder.medical || elder;
  const holderName = access.key_holder_name ? `${access.key_holder_name}${access.key_holder_relation ? `（${access.key_holder_relation}）` : ""}` : "";
  const holder = [holderName, access.key_holder_phone].filter(Boolean).join(" ");
  const codes = [
    access.has_key_safe_code ? t("summary.key_safe_code") : "",
    access.has_door_code ? t("summary.door_code") : "",
  ].filter(Boolean).join("；");
  const medications = (medical.medications || []).map((m) => (typeof m === "string" ? m : [m.name, m.dose].filter(Boolean).join(" ")));
  return {
    secondPhone: elder.second_phone || "",
    getIn: [elder.remarks, access.notes ?? access.access_notes, codes].filter(Boolean).join("；"),
    keyHolder: holder,
    medications: medications.join("；"),
    allergies: sheetWords(medical.allergies),
    doctor: [medical.doctor_name, medical.doctor_clinic, medical.doctor_phone].filter(Boolean).join(" "),
    hospital: medical.preferred_hospital || "",
  };
}

function renderElder(elder) {
  const section = document.getElementById("summary-elder");
  const age = elder.age !== undefined && elder.age !== null ? `${elder.age} ${t("summary.years")}` : "";
  const facts = el("dl", { class: "facts" },
    sheetFact(t("summary.name"), elder.name, { big: true }),
    sheetFact(t("summary.age_sex"), [age, elder.sex ? t(`sex.${elder.sex}`) : ""].filter(Boolean).join(" · ")),
    sheetFact(t("elder.address"), elder.address, { big: true }),
    sheetFact(t("elder.phone"), elder.phone, { big: true }),
  );
  const care = careDetails(elder);
  if (care.secondPhone) facts.append(sheetFact(t("summary.second_phone"), care.secondPhone));
  facts.append(sheetFact(t("summary.how_to_get_in"), care.getIn));
  if (care.keyHolder) facts.append(sheetFact(t("summary.key_holder"), care.keyHolder));
  if (elder.community_code) facts.append(sheetFact(t("elder.community"), centreName(elder.community_code)));
  facts.append(sheetFact(t("elder.living"), elder.living_situation ? t(`living.${elder.living_situation}`) : ""));
  facts.append(sheetFact(t("elder.self_care"), elder.self_care ? t(`selfcare.${elder.self_care}`) : ""));
  facts.append(sheetFact(t("elder.conditions"), (elder.conditions || []).length ? elder.conditions : t("summary.none")));
  if (care.medications) facts.append(sheetFact(t("summary.medications"), care.medications));
  if (care.allergies) facts.append(sheetFact(t("summary.allergies"), care.allergies));
  if (care.doctor) facts.append(sheetFact(t("summary.doctor"), care.doctor));
  if (care.hospital) facts.append(sheetFact(t("summary.preferred_hospital"), care.hospital));
  if (elder.national_id) facts.append(sheetFact(t("elder.national_id"), elder.national_id));
  section.replaceChildren(el("h2", {}, t("summary.elder")), facts);

  const contacts = (elder.contacts || []).slice().sort((a, b) => (a.position || 0) - (b.position || 0));
  document.getElementById("summary-contacts").replaceChildren(
    el("h2", {}, t("elder.contacts")),
    contacts.length
      ? el("ol", {}, contacts.map((c) => el("li", {}, `${c.name}（${c.relation}） ${c.phone || "—"}`)))
      : el("p", {}, t("summary.none")),
  );
}

// The latest value of each vital sign in the readings, with when it was taken.
function latestVitals(readings) {
  const lines = [];
  const sorted = readings.slice().sort((a, b) => new Date(a.measured_at || a.at) - new Date(b.measured_at || b.at));
  for (const series of VITAL_SERIES_OF_SHEET) {
    const last = sorted.filter((r) => series.fields.some((f) => r[f] !== null && r[f] !== undefined)).pop();
    if (!last) continue;
    const value = series.fields.map((f) => last[f]).filter((v) => v !== null && v !== undefined).join("/");
    lines.push(`${t(`vital.${series.key}`)} ${value}（${formatTime(last.measured_at || last.at)}）`);
  }
  return lines;
}
const VITAL_SERIES_OF_SHEET = [
  { key: "bp", fields: ["bp_sys", "bp_dia"] },
  { key: "hr", fields: ["hr"] },
  { key: "spo2", fields: ["spo2"] },
  { key: "glucose", fields: ["glucose"] },
  { key: "temp", fields: ["temp"] },
];

function renderEvent(incident, elder, readings) {
  const device = ((elder && elder.devices) || []).find((d) => d.id === incident.device_id);
  const opened = (incident.timeline || []).find((e) => e.action === "opened");
  const facts = el("dl", { class: "facts" },
    sheetFact(t("summary.kind"), `P${incident.priority} ${t(`kind.${incident.kind}`)}${opened && opened.detail.summary ? `：${opened.detail.summary}` : ""}`, { big: true }),
    sheetFact(t("incident.opened"), formatTime(incident.opened_at)),
    sheetFact(t("queue.status"), t(`status.${incident.status}`)),
  );
  if (incident.device_id) {
    facts.append(sheetFact(t("incident.device"), `${device ? deviceKindName(device.kind) + " " : ""}${incident.device_id}`));
  }
  const vitals = latestVitals(readings);
  facts.append(sheetFact(t("summary.latest_vitals"), vitals.length ? el("span", {}, ...vitals.flatMap((line, i) => (i ? [el("br"), line] : [line]))) : t("incident.no_readings")));
  document.getElementById("summary-event").replaceChildren(el("h2", {}, t("summary.what_happened")), facts);
}

function renderHandOver(incident) {
  const calls = incident.emergency_calls || [];
  const section = document.getElementById("summary-handover");
  section.replaceChildren(el("h2", {}, t("summary.handover")));
  if (!calls.length) {
    section.append(el("p", {}, t("emergency.none")));
    return;
  }
  for (const call of calls) {
    section.append(el("dl", { class: "facts call", dataset: { service: call.service } },
      sheetFact(t("detail.service"), `${tWord("emergency_service", call.service)} · ${t("detail.number")} ${call.number}`, { big: true }),
      sheetFact(t("detail.called_at"), formatTime(call.called_at)),
      sheetFact(t("detail.reference"), call.reference || t("summary.not_given"), { big: true }),
      sheetFact(t("detail.hospital"), call.hospital || t("summary.not_given")),
      sheetFact(t("detail.handed_over_at"), call.handed_over_at ? formatTime(call.handed_over_at) : t("emergency.waiting")),
    ));
  }
}

function renderSheet(incident, elder, readings) {
  document.getElementById("sheet-from").textContent =
    `${t("summary.from")} ${t("app.title")} · ${t("summary.operator")} ${ME.name} · ${t("summary.printed")} ${formatTime(new Date().toISOString())}`;
  if (elder) renderElder(elder);
  else document.getElementById("summary-elder").replaceChildren(el("h2", {}, t("summary.elder")), el("p", {}, t("queue.unidentified")));
  renderEvent(incident, elder, readings);
  renderHandOver(incident);
  const steps = (incident.timeline || []).filter((e) => !SHEET_LEAVES_OUT.test(e.action));
  document.getElementById("summary-timeline").replaceChildren(...timelineItems(steps));
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("print").addEventListener("click", () => window.print());
  await Staff.load();
  let incident;
  try {
    incident = await api(`/api/incidents/${SHEET_INCIDENT}`);
  } catch (error) {
    showMessage("sheet-error", `${t("common.error")}: ${error.message}`);
    return;
  }
  let elder = null;
  let readings = [];
  if (incident.elder_id) {
    try {
      elder = await api(`/api/elders/${incident.elder_id}`);
      readings = await api(`/api/elders/${incident.elder_id}/vitals?days=7`).catch(() => []);
    } catch (error) {
      showMessage("sheet-error", `${t("common.error")}: ${error.message}`);
    }
  }
  renderSheet(incident, elder, readings);
  // The reference or the hospital given while the sheet is open shows on it.
  connectFeed({
    onIncident: async (changed) => {
      if (changed.id === SHEET_INCIDENT) renderSheet(await api(`/api/incidents/${SHEET_INCIDENT}`), elder, readings);
    },
  });
});
