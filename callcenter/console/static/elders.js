// The elder directory: search the register by name, a whole phone or ID number, community,
// condition. Numbers are searched whole and each number search counts against a per-person
// limit, so a number is searched when it is complete (or on Enter), not at every keystroke.
"use strict";

let searching = 0;

function numberTyped(q) {
  return /^[\d\s\-()+xX]+$/.test(q);
}

function wholeNumber(q) {
  const digits = q.replace(/[\s\-()]/g, "").replace(/^(\+86|0086)/, "");
  return /^1[3-9]\d{9}$/.test(digits) || /^\d{17}[\dxX]$/.test(digits);
}

async function search() {
  const ticket = ++searching;
  const params = new URLSearchParams({ limit: "50" });
  for (const name of ["q", "community", "condition"]) {
    const value = document.getElementById(name).value.trim();
    if (value) params.set(name, value);
  }
  const started = performance.now();
  let page;
  try {
    page = await api(`/api/elders?${params}`);
  } catch (error) {
    if (ticket !== searching) return;
    document.getElementById("search-stats").textContent = `${t("common.error")}: ${error.message}`;
    return;
  }
  if (ticket !== searching) return; // a newer search is on its way
  const took = Math.round(performance.now() - started);
  document.getElementById("search-stats").textContent = `${page.total} ${t("directory.found")} ${took} ms`;
  document.getElementById("search-stats").dataset.ms = took;
  document.querySelector("#results tbody").replaceChildren(
    ...page.items.map((e) =>
      el("tr", { dataset: { elderId: e.id } },
        el("td", {}, el("a", { href: `/console/elders/${e.id}` }, e.name)),
        el("td", {}, `${t("sex." + e.sex)} · ${e.age}`),
        el("td", {}, centreName(e.community_code)),
        el("td", {}, e.address),
        el("td", {}, e.phone || "—"),
        el("td", {}, e.national_id),
        el("td", {}, t("living." + e.living_situation)))),
  );
}

document.addEventListener("DOMContentLoaded", async () => {
  let timer = null;
  const form = document.getElementById("search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  form.addEventListener("input", () => {
    clearTimeout(timer);
    const q = document.getElementById("q").value.trim();
    if (numberTyped(q) && !wholeNumber(q)) return; // a number being typed: wait for it, or Enter
    timer = setTimeout(search, 200);
  });
  const centres = await api("/api/centres");
  document.getElementById("community").append(
    ...centres.filter((c) => c.tier === "community").map((c) => el("option", { value: c.code }, centreName(c.code))),
  );
  await search();
});
