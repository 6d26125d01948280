// The incident screen (来电弹屏): the elder at a glance, why it was routed so, the timeline, recent
// vital signs, and every action; it follows the incident live over the feed.
"use strict";

const INCIDENT_ID = PAGE.incident_id;
let current = null;
let elder = null;
let assignees = [];

// What a step of the life of an incident may be followed by, and the button that does it.
const NEXT_STEPS = {
  acknowledged: ["en_route", "on_site"],
  en_route: ["on_site"],
  on_site: [],
  resolved: ["followed_up", "closed"],
  followed_up: ["closed"],
};
const STEP_LABEL = { en_route: "action.en_route", on_site: "action.on_site", followed_up: "action.follow_up", closed: "action.close" };

function renderHead() {
  const head = document.getElementById("incident-head");
  const i = current;
  head.className = `incident-head card p${i.priority}`;
  head.replaceChildren(
    el("h1", {},
      el("span", { class: `badge p${i.priority}` }, `P${i.priority}`), " ",
      t("kind." + i.kind), " · ", elder ? elder.name : elderLabel(i), " ",
      el("span", { class: "status", id: "incident-status", dataset: { status: i.status } }, t("status." + i.status))),
    el("p", {},
      `#${i.id} · ${centreName(i.centre_code)} · ${t("incident.opened")} ${formatTime(i.opened_at)} · `,
      el("span", { class: "age", dataset: { opened: i.opened_at } }, formatAge(Date.now() - new Date(i.opened_at))),
      ` · ${t("queue.holder")}: `, el("strong", { id: "holder" }, Staff.name(i.assigned_staff_id)),
      i.device_id ? ` · ${t("incident.device")} ${i.device_id}` : "",
      i.outcome ? ` · ${t("incident.outcome")}: ${t("outcome." + i.outcome)}` : "",
      i.escalation_level > 0 ? el("span", { class: "flag escalated" }, `${t("queue.escalated")} ${i.escalation_level}`) : "",
      callbackOwed(i)
        ? el("span", { class: "flag callback" }, `${t("queue.callback")} · ${t("queue.callback_by")} ${formatTime(i.callback_due_at)}`)
        : i.cancelled_by_elder ? el("span", { class: "flag" }, t("queue.cancelled")) : "",
      i.merged_into_id
        ? el("a", { class: "flag merged", id: "merged-into", href: `/console/incidents/${i.merged_into_id}` }, `${t("incident.merged_into")} ${t("incident.number")} ${i.merged_into_id}`)
        : ""),
  );
}

function renderCallback() {
  const owed = callbackOwed(current);
  document.getElementById("callback").hidden = !owed;
  if (!owed) return;
  document.getElementById("callback-due").textContent = formatTime(current.callback_due_at);
  const call = document.getElementById("callback-call");
  if (elder && elder.phone && !call.childElementCount) call.replaceChildren(telLink(elder.phone, t("action.call")));
}

// Incidents merged into this one or linked to it, and this elder's other open incidents to
// merge into it or link (the street's dispatch does: a community worker sees the links only).
const MAY_MERGE = ME.role !== "community_worker";

function linkedItem(tie) {
  const facts = tie.kind ? ` · ${t("kind." + tie.kind)} · ${t("status." + tie.status)}` : "";
  return el("li", { dataset: { relation: tie.relation, incidentId: tie.incident_id } },
    tWord("relation", tie.relation), " ",
    el("a", { href: `/console/incidents/${tie.incident_id}` }, `${t("incident.number")} ${tie.incident_id}`),
    facts, el("span", { class: "muted" }, ` · ${formatTime(tie.at)} · ${actorLabel(tie.by)}`));
}

function renderLinked(detail) {
  const ties = detail.linked || [];
  document.getElementById("linked-list").replaceChildren(
    ...(ties.length ? ties.map(linkedItem) : [el("li", { class: "muted" }, t("link.none"))]),
  );
}

async function loadOthers() {
  const form = document.getElementById("link-form");
  if (!MAY_MERGE || !current.elder_id || !isOpen(current)) {
    form.hidden = true;
    document.getElementById("link-no-other").hidden = true;
    return;
  }
  const open = await api(`/api/incidents?elder_id=${current.elder_id}&limit=50`).catch(() => []);
  const others = open.filter((other) => other.id !== INCIDENT_ID);
  const select = document.getElementById("link-other");
  const chosen = select.value;
  select.replaceChildren(...others.map((other) => el("option", { value: other.id },
    `${t("incident.number")} ${other.id} · P${other.priority} · ${t("kind." + other.kind)} · ${t("status." + other.status)} · ${Staff.name(other.assigned_staff_id)}`)));
  if (others.some((other) => String(other.id) === chosen)) select.value = chosen;
  form.hidden = others.length === 0;
  document.getElementById("link-no-other").hidden = others.length > 0;
}

async function mergeChosen() {
  const other = Number(document.getElementById("link-other").value);
  if (!other || !confirm(t("link.confirm_merge"))) return;
  const note = document.getElementById("link-note").value;
  if (await act(`/api/incidents/${other}/merge`, { into: INCIDENT_ID, note })) {
    document.getElementById("link-note").value = "";
    showMessage("action-ok", t("link.merged"));
    await loadOthers();
  }
}

async function linkChosen() {
  const other = Number(document.getElementById("link-other").value);
  if (!other) return;
  const note = document.getElementById("link-note").value;
  if (await act(`/api/incidents/${INCIDENT_ID}/links`, { incident_id: other, note })) {
    document.getElementById("link-note").value = "";
    showMessage("action-ok", t("link.linked"));
  }
}

function button(label, onclick, kind = "secondary", id) {
  return el("button", { type: "button", class: kind, onclick, id }, label);
}

function renderActions() {
  const box = document.getElementById("action-buttons");
  const i = current;
  const buttons = [];
  if (["new", "assigned"].includes(i.status)) {
    buttons.push(button(t("action.acknowledge"), () => act(`/api/incidents/${i.id}/acknowledge`, {}), "primary", "acknowledge"));
  }
  if (isOpen(i) && i.assigned_staff_id !== ME.staff_id) {
    buttons.push(button(t("action.claim"), () => act(`/api/incidents/${i.id}/assign`, { staff_id: ME.staff_id, note: "" }), "secondary", "claim"));
  }
  for (const step of NEXT_STEPS[i.status] || []) {
    buttons.push(button(t(STEP_LABEL[step]), () => act(`/api/incidents/${i.id}/status`, { status: step }), "secondary", `step-${step}`));
  }
  if (elder && elder.phone) buttons.push(telLink(elder.phone, t("action.call")));
  for (const c of (elder && elder.contacts) || []) {
    if (c.phone) buttons.push(telLink(c.phone, `${t("action.call")} ${c.name}`));
  }
  box.replaceChildren(...buttons);
  const canResolve = ["acknowledged", "en_route", "on_site"].includes(i.status);
  document.getElementById("resolve-form").hidden = !canResolve;
  document.getElementById("assign-form").hidden = !isOpen(i);
}

function renderTimeline(timeline) {
  document.getElementById("timeline").replaceChildren(...timelineItems(timeline));
}


// 120/110/119: each service called, what is known of it, and what is still to record. The forms
// of a call are made once and kept, so that a live update does not wipe what is being typed.
const callForms = new Map();
let outcomeChosen = false;

function callFacts(call) {
  const known = (value) => value || t("summary.not_given");
  return [
    el("strong", {}, tWord("emergency_service", call.service)),
    ` · ${t("detail.number")} ${call.number} · ${t("detail.called_at")} ${formatTime(call.called_at)} · `,
    `${t("detail.reference")} `, el("span", { class: "reference" }, known(call.reference)),
    ` · ${t("detail.hospital")} `, el("span", { class: "hospital" }, known(call.hospital)), " · ",
    call.handed_over_at
      ? el("span", { class: "handed-over" }, `${t("emergency.handed_over")} ${formatTime(call.handed_over_at)}`)
      : el("span", { class: "waiting" }, t("emergency.waiting")),
  ];
}

function callForm(service) {
  const id = (name) => `emergency-${service}-${name}`;
  const field = (name, label, attrs = {}) => el("label", {}, label, el("input", { id: id(name), name, ...attrs }));
  const form = el("form", { class: "inline call-form", dataset: { service } },
    field("reference", t("emergency.reference"), { maxlength: 40 }),
    field("hospital", t("emergency.hospital"), { maxlength: 100 }),
    el("button", { type: "submit", class: "secondary", id: id("save") }, t("emergency.save")),
    el("span", { class: "hand-over" },
      field("handed-over-at", t("emergency.handed_over_at"), { type: "datetime-local" }),
      button(t("emergency.hand_over"), () => handOver(service), "primary", id("hand-over"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const name of ["reference", "hospital"]) {
      const value = document.getElementById(id(name)).value.trim();
      if (value) body[name] = value;
    }
    if (await act(`/api/incidents/${INCIDENT_ID}/emergency/${service}`, body, "PATCH")) {
      for (const name of ["reference", "hospital"]) document.getElementById(id(name)).value = "";
      showMessage("action-ok", t("emergency.recorded"));
    }
  });
  return form;
}

async function handOver(service) {
  const at = document.getElementById(`emergency-${service}-handed-over-at`).value;
  const body = at ? { at: streetWallToIso(at) } : {};
  if (await act(`/api/incidents/${INCIDENT_ID}/emergency/${service}/handed-over`, body)) {
    showMessage("action-ok", t("emergency.recorded"));
  }
}

function renderEmergency(detail) {
  const calls = detail.emergency_calls || [];
  const closed = detail.status === "closed";
  const list = document.getElementById("emergency-calls");
  const items = calls.map((call) => {
    if (!callForms.has(call.service)) callForms.set(call.service, callForm(call.service));
    const form = callForms.get(call.service);
    form.hidden = closed;
    form.querySelector(".hand-over").hidden = Boolean(call.handed_over_at);
    const facts = el("div", { class: "call-facts" }, ...callFacts(call));
    const item = list.querySelector(`li[data-service="${call.service}"]`);
    if (!item) return el("li", { dataset: { service: call.service } }, facts, form);
    item.firstChild.replaceWith(facts);
    return item;
  });
  // Moved only when a call is added: moving a form would take the cursor out of its field.
  const same = items.length > 0 && items.length === list.children.length && items.every((item, i) => list.children[i] === item);
  if (!same) list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, t("emergency.none"))]));
  const form = document.getElementById("emergency-form");
  form.hidden = closed;
  const select = document.getElementById("emergency-service");
  const called = new Set(calls.map((c) => c.service));
  for (const option of select.options) option.disabled = called.has(option.value);
  if (called.has(select.value)) {
    const free = [...select.options].find((o) => !o.disabled);
    if (free) select.value = free.value;
  }
  document.getElementById("emergency-submit").disabled = [...select.options].every((o) => o.disabled);
  // The outcome a hand-over suggests, unless the person resolving has already chosen one.
  if (detail.suggested_outcome && !outcomeChosen) {
    document.getElementById("outcome").value = detail.suggested_outcome;
  }
}

function render(detail) {
  if (!Revisions.fresh(detail)) return;  // an answer overtaken by a newer state of the case
  current = detail;
  renderHead();
  renderActions();
  renderCallback();
  if (detail.linked) renderLinked(detail);
  renderFamilyOnTheWay(detail);
  document.getElementById("routing").textContent = detail.routing || "—";
  if (detail.timeline) renderTimeline(detail.timeline);
  if (detail.emergency_calls) renderEmergency(detail);
}

async function act(path, body, method = "POST") {
  showMessage("action-error", "");
  showMessage("action-ok", "");
  try {
    render(await api(path, { method, body }));
    return true;
  } catch (error) {
    // A refusal the texts have words for is said in them; any other in the server's.
    const known = error.code && Object.prototype.hasOwnProperty.call(BOOT.texts, `error.${error.code}`);
    showMessage("action-error", `${t("common.error")}: ${known ? t(`error.${error.code}`) : error.message}`);
    return false;
  }
}

async function loadAssignees() {
  const select = document.getElementById("assign-to");
  const onDuty = await api("/api/on-duty").catch(() => []);
  const seen = new Set();
  assignees = [];
  for (const p of onDuty) {
    if (seen.has(p.staff_id)) continue;
    seen.add(p.staff_id);
    assignees.push({ id: p.staff_id, label: `${p.name} · ${t("role." + p.role)} · ${centreName(p.centre_code)}`, centre: p.centre_code });
  }
  // The incident's own centre first: that is who is usually sent.
  assignees.sort((a, b) => (b.centre === current.centre_code) - (a.centre === current.centre_code) || a.label.localeCompare(b.label));
  // At night a community centre has nobody on duty; the workers of the incident's centre and of
  // the elder's own community can still be called in.
  const near = new Set([current.centre_code, elder && elder.community_code].filter(Boolean));
  const staff = await api("/api/staff").catch(() => []);
  const offDuty = staff
    .filter((p) => near.has(p.centre_code) && p.active && !p.on_duty && !seen.has(p.id))
    .map((p) => ({ id: p.id, label: `${p.name} · ${t("role." + p.role)} · ${centreName(p.centre_code)}` }));
  const options = (list) => list.map((a) => el("option", { value: a.id }, a.label));
  select.replaceChildren(
    el("optgroup", { label: t("incident.on_duty") }, ...options(assignees)),
    ...(offDuty.length ? [el("optgroup", { label: t("incident.off_duty") }, ...options(offDuty))] : []),
  );
}

// The family SMS (the family messages feature's API): one contact, the operator's own words; a
// retried send carries the same request id, so it goes once.
let smsRequestId = null;
let smsMessages = [];
let smsPoll = null;
const SMS_WAITING = ["pending", "sending", "unsure"];
// A message waiting to go is looked at again this often until it has gone (or failed): the
// sender's outbox records change no incident, so the feed does not tell of them.
const SMS_RECHECK_MS = 1500;

async function renderSmsLog() {
  smsMessages = await api(`/api/sms/messages?incident=${INCIDENT_ID}`).catch(() => smsMessages);
  smsReplies = await api(`/api/sms/replies?incident=${INCIDENT_ID}`).catch(() => smsReplies);
  document.getElementById("sms-log").replaceChildren(...withReplies(
    smsMessages.map((m) => el("li", { dataset: { state: m.state } },
      `${formatTime(m.created_at || m.due_at)} ${m.contact_name}（${m.relation}） ${tWord("sms", m.state)} ${m.body || m.operator_text || ""}`)),
  ));
  clearTimeout(smsPoll);
  if (smsMessages.some((m) => SMS_WAITING.includes(m.state))) smsPoll = setTimeout(renderSmsLog, SMS_RECHECK_MS);
}

// The family's replies (callcenter/family/replies.py), each among the messages by its time (the
// list is newest first); a number that opted out says so, and the operator may confirm that it
// gets no emergency SMS either (audited).
let smsReplies = [];

function withReplies(items) {
  const shown = smsMessages.map((m, i) => ({ at: Date.parse(m.created_at || m.due_at), node: items[i] }));
  for (const reply of [...smsReplies].reverse()) {
    const at = Date.parse(reply.received_at);
    const index = shown.findIndex((item) => item.at <= at);
    shown.splice(index < 0 ? shown.length : index, 0, { at, node: replyItem(reply) });
  }
  return shown.map((item) => item.node);
}

function replyItem(r) {
  const words = ["going", "cannot"].includes(r.kind) ? "" : r.body;
  const o = r.kind === "stop" && r.opt_out && r.opt_out.opted_out ? r.opt_out : null;
  const optOut = !o ? "" : o.emergencies_confirmed_at ? ` · ${t("reply.emergencies_confirmed")}`
    : el("span", {}, ` · ${t("reply.opted_out")} `, button(t("reply.confirm_emergencies"), () => confirmOptOut(o.id), "secondary", `confirm-opt-out-${o.id}`));
  return el("li", { class: "reply", dataset: { kind: r.kind } },
    `${formatTime(r.received_at)} ${r.contact_name || r.phone}${r.relation ? `（${r.relation}）` : ""} ${t("reply." + r.kind)} ${words}`, optOut);
}

async function confirmOptOut(id) {
  if (!confirm(`${t("reply.confirm_emergencies")}?`)) return;
  try {
    await api(`/api/sms/opt-outs/${id}/emergencies`, { method: "POST" });
    await renderSmsLog();
  } catch (error) {
    showMessage("action-error", `${t("common.error")}: ${error.message}`);
  }
}

// Who of the family said they are going, by the last answer on the timeline (the chase goes on).
function renderFamilyOnTheWay(detail) {
  const answers = (detail.timeline || []).filter((e) => ["family_going", "family_cannot"].includes(e.action));
  const going = answers.length && answers[answers.length - 1].detail.family_on_the_way;
  if (going) document.querySelector("#incident-head p").append(el("span", { class: "flag family-going", id: "family-on-the-way" }, `${t("incident.family_on_the_way")}：${going}`));
}

async function setUpSms() {
  const form = document.getElementById("sms-form");
  const contacts = ((elder && elder.contacts) || []).filter((c) => c.phone && c.id);
  if (!contacts.length) return;
  document.getElementById("sms-contact").replaceChildren(
    ...contacts.map((c) => el("option", { value: c.id }, `${c.position}. ${c.name}（${c.relation}）`)),
  );
  form.hidden = false;
  form.addEventListener("input", () => {
    smsRequestId = null;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showMessage("action-error", "");
    showMessage("action-ok", "");
    smsRequestId = smsRequestId || `console-${ME.staff_id}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const body = {
      incident_id: INCIDENT_ID,
      contact_id: Number(document.getElementById("sms-contact").value),
      text: document.getElementById("sms-text").value.trim(),
      request_id: smsRequestId,
    };
    try {
      await api("/api/sms/messages", { method: "POST", body });
      showMessage("action-ok", t("incident.sms_sent"));
      document.getElementById("sms-text").value = "";
      smsRequestId = null;
      await renderSmsLog();
    } catch (error) {
      showMessage("action-error", error.status === 404 || error.status === 405 ? t("incident.sms_unavailable") : `${t("common.error")}: ${error.message}`);
    }
  });
  await renderSmsLog();
}

document.addEventListener("DOMContentLoaded", async () => {
  // Every form answers for itself before anything loads: a form sent before its handler was
  // there would reload the page instead, and lose what was typed.
  document.getElementById("resolve-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await act(`/api/incidents/${INCIDENT_ID}/status`, {
      status: "resolved",
      outcome: document.getElementById("outcome").value,
      note: document.getElementById("resolve-note").value,
    });
  });
  document.getElementById("outcome").addEventListener("change", () => {
    outcomeChosen = true;
  });
  document.getElementById("callback-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      result: document.getElementById("callback-result").value,
      note: document.getElementById("callback-note").value,
    };
    if (await act(`/api/incidents/${INCIDENT_ID}/callback`, body)) {
      document.getElementById("callback-note").value = "";
      showMessage("action-ok", t("callback.recorded"));
    }
  });
  document.getElementById("merge-submit").addEventListener("click", mergeChosen);
  document.getElementById("link-submit").addEventListener("click", linkChosen);
  document.getElementById("emergency-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { service: document.getElementById("emergency-service").value };
    const calledAt = document.getElementById("emergency-called-at").value;
    if (calledAt) body.called_at = streetWallToIso(calledAt);
    for (const name of ["reference", "hospital"]) {
      const value = document.getElementById(`emergency-${name}`).value.trim();
      if (value) body[name] = value;
    }
    if (await act(`/api/incidents/${INCIDENT_ID}/emergency`, body)) {
      for (const name of ["called-at", "reference", "hospital"]) document.getElementById(`emergency-${name}`).value = "";
      showMessage("action-ok", t("emergency.recorded"));
    }
  });
  document.getElementById("assign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await act(`/api/incidents/${INCIDENT_ID}/assign`, {
      staff_id: Number(document.getElementById("assign-to").value),
      note: document.getElementById("assign-note").value,
    });
  });
  document.getElementById("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("note-text");
    if (await act(`/api/incidents/${INCIDENT_ID}/notes`, { text: input.value })) input.value = "";
  });
  await Staff.load();
  let detail;
  try {
    detail = await api(`/api/incidents/${INCIDENT_ID}`);
  } catch (error) {
    document.getElementById("incident-head").replaceChildren(el("p", { class: "error" }, `${t("common.error")}: ${error.message}`));
    return;
  }
  // An action taken while this loaded may have shown a newer state already: kept, not undone.
  if (current === null || (detail.revision ?? 0) >= (current.revision ?? 0)) current = detail;
  if (detail.elder_id) {
    try {
      elder = await api(`/api/elders/${detail.elder_id}`);
      renderProfile(document.getElementById("profile"), elder);
    } catch (error) {
      document.getElementById("profile").append(el("p", { class: "muted" }, `${t("common.error")}: ${error.message}`));
    }
    api(`/api/elders/${detail.elder_id}/vitals?days=7`)
      .then((answer) => renderVitals(document.getElementById("vitals"), answer))
      .catch(() => renderVitals(document.getElementById("vitals"), []));
  } else {
    document.getElementById("profile").append(el("p", {}, t("queue.unidentified")));
  }
  render(detail);

  await loadAssignees();
  await setUpSms();
  await loadOthers();

  // Someone else's change to this incident shows at once; the timeline is fetched with it.
  connectFeed({
    onIncident: async (incident) => {
      // Another incident of this elder opened, merged or closed: the choice to merge follows.
      if (incident.id !== INCIDENT_ID) {
        if (current.elder_id && incident.elder_id === current.elder_id) await loadOthers();
        return;
      }
      render(await api(`/api/incidents/${INCIDENT_ID}`));
      await renderSmsLog();
      await loadOthers();
    },
    onResync: async () => {
      render(await api(`/api/incidents/${INCIDENT_ID}`));
      await renderSmsLog();
      await loadOthers();
    },
  });
  setInterval(() => {
    const age = document.querySelector("#incident-head .age");
    if (age) age.textContent = formatAge(Date.now() - new Date(age.dataset.opened));
  }, 1000);
});
