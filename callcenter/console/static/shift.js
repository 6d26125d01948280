// The shift hand-over: my open items (live; for supervisors, the gaps in the roster ahead to
// acknowledge), notes to the next shift (write, read, mark read) and who is on duty now and next
// and signed in. Incident changes come over the feed; work orders,
// notes and the roster are asked for again every half minute.
"use strict";

const STREET_STAFF = ["operator", "supervisor", "admin"];
// Work orders, notes and sign-ins change without an incident on the feed: asked for this often.
const REFRESH_MS = 30000;
let notesCentre = ME.centre_code;

function itemRow(incident) {
  return el("li", { class: `item p${incident.priority}`, dataset: { incidentId: incident.id } },
    el("span", { class: `badge p${incident.priority}` }, `P${incident.priority}`), " ",
    el("a", { href: `/console/incidents/${incident.id}` }, `${t("kind." + incident.kind)} · ${elderLabel(incident)}`),
    " · ", t("status." + incident.status), " · ", centreName(incident.centre_code), " · ",
    el("span", { class: "age", dataset: { opened: incident.opened_at } }, formatAge(Date.now() - new Date(incident.opened_at))));
}

// A work order: its need, the elder, where it stands, its deadline, and whether that has passed.
function orderRow(order) {
  const overdue = Boolean(order.overdue_at);
  return el("li", { class: overdue ? "order overdue" : "order", dataset: { orderId: order.id } },
    el("a", { href: `/console/work-orders/${order.id}` }, `${t("need." + (order.need || "unsaid"))} · ${order.elder_name || t("queue.unidentified")}`),
    " · ", t("wo_status." + order.status), " · ", centreName(order.centre_code),
    order.due_at ? ` · ${t("wo.due")} ${minute(order.due_at)}` : "",
    overdue ? el("span", { class: "flag escalated" }, t("wo.overdue")) : "");
}

// A notice of a gap ahead (supervisors): what it is, who is absent, and who acknowledged it
// when, or a button to do so (then it leaves every supervisor's banner).
function noticeRow(notice) {
  const parts = [gapLabel(notice)];
  if (notice.absent && notice.absent.length) parts.push(t("coverage.absent_names").replace("{n}", notice.absent.join("、")));
  return el("li", { class: notice.acknowledged_by ? "notice acknowledged" : "notice waiting", dataset: { noticeId: notice.id, centre: notice.centre_code, kind: notice.kind } },
    parts.join("；"), " ",
    notice.acknowledged_by
      ? el("span", { class: "acknowledged" }, t("coverage.acknowledged_by").replace("{n}", notice.acknowledged_by).replace("{t}", minute(notice.acknowledged_at)))
      : el("button", { type: "button", class: "secondary acknowledge", onclick: () => acknowledge(notice.id) }, t("coverage.acknowledge")));
}

async function acknowledge(id) {
  showMessage("coverage-error", "");
  try {
    await api(`/api/coverage/notices/${id}/acknowledge`, { method: "POST" });
    await loadItems();
  } catch (error) {
    showMessage("coverage-error", `${t("common.error")}: ${error.message}`);
  }
}

function fillList(id, rows, row) {
  const list = document.getElementById(id);
  list.replaceChildren(...(rows.length ? rows.map(row) : [el("li", { class: "muted" }, t("shift.no_items"))]));
}

async function loadItems() {
  const items = await api("/api/shift/my-items");
  document.getElementById("items-centre").textContent = centreName(items.centre_code);
  fillList("held", items.held, itemRow);
  fillList("centre-open", items.centre_open, itemRow);
  fillList("work-orders", items.work_orders, orderRow);
  if (document.getElementById("coverage-notice-list")) {
    const list = document.getElementById("coverage-notice-list");
    list.replaceChildren(...(items.coverage_notices.length ? items.coverage_notices.map(noticeRow)
      : [el("li", { class: "muted" }, t("coverage.no_open_notices"))]));
  }
}

function readers(note) {
  if (!note.read_by.length) return el("span", { class: "muted" }, t("shift.not_read"));
  return el("span", { class: "readers" }, t("shift.read_by"),
    note.read_by.map((r) => `${r.name} ${formatTime(r.read_at)}`).join("、"));
}

function noteItem(note, unread) {
  const head = el("div", { class: "note-head" },
    el("strong", {}, note.author_name), " · ", el("time", {}, formatTime(note.written_at)),
    note.mine ? el("span", { class: "flag" }, t("shift.mine")) : "");
  const parts = [head, el("p", { class: "note-text" }, note.text)];
  if (unread) {
    parts.push(el("button", { type: "button", class: "primary mark-read", onclick: () => markRead(note.id) }, t("shift.mark_read")));
  } else {
    parts.push(readers(note));
  }
  return el("li", { class: unread ? "note unread" : "note", dataset: { noteId: note.id } }, parts);
}

async function loadNotes() {
  const notes = await api(`/api/shift/notes?centre=${encodeURIComponent(notesCentre)}`);
  document.getElementById("unread-notes").replaceChildren(...notes.unread.map((n) => noteItem(n, true)));
  document.getElementById("no-unread").hidden = notes.unread.length > 0;
  document.getElementById("recent-notes").replaceChildren(...notes.recent.map((n) => noteItem(n, false)));
}

async function markRead(id) {
  try {
    await api(`/api/shift/notes/${id}/read`, { method: "POST" });
    await loadNotes();
  } catch (error) {
    showMessage("note-error", `${t("common.error")}: ${error.message}`);
  }
}

async function writeNote(event) {
  event.preventDefault();
  showMessage("note-error", "");
  const text = document.getElementById("note-text");
  try {
    await api("/api/shift/notes", { method: "POST", body: { text: text.value, centre_code: notesCentre } });
    text.value = "";
    await loadNotes();
  } catch (error) {
    showMessage("note-error", `${t("common.error")}: ${error.message}`);
  }
}

// "12-05 08:00": when a shift starts or ends, to the minute.
function minute(iso) {
  return formatTime(iso).slice(0, -3);
}

// "张健（接线员，至 12-05 16:00）", marked when they are signed in.
function person(p, when) {
  return el("li", { class: p.signed_in ? "person online" : "person", dataset: { staffId: p.staff_id } },
    `${p.name}（${t("role." + p.role)}${when ? "，" + when : ""}）`,
    p.signed_in ? el("span", { class: "flag online" }, t("shift.online")) : "");
}

function people(items) {
  return el("ul", { class: "people" }, items.length ? items : el("li", { class: "muted" }, t("shift.nobody")));
}

function staffRow(centre) {
  return el("tr", { dataset: { centre: centre.centre_code } },
    el("th", { class: "centre" }, centreName(centre.centre_code)),
    el("td", { class: "on-duty" }, people(centre.on_duty.map((p) => person(p, t("shift.until").replace("{t}", minute(p.ends_at)))))),
    el("td", { class: "next" }, people(centre.next.map((p) => person(p, t("shift.from").replace("{t}", minute(p.starts_at)))))),
    el("td", { class: "signed-in" }, people(centre.signed_in.map((p) =>
      person({ ...p, signed_in: false }, t("shift.since").replace("{t}", minute(p.signed_in_at)))))));
}

async function loadStaff() {
  const centres = await api("/api/shift/staff");
  // My own centre first, then the rest in the street's order.
  centres.sort((a, b) => (b.centre_code === ME.centre_code) - (a.centre_code === ME.centre_code));
  document.querySelector("#staff tbody").replaceChildren(...centres.map(staffRow));
}

function tick() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("#my-items .age")) {
    cell.textContent = formatAge(now - new Date(cell.dataset.opened));
  }
}

// Many changes at once (an escalation round) bring the items once, not once a change.
let itemsDue = null;
function itemsSoon() {
  if (itemsDue) return;
  itemsDue = setTimeout(() => {
    itemsDue = null;
    loadItems().catch(() => {});
  }, 200);
}

async function setUpCentres() {
  if (!STREET_STAFF.includes(ME.role)) return;
  const centres = await api("/api/centres");
  const select = document.getElementById("notes-centre");
  select.replaceChildren(...centres.map((c) => el("option", { value: c.code }, centreName(c.code))));
  select.value = notesCentre;
  select.addEventListener("change", () => {
    notesCentre = select.value;
    loadNotes().catch((error) => showMessage("note-error", `${t("common.error")}: ${error.message}`));
  });
  document.getElementById("notes-centre-label").hidden = false;
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("note-form").addEventListener("submit", writeNote);
  connectFeed({ onIncident: itemsSoon, onResync: itemsSoon });
  // Notices given or acknowledged, the roster changed: the gaps listed change with them.
  if (document.getElementById("coverage-notice-list")) CoverageFeed.listen(itemsSoon);
  await Promise.all([loadItems(), loadNotes(), loadStaff(), setUpCentres()]);
  setInterval(tick, 1000);
  setInterval(() => {
    loadItems().catch(() => {});
    loadNotes().catch(() => {});
    loadStaff().catch(() => {});
  }, REFRESH_MS);
});
