// The elder at a glance and their vital signs as SVG charts: shared by the incident screen,
// the elder's page and the worker page.
"use strict";

function telLink(number, label) {
  if (!number) return el("span", { class: "muted" }, "—");
  // A masked number (for roles that do not call) is shown but not dialled.
  if (number.includes("*")) return el("span", { class: "phone" }, number);
  return el("a", { class: "tel", href: `tel:${number}` }, icon("phone"), ` ${label ? label + " " : ""}${number}`);
}

// Click-to-call (callcenter/voice): on the incident screen, with Twilio's voice settings, a call
// button beside each number rings the person's own phone first and, once they answer, puts them
// through to that number; the calls and how each went are listed under the profile, live from
// the feed. Without the settings the numbers stay tel: links and nothing here shows.
const Voice = {
  panel: null,
  asked: 0,
  shown: 0,
  message: "",
  failed: false,
  ringing: null, // the call whose "answer your phone" is shown, until it has moved on
  editing: false,
  active() {
    return Boolean(ME && PAGE.incident_id);
  },
  on() {
    return Boolean(this.panel && this.panel.mode === "twilio" && this.panel.may_call);
  },
  // Where a number's call button goes; filled once the incident's call panel is known.
  slot(target, ref) {
    if (!this.active()) return null;
    return el("span", { class: "call-slot", dataset: { target, ref: ref === undefined || ref === null ? "" : String(ref) } });
  },
  async refresh() {
    if (!this.active()) return;
    // Answers may come back out of order: only the newest question's answer is shown.
    this.asked += 1;
    const asked = this.asked;
    let panel;
    try {
      panel = await api(`/api/voice/incidents/${PAGE.incident_id}`);
    } catch (_error) {
      return;
    }
    if (asked < this.shown) return;
    this.shown = asked;
    this.panel = panel;
    this.fill(document);
    this.render();
  },
  fill(root) {
    for (const slot of root.querySelectorAll(".call-slot")) {
      const target = this.on() && this.panel.targets.find((x) => x.target === slot.dataset.target && (x.ref || "") === slot.dataset.ref);
      slot.replaceChildren(...(target ? [" ", this.button(target)] : []));
    }
  },
  button(target) {
    const label = target.target === "terminal" ? `${t("voice.call_terminal")} ${target.number}` : t("voice.call");
    return el("button", {
      type: "button", class: "secondary call", dataset: { call: target.target, ref: target.ref || "" },
      onclick: (event) => this.place(target, event.currentTarget),
    }, icon("phone"), " ", label);
  },
  async place(target, button) {
    button.disabled = true;
    const body = {
      incident_id: PAGE.incident_id, target: target.target, ref: target.ref,
      request_id: `console-${ME.staff_id}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    };
    try {
      const call = await api("/api/voice/calls", { method: "POST", body });
      this.say(call.state === "failed" ? `${t("call_state.failed")}：${this.reason(call.reason)}` : t("voice.placed"), call.state === "failed");
      this.ringing = call.state === "failed" ? null : call.id;
    } catch (error) {
      const known = error.code && Object.prototype.hasOwnProperty.call(BOOT.texts, `error.${error.code}`);
      this.say(`${t("common.error")}: ${known ? t(`error.${error.code}`) : error.message}`, true);
    } finally {
      button.disabled = false;
    }
    await this.refresh();
  },
  say(text, failed = false) {
    this.message = text;
    this.failed = failed;
    this.ringing = null;
    this.render();
  },
  reason(value) {
    return typeof reasonWords === "function" ? reasonWords(value) : tWord("reason", value);
  },
  callLine(call) {
    const parts = [`${formatTime(call.created_at)} ${call.callee} ${call.number}`, tWord("call_state", call.state)];
    if (call.duration_s !== null && call.duration_s !== undefined) parts.push(`${t("voice.duration")} ${call.duration_s} ${t("common.seconds")}`);
    // A reason that only repeats the state ("busy": the line was busy) is left out.
    const repeats = { busy: "call_busy", no_answer: "call_no_answer", canceled: "call_canceled" }[call.state] === call.reason;
    if (call.hung_up_by) parts.push(t(`reason.${call.hung_up_by}_hung_up`));
    else if (call.reason && !repeats) parts.push(this.reason(call.reason));
    const failed = ["busy", "no_answer", "failed", "canceled", "operator_unreached"].includes(call.state);
    return el("li", { class: failed ? "error" : "", dataset: { state: call.state, callId: call.id } }, parts.join(" · "));
  },
  phoneEditor() {
    const mine = this.panel.my_phone;
    if (mine && !this.editing) {
      return el("p", { class: "my-phone" }, `${t("voice.my_phone")} ${mine} `,
        el("button", { type: "button", class: "secondary", id: "change-my-phone", onclick: () => { this.editing = true; this.render(); } }, t("voice.change_phone")));
    }
    const input = el("input", { id: "my-phone", type: "tel", maxlength: 32, value: mine || "", placeholder: t("voice.no_phone") });
    const form = el("form", { class: "inline my-phone" },
      el("label", {}, t("voice.my_phone"), input),
      el("button", { type: "submit", class: "secondary", id: "save-my-phone" }, t("voice.save_phone")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api(`/api/staff/${ME.staff_id}/phone`, { method: "PUT", body: { phone: input.value.trim() || null } });
        this.editing = false;
        this.message = "";
      } catch (error) {
        this.message = `${t("common.error")}: ${error.message}`;
        this.failed = true;
      }
      await this.refresh();
    });
    return form;
  },
  render() {
    const section = document.getElementById("calls");
    if (!section || !this.panel) return;
    const calls = this.panel.calls || [];
    const waiting = calls.find((c) => c.id === this.ringing);
    if (waiting && !["placing", "calling_operator"].includes(waiting.state)) {
      this.message = "";
      this.ringing = null;
    }
    section.hidden = !this.on() && !calls.length;
    if (section.hidden) return;
    // The phone being typed is not wiped by a live update.
    if (section.contains(document.activeElement) && document.activeElement.id === "my-phone") return;
    section.replaceChildren(
      el("h4", {}, t("voice.title")),
      ...(this.on() ? [el("p", { class: "muted" }, t("voice.how")), this.phoneEditor()] : []),
      el("ol", { class: "call-log", id: "call-log" }, ...(calls.length ? calls.map((c) => this.callLine(c)) : [el("li", { class: "muted" }, t("voice.none"))])),
      el("p", { class: this.failed ? "error" : "ok", id: "call-message", role: "status", hidden: !this.message }, this.message),
    );
  },
};

document.addEventListener("DOMContentLoaded", () => {
  if (!Voice.active()) return;
  Voice.refresh();
  Feed.listen({
    onIncident: (incident) => {
      if (incident.id === PAGE.incident_id) Voice.refresh();
    },
    onResync: () => Voice.refresh(),
  });
});

function fact(label, ...value) {
  return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, ...value));
}

function deviceLine(device) {
  const state = device.online ? t("device.online") : t("device.offline");
  const battery = device.battery !== null && device.battery !== undefined ? ` · ${t("device.battery")} ${device.battery}%` : "";
  const seen = device.last_seen_at ? ` · ${t("device.last_seen")} ${formatTime(device.last_seen_at)}` : "";
  return el("li", { class: device.online ? "online" : "offline" }, `${deviceKindName(device.kind)} ${device.id} · ${state}${battery}${seen}`,
    device.kind === "sos_terminal" ? Voice.slot("terminal", device.id) : null);
}

// A section's edit button, for a person who may change it (elder.may_edit) on a page that edits.
function editButton(elder, part, right, onEdit) {
  if (!onEdit || !(elder.may_edit || []).includes(right)) return null;
  return el("button", { type: "button", class: "secondary edit", dataset: { edit: part }, onclick: (event) => onEdit(part, event.target.closest("[data-part]")) }, icon("pencil", t("edit.edit")), " ", t("edit.edit"));
}

// The key-safe and door codes are never in the profile: a person who may read them asks for
// them (each showing is audited), and they are shown in place of the dots.
// Codes this page was given (asked for and audited), by elder: a part rebuilt while the page is
// open (the task's own news on a worker's phone) shows them again, not the dots of a fresh card,
// and so does one that was being rebuilt while they were asked for (showKnownCodes).
const codesShown = new Map();

function shownCodes(elderId) {
  return fact(t("elder.codes"), el("span", { class: "codes", "data-testid": "codes" }, codesShown.get(elderId)));
}

function accessCodes(elder) {
  const access = elder.home_access || {};
  if (!access.has_key_safe_code && !access.has_door_code) return null;
  if (codesShown.has(elder.id)) return shownCodes(elder.id);
  const kept = [access.has_key_safe_code ? t("elder.key_safe_code") : null, access.has_door_code ? t("elder.door_code") : null].filter(Boolean).join("、");
  const show = (elder.may_edit || []).includes("access_codes")
    ? el("button", {
        type: "button", class: "secondary show-codes", "data-testid": "show-codes",
        onclick: async () => {
          const codes = await api(`/api/elders/${elder.id}/access-codes`);
          const parts = [];
          if (codes.key_safe_code) parts.push(`${t("elder.key_safe_code")} ${codes.key_safe_code}`);
          if (codes.door_code) parts.push(`${t("elder.door_code")} ${codes.door_code}`);
          codesShown.set(elder.id, parts.join(" · ") || "—");
          showKnownCodes(document);
        },
      }, t("elder.show_codes"))
    : null;
  const part = fact(t("elder.codes"), el("span", { class: "muted" }, kept, " "), el("span", { class: "codes", "data-testid": "codes" }, "••••"), " ", show);
  part.dataset.codesOf = elder.id;
  return part;
}

// Every dotted codes line under root whose codes this page was given shows them: on the page when
// they arrive, and on a card drawn while they were on their way, as it goes on the page.
function showKnownCodes(root) {
  for (const part of root.querySelectorAll("[data-codes-of]")) {
    const elderId = Number(part.dataset.codesOf);
    if (codesShown.has(elderId)) part.replaceWith(shownCodes(elderId));
  }
}

function homeAccessPart(elder, onEdit) {
  const access = elder.home_access || {};
  const part = el("section", { dataset: { part: "home_access" } }, el("h4", {}, t("elder.home_access"), " ", editButton(elder, "home_access", "home_access", onEdit)));
  const facts = el("dl", { class: "facts" });
  if (access.key_holder_name || access.key_holder_phone) {
    const who = access.key_holder_name ? `${access.key_holder_name}${access.key_holder_relation ? `（${access.key_holder_relation}）` : ""} ` : "";
    facts.append(fact(t("elder.key_holder"), who, telLink(access.key_holder_phone)));
  }
  const codes = accessCodes(elder);
  if (codes) facts.append(codes);
  if (access.notes) facts.append(fact(t("elder.access_notes"), access.notes));
  part.append(facts.children.length ? facts : el("p", { class: "muted" }, t("edit.none")));
  return part;
}

function medicalPart(elder, onEdit) {
  const medical = elder.medical || { medications: [], allergies: [] };
  const part = el("section", { dataset: { part: "medical" } }, el("h4", {}, t("elder.medical"), " ", editButton(elder, "medical", "medical", onEdit)));
  const facts = el("dl", { class: "facts" });
  facts.append(fact(t("elder.allergies"), medical.allergies.length ? medical.allergies.map((a) => el("span", { class: "chip allergy" }, a)) : t("edit.none")));
  facts.append(fact(t("elder.medications"), medical.medications.length ? el("ul", { class: "plain" }, medical.medications.map((m) => el("li", {}, m.dose ? `${m.name} · ${m.dose}` : m.name))) : t("edit.none")));
  if (medical.doctor_name || medical.doctor_phone || medical.doctor_clinic) {
    facts.append(fact(t("elder.doctor"), [medical.doctor_name, medical.doctor_clinic].filter(Boolean).join(" · "), " ", medical.doctor_phone ? telLink(medical.doctor_phone) : ""));
  }
  if (medical.preferred_hospital) facts.append(fact(t("elder.hospital"), medical.preferred_hospital));
  part.append(facts);
  return part;
}

function renderProfile(container, elder, { heading = true, onEdit = null } = {}) {
  container.replaceChildren();
  if (heading) container.append(el("h2", {}, t("incident.profile")));
  const title = [elder.name, elder.age !== undefined ? `${elder.age}${BOOT.lang === "zh" ? "岁" : ""}` : null, elder.sex ? t("sex." + elder.sex) : null]
    .filter(Boolean)
    .join(" · ");
  container.append(el("h3", { class: "elder-name" }, el("a", { href: `/console/elders/${elder.id}` }, title)));
  const facts = el("dl", { class: "facts" });
  facts.append(fact(t("elder.address"), elder.address || "—"));
  if (elder.community_code || elder.community) facts.append(fact(t("elder.community"), elder.community_code ? centreName(elder.community_code) : elder.community));
  facts.append(fact(t("elder.phone"), el("span", { dataset: { part: "phones" } }, telLink(elder.phone), elder.phone ? Voice.slot("elder") : null, elder.second_phone ? [" ", telLink(elder.second_phone), Voice.slot("elder_second")] : null, " ", editButton(elder, "phones", "contacts", onEdit))));
  if (elder.life_status && elder.life_status !== "active") facts.append(fact(t("elder.life_status"), el("strong", { class: "error" }, t("life." + elder.life_status))));
  if (elder.national_id) facts.append(fact(t("elder.national_id"), elder.national_id));
  facts.append(fact(t("elder.living"), elder.living_situation ? t("living." + elder.living_situation) : "—"));
  facts.append(fact(t("elder.self_care"), elder.self_care ? t("selfcare." + elder.self_care) : "—"));
  const conditions = elder.conditions || [];
  facts.append(fact(t("elder.conditions"), conditions.length ? conditions.map((c) => el("span", { class: "chip" }, c)) : "—"));
  if (elder.remarks) facts.append(fact(t("elder.remarks"), elder.remarks));
  container.append(facts);
  const contacts = (elder.contacts || []).slice().sort((a, b) => (a.position || 0) - (b.position || 0));
  container.append(el("section", { dataset: { part: "contacts" } },
    el("h4", {}, t("elder.contacts"), " ", editButton(elder, "contacts", "contacts", onEdit)),
    el("ol", { class: "contacts" }, contacts.map((c) => el("li", {}, `${c.name}（${c.relation}） `, telLink(c.phone), c.phone ? Voice.slot("contact", c.id) : null)))));
  if (elder.home_access) container.append(homeAccessPart(elder, onEdit));
  if (elder.medical) container.append(medicalPart(elder, onEdit));
  container.append(el("h4", {}, t("elder.devices")));
  container.append(el("ul", { class: "devices" }, (elder.devices || []).map(deviceLine)));
  if (Voice.active()) {
    container.append(el("section", { id: "calls", class: "calls", dataset: { part: "calls" }, hidden: true }));
    Voice.fill(container);
    Voice.render();
  }
}

const VITAL_SERIES = [
  { key: "bp", fields: ["bp_sys", "bp_dia"] },
  { key: "hr", fields: ["hr"] },
  { key: "spo2", fields: ["spo2"] },
  { key: "glucose", fields: ["glucose"] },
  { key: "temp", fields: ["temp"] },
];

function readingsOf(answer) {
  if (Array.isArray(answer)) return answer;
  return (answer && (answer.readings || answer.items)) || [];
}

// One small line chart per vital sign over the period, with the latest value written beside it.
function renderVitals(container, answer) {
  container.replaceChildren();
  const readings = readingsOf(answer)
    .map((r) => ({ ...r, at: new Date(r.measured_at || r.at) }))
    .sort((a, b) => a.at - b.at);
  if (!readings.length) {
    container.append(el("p", { class: "muted" }, t("incident.no_readings")));
    return;
  }
  const start = readings[0].at.getTime();
  const end = Math.max(readings[readings.length - 1].at.getTime(), start + 1);
  const width = 360;
  const height = 70;
  for (const series of VITAL_SERIES) {
    const points = readings.filter((r) => series.fields.some((f) => r[f] !== null && r[f] !== undefined));
    if (!points.length) continue;
    const values = points.flatMap((r) => series.fields.map((f) => r[f]).filter((v) => v !== null && v !== undefined));
    let low = Math.min(...values);
    let high = Math.max(...values);
    if (high - low < 1) {
      low -= 1;
      high += 1;
    }
    const x = (at) => 4 + ((at.getTime() - start) / (end - start)) * (width - 8);
    const y = (v) => height - 6 - ((v - low) / (high - low)) * (height - 12);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "vital-chart", "data-vital": series.key });
    chart.append(svg("rect", { x: 0, y: 0, width, height, class: "chart-bg" }));
    series.fields.forEach((field, index) => {
      const path = points
        .filter((r) => r[field] !== null && r[field] !== undefined)
        .map((r, i) => `${i ? "L" : "M"}${x(r.at).toFixed(1)},${y(r[field]).toFixed(1)}`)
        .join(" ");
      chart.append(svg("path", { d: path, class: `line line-${index}` }));
    });
    chart.append(svg("text", { x: 4, y: 11, class: "chart-label" }, `${high}`));
    chart.append(svg("text", { x: 4, y: height - 2, class: "chart-label" }, `${low}`));
    const last = points[points.length - 1];
    const latest = series.fields.map((f) => last[f]).filter((v) => v !== null && v !== undefined).join("/");
    container.append(
      el("div", { class: "vital" }, el("div", { class: "vital-head" }, el("strong", {}, t("vital." + series.key)), ` ${latest} · ${formatTime(last.measured_at || last.at)}`), chart),
    );
  }
}
