// Rosters: who is on duty at a centre today or this week; supervisors add and remove shifts.
"use strict";

const EDITORS = ["supervisor", "admin"];
let range = "today";

async function load() {
  const centre = document.getElementById("centre").value;
  const to = range === "today" ? streetDay(0) : streetDay(6);
  let shifts;
  try {
    shifts = await api(`/api/rosters?centre=${encodeURIComponent(centre)}&from=${streetDay(0)}&to=${to}`);
  } catch (error) {
    showMessage("roster-error", `${t("rosters.unavailable")}: ${error.message}`);
    return;
  }
  const canEdit = EDITORS.includes(ME.role);
  document.getElementById("roster").replaceChildren(
    el("table", { id: "shifts" },
      el("thead", {}, el("tr", {}, el("th", {}, t("rosters.staff")), el("th", {}, t("rosters.starts")), el("th", {}, t("rosters.ends")), el("th", {}, ""))),
      el("tbody", {}, shifts.map((s) => el("tr", { dataset: { shiftId: s.id } },
        el("td", {}, `${s.staff_name} · ${t("role." + s.role)}`),
        el("td", {}, formatTime(s.starts_at)), el("td", {}, formatTime(s.ends_at)),
        el("td", {}, canEdit ? el("button", { type: "button", class: "secondary", onclick: () => remove(s.id) }, t("action.delete")) : ""))))),
  );
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
