// Rosters: who is on duty at a centre today or this week; supervisors add and remove shifts and
// mark a person absent from one (or withdraw it).
"use strict";

const EDITORS = ["supervisor", "admin"];
let range = "today";
const rosterLoads = latestOnly();

async function load() {
  const centre = document.getElementById("centre").value;
  const to = range === "today" ? streetDay(0) : streetDay(6);
  const ticket = rosterLoads.take();
  let shifts;
  try {
    shifts = await api(`/api/rosters?centre=${encodeURIComponent(centre)}&from=${streetDay(0)}&to=${to}`);
  } catch (error) {
    if (rosterLoads.isLatest(ticket)) showMessage("roster-error", `${t("rosters.unavailable")}: ${error.message}`);
    return;
  }
  if (!rosterLoads.isLatest(ticket)) return;
  const canEdit = EDITORS.includes(ME.role);
  document.getElementById("roster").replaceChildren(
    el("table", { id: "shifts" },
      el("thead", {}, el("tr", {}, el("th", {}, t("rosters.staff")), el("th", {}, t("rosters.starts")), el("th", {}, t("rosters.ends")), el("th", {}, t("rosters.absence")), el("th", {}, ""))),
      el("tbody", {}, shifts.map((s) => el("tr", { class: s.absence ? "absent" : "", dataset: { shiftId: s.id, absence: s.absence || "" } },
        el("td", {}, `${s.staff_name} · ${t("role." + s.role)}`),
        el("td", {}, formatTime(s.starts_at)), el("td", {}, formatTime(s.ends_at)),
        el("td", { class: "absence" }, absenceCell(s, canEdit)),
        el("td", {}, canEdit ? el("button", { type: "button", class: "secondary", onclick: () => remove(s.id) }, t("action.delete")) : ""))))),
  );
}

// Who will not work their shift (sick, on leave): supervisors mark it with a reason, or withdraw
// it; the shift stays on the roster and its person is nobody's duty meanwhile (audited).
const ABSENCE_REASONS = ["sick", "leave", "other"];
function absenceCell(shift, canEdit) {
  if (shift.absence) {
    return [el("span", { class: "flag escalated" }, tWord("absence", shift.absence)),
      canEdit ? el("button", { type: "button", class: "secondary withdraw-absence", onclick: () => setAbsence(shift.id, null) }, t("rosters.withdraw_absence")) : ""];
  }
  if (!canEdit) return "";
  const reason = el("select", { class: "absence-reason" }, ABSENCE_REASONS.map((r) => el("option", { value: r }, tWord("absence", r))));
  return [reason, el("button", { type: "button", class: "secondary mark-absent", onclick: () => setAbsence(shift.id, reason.value) }, t("rosters.mark_absent"))];
}

async function setAbsence(id, reason) {
  showMessage("roster-error", "");
  try {
    const path = `/api/rosters/shifts/${id}/absence`;
    await (reason ? api(path, { method: "PUT", body: { reason } }) : api(path, { method: "DELETE" }));
    await load();
  } catch (error) {
    showMessage("roster-error", `${t("common.error")}: ${error.message}`);
  }
}

async function remove(id) {
  try {
    await api(`/api/rosters/shifts/${id}`, { method: "DELETE" });
    await load();
  } catch (error) {
    showMessage("roster-error", `${t("common.error")}: ${error.message}`);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const centres = await api("/api/centres");
  const select = document.getElementById("centre");
  select.replaceChildren(...centres.map((c) => el("option", { value: c.code }, centreName(c.code))));
  select.value = ME.role === "community_worker" ? ME.centre_code : "PH00";
  select.addEventListener("change", async () => {
    await load();
    await loadStaff();
  });
  document.getElementById("show-today").addEventListener("click", () => { range = "today"; load(); });
  document.getElementById("show-week").addEventListener("click", () => { range = "week"; load(); });
  const form = document.getElementById("add-shift");
  if (EDITORS.includes(ME.role)) {
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showMessage("roster-error", "");
      try {
        await api("/api/rosters/shifts", {
          method: "POST",
          body: {
            staff_id: Number(document.getElementById("shift-staff").value),
            centre_code: select.value,
            starts_at: streetWallToIso(document.getElementById("shift-starts").value),
            ends_at: streetWallToIso(document.getElementById("shift-ends").value),
          },
        });
        await load();
      } catch (error) {
        showMessage("roster-error", `${t("common.error")}: ${error.message}`);
      }
    });
  }
  async function loadStaff() {
    const staff = await api(`/api/staff?centre=${encodeURIComponent(select.value)}`).catch(() => []);
    document.getElementById("shift-staff").replaceChildren(...staff.map((s) => el("option", { value: s.id }, `${s.name} · ${t("role." + s.role)}`)));
  }
  await load();
  await loadStaff();
});
