// The community worker's page, for a phone: my open tasks, and one big button for the next step.
"use strict";

const tasks = new Map();
const elders = new Map();
const cards = new Map(); // incident id -> { source, node }: the card drawn for that news of it
const SERVICES = [["ambulance", "120"], ["police", "110"]];
const OUTCOMES = ["assistance_given", "accidental_press", "false_alarm", "ambulance_called", "family_attending", "referred", "device_test"];

async function elderOf(id) {
  if (!elders.has(id)) elders.set(id, api(`/api/elders/${id}`).catch(() => null));
  return elders.get(id);
}

async function step(incident, body, path = "status") {
  try {
    const detail = await api(`/api/incidents/${incident.id}/${path}`, { method: "POST", body });
    upsert(detail);
  } catch (error) {
    alert(`${t("common.error")}: ${error.message}`);
  }
}

function resolveForm(incident) {
  const outcome = el("select", { name: "outcome", class: "outcome" }, OUTCOMES.map((code) => el("option", { value: code }, t("outcome." + code))));
  const note = el("textarea", { name: "note", class: "note", rows: 2, placeholder: t("incident.note") });
  return el("form", {
    class: "resolve",
    onsubmit: (event) => {
      event.preventDefault();
      step(incident, { status: "resolved", outcome: outcome.value, note: note.value });
    },
  }, el("label", {}, t("incident.outcome"), outcome), note, el("button", { type: "submit", class: "primary big" }, t("action.resolve")));
}

function nextAction(incident) {
  switch (incident.status) {
    case "new":
    case "assigned":
      return el("button", { type: "button", class: "primary big", onclick: () => step(incident, {}, "acknowledge") }, t("action.acknowledge"));
    case "acknowledged":
      return el("button", { type: "button", class: "primary big", onclick: () => step(incident, { status: "en_route" }) }, t("action.en_route"));
    case "en_route":
      return el("button", { type: "button", class: "primary big", onclick: () => step(incident, { status: "on_site" }) }, t("action.on_site"));
    case "on_site":
      return resolveForm(incident);
    default:
      return el("p", {}, t("incident.done"));
  }
}

// 120 / 110 from the door: dial from the phone, then record the call so the call centre knows
// at once; once the crew is there, record the hand-over. The reference and the hospital are the
// operator's to add (the incident screen), the sheet to read to the crew is one tap away.
function emergencyPart(detail) {
  const calls = new Map((detail.emergency_calls || []).map((call) => [call.service, call]));
  const rows = SERVICES.map(([service, number]) => {
    const call = calls.get(service);
    const dial = el("a", { class: "button secondary big tel", href: `tel:${number}`, dataset: { dial: service } }, icon("phone"), " ", t("worker.dial"), " ", number);
    if (!call) {
      return el("div", { class: "emergency-row", dataset: { service } }, dial,
        el("button", { type: "button", class: "secondary", dataset: { record: service }, onclick: () => step(detail, { service, number }, "emergency") }, t("worker.record_call"), " ", number));
    }
    const state = call.handed_over_at
      ? el("span", { class: "handed-over" }, `${t("emergency.handed_over")} ${formatTime(call.handed_over_at)}`)
      : el("button", { type: "button", class: "primary", dataset: { handOver: service }, onclick: () => step(detail, {}, `emergency/${service}/handed-over`) }, t("emergency.hand_over"));
    return el("div", { class: "emergency-row", dataset: { service } }, dial,
      el("span", { class: "called" }, `${tWord("emergency_service", service)} ${formatTime(call.called_at)}`), " ", state);
  });
  return el("section", { class: "emergency" }, el("h3", {}, t("emergency.title")), rows,
    el("a", { href: `/console/incidents/${detail.id}/summary`, target: "_blank", rel: "noopener", class: "summary-link" }, t("worker.summary")));
}

// What the family answered to the alarm's SMS ("1" going, "2" cannot, or their words), newest
// last: the worker at the door knows whether a son is on his way too.
const FAMILY_STEPS = ["family_going", "family_cannot", "family_reply"];
function familyPart(detail) {
  const replies = (detail.timeline || []).filter((entry) => FAMILY_STEPS.includes(entry.action));
  if (!replies.length) return null;
  return el("ul", { class: "family-replies" }, replies.map((entry) =>
    el("li", { dataset: { action: entry.action } }, `${formatTime(entry.at)} ${entry.detail.family_member || ""} · ${tWord("timeline", entry.action)}`,
      entry.detail.text ? `：${entry.detail.text}` : "")));
}

async function card(incident) {
  const elder = incident.elder_id ? await elderOf(incident.elder_id) : null;
  const before = [];
  if (elder) {
    before.push(el("p", { class: "address" }, icon("pin"), " ", elder.address));
    const notes = [
      elder.living_situation ? t("living." + elder.living_situation) : null,
      elder.self_care ? t("selfcare." + elder.self_care) : null,
      ...(elder.conditions || []),
    ].filter(Boolean);
    before.push(el("p", { class: "before-entering" }, el("strong", {}, t("elder.before_entering"), "："), notes.join("、"), elder.remarks ? ` · ${elder.remarks}` : ""));
    const phones = [telLink(elder.phone, elder.name)];
    for (const c of elder.contacts || []) if (c.phone) phones.push(telLink(c.phone, `${c.name}（${c.relation}）`));
    before.push(el("div", { class: "phones" }, phones));
    // How to get in (key holder; the codes on request, audited) and what to tell the crew.
    before.push(el("div", { class: "at-the-door" }, homeAccessPart(elder, null), medicalPart(elder, null)));
  }
  const detail = await api(`/api/incidents/${incident.id}`).catch(() => incident);
  return el("article", { class: `task card p${incident.priority}`, dataset: { incidentId: incident.id, status: incident.status } },
    el("h2", {},
      el("span", { class: `badge p${incident.priority}` }, `P${incident.priority}`), " ",
      t("kind." + incident.kind), " · ", elder ? elder.name : elderLabel(incident)),
    el("p", { class: "meta" },
      el("span", { class: "status" }, t("status." + incident.status)), " · ",
      el("span", { class: "age", dataset: { opened: incident.opened_at } }, formatAge(Date.now() - new Date(incident.opened_at)))),
    before,
    familyPart(detail),
    el("div", { class: "next" }, nextAction(incident)),
    isOpen(incident) ? emergencyPart(detail) : null);
}

// A card is rebuilt when news of its own incident came (a step, the feed, a resync), and kept
// as it is when another task changed: codes a worker asked to see stay shown.
async function cardFor(incident) {
  const kept = cards.get(incident.id);
  if (kept && kept.source === incident) return kept.node;
  const node = await card(incident);
  if (kept) carryInput(kept.node, node);
  cards.set(incident.id, { source: incident, node });
  return node;
}

// What the worker has typed or chosen on a card (the outcome, the note, a crew's details) goes
// on to the card that replaces it: news of the task arriving mid-sentence must not wipe it.
function carryInput(from, to) {
  const fields = (card) => {
    const byKey = new Map();
    for (const field of card.querySelectorAll("textarea, select, input")) {
      const key = `${field.tagName}.${field.className}.${field.name || ""}`;
      if (!byKey.has(key)) byKey.set(key, []);
      byKey.get(key).push(field);
    }
    return byKey;
  };
  const theirs = fields(to);
  for (const [key, mine] of fields(from)) {
    mine.forEach((field, n) => {
      const other = (theirs.get(key) || [])[n];
      if (!other) return;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) other.checked = field.checked;
      } else if (field.tagName === "SELECT") {
        const chosen = field.selectedOptions[0];
        if (chosen && !chosen.defaultSelected) other.value = field.value;
      } else if (field.value !== field.defaultValue) {
        other.value = field.value;
      }
    });
  }
}

// Tasks an operator merged into another case while this page was open: the card does not just
// leave, the worker reads where it went (the case, often their own next card).
const mergedAway = new Map();

function mergedNotice(incident) {
  return el("p", { class: "merged-notice flag merged", dataset: { incidentId: incident.id, mergedInto: incident.merged_into_id } },
    `${t("incident.number")} ${incident.id} · ${t("kind." + incident.kind)} · ${t("incident.merged_into")} ${t("incident.number")} ${incident.merged_into_id}`);
}

let rendering = Promise.resolve();
function render() {
  rendering = rendering.then(async () => {
    const mine = [...tasks.values()].sort(compareIncidents);
    const shown = await Promise.all(mine.map(cardFor));
    for (const id of [...cards.keys()]) if (!tasks.has(id)) cards.delete(id);
    const notices = [...mergedAway.values()].map(mergedNotice);
    const list = document.getElementById("tasks");
    list.replaceChildren(...notices, ...shown);
    showKnownCodes(list);  // asked for on the card this one replaces while it was being drawn
    document.getElementById("tasks-empty").hidden = shown.length > 0;
  });
  return rendering;
}

function upsert(incident) {
  if (!Revisions.fresh(incident)) return;  // an answer overtaken by the feed
  if (isOpen(incident) && incident.assigned_staff_id === ME.staff_id) tasks.set(incident.id, incident);
  else {
    if (incident.merged_into_id && tasks.has(incident.id)) mergedAway.set(incident.id, incident);
    tasks.delete(incident.id);
  }
  render();
}

async function reload() {
  await resync(`/api/incidents?assigned_to=${ME.staff_id}&limit=200`, tasks, upsert);
  render();
}

document.addEventListener("DOMContentLoaded", async () => {
  connectFeed({ onIncident: upsert, onResync: reload });
  await reload();
  setInterval(() => {
    for (const age of document.querySelectorAll("#tasks .age")) age.textContent = formatAge(Date.now() - new Date(age.dataset.opened));
  }, 1000);
});
