// The live queue: open incidents, most urgent then oldest, ages counting up, holders shown,
// changes arriving over the feed; a new P1 rings until someone acknowledges it.
"use strict";

const queue = new Map();

function upsert(incident) {
  if (!Revisions.fresh(incident)) return;  // an answer overtaken by the feed
  if (isOpen(incident)) queue.set(incident.id, incident);
  else queue.delete(incident.id);
}

async function claim(incident) {
  // Claiming takes the call: it is assigned to me and acknowledged, which every console sees.
  try {
    if (incident.assigned_staff_id !== ME.staff_id) {
      upsert(await api(`/api/incidents/${incident.id}/assign`, { method: "POST", body: { staff_id: ME.staff_id, note: "" } }));
    }
    upsert(await api(`/api/incidents/${incident.id}/acknowledge`, { method: "POST", body: {} }));
    render();
  } catch (error) {
    alert(`${t("common.error")}: ${error.message}`);
  }
}

async function acknowledge(incident) {
  try {
    upsert(await api(`/api/incidents/${incident.id}/acknowledge`, { method: "POST", body: {} }));
    render();
  } catch (error) {
    alert(`${t("common.error")}: ${error.message}`);
  }
}

function row(incident) {
  const mine = incident.assigned_staff_id === ME.staff_id;
  const taken = Boolean(incident.acknowledged_at);
  const callback = callbackOwed(incident);
  const flags = [];
  if (incident.escalation_level > 0) flags.push(el("span", { class: "flag escalated" }, `${t("queue.escalated")} ${incident.escalation_level}`));
  if (callback) {
    flags.push(el("span", { class: "flag callback" }, `${t("queue.callback")} · ${t("queue.callback_by")} ${formatTime(incident.callback_due_at)}`));
  } else if (incident.cancelled_by_elder) {
    flags.push(el("span", { class: "flag" }, t("queue.cancelled")));
  }
  const actions = [el("a", { class: "button secondary", href: `/console/incidents/${incident.id}` }, t("action.open"))];
  if (!(mine && taken)) {
    actions.push(el("button", { type: "button", class: "secondary claim", onclick: () => claim(incident) }, t("action.claim")));
  }
  if (mine && !taken) {
    actions.push(el("button", { type: "button", class: "primary acknowledge", onclick: () => acknowledge(incident) }, t("action.acknowledge")));
  }
  const late = callback
    ? new Date(incident.callback_due_at) < new Date()
    : !taken && incident.ack_due_at && new Date(incident.ack_due_at) < new Date();
  return el(
    "tr",
    {
      class: `p${incident.priority} ${taken ? "taken" : "untaken"} ${late ? "late" : ""}`,
      dataset: { incidentId: incident.id, status: incident.status, ...(callback ? { callback: "owed" } : {}) },
    },
    el("td", {}, el("span", { class: `badge p${incident.priority}` }, `P${incident.priority}`)),
    el("td", { class: "kind" }, t("kind." + incident.kind), " ", flags),
    el("td", { class: "elder" }, elderLabel(incident)),
    el("td", { class: "centre" }, centreName(incident.centre_code)),
    el("td", { class: "status" }, t("status." + incident.status)),
    el("td", { class: "age", dataset: { opened: incident.opened_at } }, formatAge(Date.now() - new Date(incident.opened_at))),
    el("td", { class: "holder" }, Staff.name(incident.assigned_staff_id)),
    el("td", { class: "actions" }, actions),
  );
}

// The rows on the page, by incident, with what each shows (but its age, which ticks). A row is
// replaced only when what it shows changed, and the table touched only when a row or the order
// did: a feed message that changes nothing on screen (a step on the timeline, a family SMS)
// rebuilt every row, and a click landing meanwhile on "open" or "claim" was lost.
const rowsShown = new Map();

function shows(tr) {
  const copy = tr.cloneNode(true);
  copy.querySelector("td.age").textContent = "";
  return copy.outerHTML;
}

function render() {
  const rows = [...queue.values()].sort(compareIncidents).map((incident) => {
    const fresh = row(incident);
    const html = shows(fresh);
    const kept = rowsShown.get(incident.id);
    if (kept && kept.html === html) return kept.node;
    rowsShown.set(incident.id, { html, node: fresh });
    return fresh;
  });
  for (const id of [...rowsShown.keys()]) if (!queue.has(id)) rowsShown.delete(id);
  const body = document.querySelector("#queue tbody");
  if (rows.length !== body.children.length || rows.some((tr, n) => body.children[n] !== tr)) {
    body.replaceChildren(...rows);
  }
  document.getElementById("queue-empty").hidden = rows.length > 0;
}

function tick() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("#queue td.age")) {
    cell.textContent = formatAge(now - new Date(cell.dataset.opened));
  }
}

async function reload() {
  await resync("/api/incidents?limit=500", queue, upsert);
  render();
}

document.addEventListener("DOMContentLoaded", async () => {
  await Staff.load();
  // Subscribe first, then load: a change that lands in between is not lost.
  connectFeed({
    onIncident: (incident) => {
      upsert(incident);
      render();
    },
    onResync: reload,
  });
  await reload();
  setInterval(tick, 1000);
});
