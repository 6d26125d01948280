// One elder: profile, devices, vital signs, thresholds, away periods, incident history, work
// orders and care calls, and the forms that keep the record up to date, each shown only to a
// person who may use it (elder.may_edit, from the permission table). Every edit sends the
// version it was based on: if someone else saved first, the page says so and shows the latest.
"use strict";

let elder = null;

function say(text, kind = "muted") {
  document.getElementById("edit-status").replaceChildren(el("p", { class: kind, role: "status" }, text));
}

async function load() {
  elder = await api(`/api/elders/${PAGE.elder_id}`);
  renderProfile(document.getElementById("profile"), elder, { heading: false, onEdit: openForm });
  renderThresholds();
  renderAway();
  renderLifeStatus();
}

// Send one change; on success or on a stale edit, show the elder as they are now.
async function save(path, method, body) {
  try {
    await api(`/api/elders/${PAGE.elder_id}/${path}`, { method, body });
    await load();
    say(t("edit.saved"));
  } catch (error) {
    if (error.code === "stale_edit") {
      await load();
      say(t("edit.stale"), "error");
    } else {
      say(`${t("edit.failed")}${error.message}`, "error");
    }
  }
}

const blank = (value) => (value && value.trim() ? value.trim() : null);
const field = (label, attrs) => el("label", {}, label, el("input", attrs));

function formShell(part, children, onsubmit) {
  return el("form", {
    class: "inline edit-form", dataset: { form: part },
    onsubmit: (event) => {
      event.preventDefault();
      onsubmit(new FormData(event.target), event.target);
    },
  }, ...children,
  el("button", { type: "submit", class: "primary", "data-testid": "save" }, t("edit.save")),
  el("button", { type: "button", class: "secondary", onclick: () => load() }, t("edit.cancel")));
}

function phonesForm() {
  return formShell("phones", [
    field(t("elder.phone"), { name: "phone", value: elder.phone || "", type: "tel", maxlength: 32 }),
    field(t("elder.second_phone"), { name: "second_phone", value: elder.second_phone || "", type: "tel", maxlength: 32 }),
  ], (data) => save("phones", "PUT", { version: elder.version, phone: blank(data.get("phone")), second_phone: blank(data.get("second_phone")) }));
}

function contactRow(contact) {
  const row = el("li", { class: "contact-edit", dataset: { id: contact.id ?? "" } },
    field(t("edit.name"), { name: "name", value: contact.name || "", required: true, maxlength: 64 }),
    field(t("edit.relation"), { name: "relation", value: contact.relation || "", required: true, maxlength: 32 }),
    field(t("edit.phone"), { name: "phone", value: contact.phone || "", type: "tel", maxlength: 32 }),
    el("button", { type: "button", class: "secondary", title: t("edit.up"), onclick: () => row.previousElementSibling && row.parentNode.insertBefore(row, row.previousElementSibling) }, "↑"),
    el("button", { type: "button", class: "secondary", title: t("edit.down"), onclick: () => row.nextElementSibling && row.parentNode.insertBefore(row.nextElementSibling, row) }, "↓"),
    el("button", { type: "button", class: "secondary", onclick: () => row.remove() }, t("edit.remove")));
  row.dataset.language = contact.language || "zh";
  return row;
}

function contactsForm() {
  const list = el("ol", { class: "contacts-edit" }, (elder.contacts || []).map(contactRow));
  return formShell("contacts", [
    list,
    el("button", { type: "button", class: "secondary", onclick: () => list.append(contactRow({})) }, t("edit.add_contact")),
  ], () => save("contacts", "PUT", {
    version: elder.version,
    contacts: [...list.children].map((row) => ({
      id: row.dataset.id ? Number(row.dataset.id) : null,
      name: row.querySelector("[name=name]").value,
      relation: row.querySelector("[name=relation]").value,
      phone: blank(row.querySelector("[name=phone]").value),
      language: row.dataset.language,
    })),
  }));
}

// The codes are not on the page: an empty box keeps a code, "clear" removes it.
function codeField(name, label, kept) {
  return el("label", {}, label,
    el("input", { name, maxlength: 32, autocomplete: "off", placeholder: kept ? t("edit.code_keep") : "" }),
    kept ? el("span", {}, el("input", { type: "checkbox", name: `${name}_clear` }), ` ${t("edit.clear_code")}`) : null);
}

function homeAccessForm() {
  const access = elder.home_access;
  return formShell("home_access", [
    field(t("elder.key_holder"), { name: "key_holder_name", value: access.key_holder_name || "", maxlength: 64 }),
    field(t("edit.relation"), { name: "key_holder_relation", value: access.key_holder_relation || "", maxlength: 32 }),
    field(t("edit.phone"), { name: "key_holder_phone", value: access.key_holder_phone || "", type: "tel", maxlength: 32 }),
    codeField("key_safe_code", t("elder.key_safe_code"), access.has_key_safe_code),
    codeField("door_code", t("elder.door_code"), access.has_door_code),
    el("label", {}, t("elder.access_notes"), el("textarea", { name: "notes", rows: 2, maxlength: 1000 }, access.notes || "")),
  ], (data) => {
    const body = {
      version: elder.version,
      key_holder_name: blank(data.get("key_holder_name")),
      key_holder_relation: blank(data.get("key_holder_relation")),
      key_holder_phone: blank(data.get("key_holder_phone")),
      notes: data.get("notes") || "",
    };
    for (const code of ["key_safe_code", "door_code"]) {
      if (data.get(`${code}_clear`)) body[code] = null;
      else if (blank(data.get(code))) body[code] = data.get(code).trim();
    }
    save("home-access", "PUT", body);
  });
}

function medicineRow(medicine) {
  const row = el("li", { class: "medicine-edit" },
    field(t("edit.medicine"), { name: "medicine", value: medicine.name || "", maxlength: 64 }),
    field(t("edit.dose"), { name: "dose", value: medicine.dose || "", maxlength: 64 }),
    el("button", { type: "button", class: "secondary", onclick: () => row.remove() }, t("edit.remove")));
  return row;
}

function medicalForm() {
  const medical = elder.medical;
  const list = el("ol", { class: "medicines-edit" }, medical.medications.map(medicineRow));
  return formShell("medical", [
    field(t("elder.allergies"), { name: "allergies", value: medical.allergies.join("，"), placeholder: t("edit.allergies_hint") }),
    list,
    el("button", { type: "button", class: "secondary", onclick: () => list.append(medicineRow({})) }, t("edit.add_medication")),
    field(t("elder.doctor"), { name: "doctor_name", value: medical.doctor_name || "", maxlength: 64 }),
    field(t("edit.phone"), { name: "doctor_phone", value: medical.doctor_phone || "", type: "tel", maxlength: 32 }),
    field(t("elder.clinic"), { name: "doctor_clinic", value: medical.doctor_clinic || "", maxlength: 128 }),
    field(t("elder.hospital"), { name: "preferred_hospital", value: medical.preferred_hospital || "", maxlength: 128 }),
  ], (data) => save("medical", "PUT", {
    version: elder.version,
    allergies: (data.get("allergies") || "").split(/[,，、;；]/).map((a) => a.trim()).filter(Boolean),
    medications: [...list.children]
      .map((row) => ({ name: row.querySelector("[name=medicine]").value.trim(), dose: row.querySelector("[name=dose]").value.trim() }))
      .filter((m) => m.name),
    doctor_name: blank(data.get("doctor_name")),
    doctor_phone: blank(data.get("doctor_phone")),
    doctor_clinic: blank(data.get("doctor_clinic")),
    preferred_hospital: blank(data.get("preferred_hospital")),
  }));
}

const FORMS = { phones: phonesForm, contacts: contactsForm, home_access: homeAccessForm, medical: medicalForm };

function openForm(part, where) {
  document.getElementById("edit-status").replaceChildren();
  where.replaceChildren(FORMS[part]());
  where.querySelector("input, textarea")?.focus();
}

const BOUNDS = ["critical_low", "warn_low", "warn_high", "critical_high"];

function thresholdForm(th) {
  return formShell("threshold", [
    ...BOUNDS.map((bound) => field(t(`vital.${bound}`), { name: bound, type: "number", step: "any", value: th[bound] ?? "" })),
    field(t("vital.reason"), { name: "reason", required: true, maxlength: 1000, value: th.reason || "" }),
  ], (data) => {
    const body = { version: elder.version, reason: data.get("reason") };
    for (const bound of BOUNDS) body[bound] = data.get(bound) === "" ? null : Number(data.get(bound));
    save(`thresholds/${th.vital}`, "PUT", body);
  });
}

function renderThresholds() {
  const mayEdit = elder.may_edit.includes("thresholds");
  document.getElementById("thresholds").replaceChildren(
    el("table", {}, el("tbody", {}, (elder.thresholds || []).map((th) => {
      const row = el("tr", { dataset: { vital: th.vital } }, el("td", {}, tWord("vital", th.vital)),
        el("td", { title: t("vital.thresholds") }, [th.critical_low, th.warn_low, th.warn_high, th.critical_high].map((v) => v ?? "—").join(" / ")),
        el("td", { class: "muted" }, th.overridden ? [icon("pencil", t("vital.overridden")), " ", th.reason || t("vital.overridden")] : ""),
        mayEdit ? el("td", { class: "actions" },
          el("button", { type: "button", class: "secondary", onclick: () => row.replaceChildren(el("td", { colspan: 4 }, thresholdForm(th))) }, t("vital.edit")),
          th.overridden ? el("button", { type: "button", class: "secondary", onclick: () => save(`thresholds/${th.vital}?version=${elder.version}`, "DELETE") }, t("vital.reset")) : null) : null);
      return row;
    }))),
  );
}

function renderAway() {
  const mayEdit = elder.may_edit.includes("away");
  const now = Date.now();
  const list = el("ul", {}, (elder.away_periods || []).map((a) => el("li", {},
    `${formatTime(a.starts_at)} – ${a.ends_at ? formatTime(a.ends_at) : "…"} ${a.reason || ""} `,
    mayEdit && (!a.ends_at || Date.parse(a.ends_at) > now)
      ? el("button", { type: "button", class: "secondary", onclick: () => save(`away/${a.id}/end`, "POST") }, t("away.end")) : null)));
  const form = mayEdit ? el("form", {
    class: "inline", dataset: { form: "away" },
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      save("away", "POST", {
        starts_at: streetWallToIso(data.get("starts_at")),
        ends_at: data.get("ends_at") ? streetWallToIso(data.get("ends_at")) : null,
        reason: data.get("reason"),
      });
    },
  }, field(t("away.starts"), { name: "starts_at", type: "datetime-local", required: true }),
  field(t("away.ends"), { name: "ends_at", type: "datetime-local" }),
  field(t("away.reason"), { name: "reason", required: true, maxlength: 255 }),
  el("button", { type: "submit", class: "secondary" }, t("away.add"))) : null;
  document.getElementById("away").replaceChildren(list, form || "");
}

// Deceased or moved away closes the elder's open incidents and unbinds their devices
// (callcenter/privacy): asked to confirm first.
function renderLifeStatus() {
  const card = document.getElementById("life-status-card");
  if (!elder.may_edit.includes("life_status")) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  const status = el("select", { name: "status" }, ["active", "deceased", "moved_away"].map((code) => el("option", { value: code, selected: code === elder.life_status }, t("life." + code))));
  document.getElementById("life-status").replaceChildren(el("form", {
    class: "inline", dataset: { form: "life_status" },
    onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const leaving = data.get("status") !== "active";
      if (leaving && !confirm(t("life.confirm"))) return;
      save("life-status", "PUT", { status: data.get("status"), on: leaving ? data.get("on") || null : null });
    },
  }, el("label", {}, t("elder.life_status"), status),
  field(t("life.on"), { name: "on", type: "date", max: streetDay() }),
  el("button", { type: "submit", class: "secondary" }, t("edit.save"))));
}

// The elder's work orders, their devices' maintenance orders and their care calls, as the API
// gives them to this person: a list it leaves out (null) is not theirs to see, and its card stays
// hidden. Each line says the need or reasons, the status and the outcome in words, with a link
// where the order or call has a page of its own (a service order; a call's welfare visit).
const ORDERS_LIMIT = 50;

function orderList(id, items, empty, line) {
  const list = document.getElementById(id);
  list.replaceChildren(...(items.length ? items.map(line) : [el("li", { class: "muted" }, t(empty))]));
  if (items.length >= ORDERS_LIMIT) list.append(el("li", { class: "muted" }, t("elder.latest_only").replace("{n}", ORDERS_LIMIT)));
}

const dayAndTime = (label, iso) => (iso ? t(label).replace("{t}", formatTime(iso)) : null);
const joined = (...parts) => parts.filter(Boolean).join(" · ");

function workOrderLine(order) {
  const words = joined(formatTime(order.created_at), tWord("need", order.need || "unsaid"),
    tWord("wo_status", order.status), dayAndTime("elder.appointment", order.appointment_at),
    dayAndTime("elder.closed_at", order.closed_at), order.late ? t("elder.was_late") : null, order.request);
  return el("li", { dataset: { workOrderId: order.id, status: order.status } },
    el("a", { href: `/console/work-orders/${order.id}` }, words));
}

function maintenanceLine(order) {
  return el("li", { dataset: { maintenanceOrderId: order.id, status: order.status } },
    joined(formatTime(order.created_at), order.reason ? tWord("mt_reason", order.reason) : null,
      order.device_kind ? deviceKindName(order.device_kind) : null, order.device_id,
      tWord("wo_status", order.status), order.result ? tWord("mt_result", order.result) : null,
      dayAndTime("elder.closed_at", order.closed_at)));
}

function careCallLine(call) {
  const words = joined(call.due_on, call.reasons.map((r) => tWord("care.reason", r)).join("、"),
    tWord("care.status", call.status), call.outcome ? tWord("care.outcome", call.outcome) : null,
    call.dropped_reason ? tWord("care.dropped", call.dropped_reason) : null,
    call.tries ? t("elder.tries").replace("{n}", call.tries) : null);
  return el("li", { dataset: { careCallId: call.id, status: call.status } }, words,
    call.incident_id ? [" · ", el("a", { href: `/console/incidents/${call.incident_id}` }, t("elder.welfare_visit"))] : null);
}

function renderOrdersAndCalls(found) {
  const orders = found.work_orders;
  const maintenance = found.maintenance_orders;
  document.getElementById("work-orders-card").hidden = orders === null && maintenance === null;
  if (orders !== null) orderList("work-orders", orders, "elder.no_work_orders", workOrderLine);
  document.getElementById("work-orders").hidden = orders === null;
  document.getElementById("maintenance-part").hidden = maintenance === null;
  if (maintenance !== null) orderList("maintenance-orders", maintenance, "elder.no_maintenance", maintenanceLine);
  document.getElementById("care-calls-card").hidden = found.care_calls === null;
  if (found.care_calls !== null) orderList("care-calls", found.care_calls, "elder.no_care_calls", careCallLine);
}

document.addEventListener("DOMContentLoaded", async () => {
  const id = PAGE.elder_id;
  await load();
  renderVitals(document.getElementById("vitals"), await api(`/api/elders/${id}/vitals?days=30`).catch(() => []));
  const history = await api(`/api/incidents?elder_id=${id}&open=false&limit=100`).catch(() => []);
  document.getElementById("history").replaceChildren(
    ...history.map((i) => el("li", {}, el("a", { href: `/console/incidents/${i.id}` }, `${formatTime(i.opened_at)} P${i.priority} ${t("kind." + i.kind)} · ${t("status." + i.status)}${i.outcome ? " · " + t("outcome." + i.outcome) : ""}`))),
  );
  renderOrdersAndCalls(await api(`/api/elders/${id}/orders-and-calls?limit=${ORDERS_LIMIT}`));
});
