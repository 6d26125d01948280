// One elder: profile, devices, vital signs, thresholds, away periods, incident history.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const id = PAGE.elder_id;
  const elder = await api(`/api/elders/${id}`);
  renderProfile(document.getElementById("profile"), elder, { heading: false });
  renderVitals(document.getElementById("vitals"), await api(`/api/elders/${id}/vitals?days=30`).catch(() => []));
  document.getElementById("thresholds").replaceChildren(
    el("table", {}, el("tbody", {}, (elder.thresholds || []).map((th) =>
      el("tr", {}, el("td", {}, tWord("vital", th.vital)),
        el("td", { title: t("vital.thresholds") }, [th.critical_low, th.warn_low, th.warn_high, th.critical_high].map((v) => v ?? "—").join(" / ")),
        el("td", { class: "muted" }, th.overridden ? [icon("pencil", t("vital.overridden")), " ", th.reason || t("vital.overridden")] : ""))))),
  );
  document.getElementById("away").replaceChildren(
    el("ul", {}, (elder.away_periods || []).map((a) => el("li", {}, `${formatTime(a.starts_at)} – ${a.ends_at ? formatTime(a.ends_at) : "…"} ${a.reason || ""}`))),
  );
  const history = await api(`/api/incidents?elder_id=${id}&open=false&limit=100`).catch(() => []);
  document.getElementById("history").replaceChildren(
    ...history.map((i) => el("li", {}, el("a", { href: `/console/incidents/${i.id}` }, `${formatTime(i.opened_at)} P${i.priority} ${t("kind." + i.kind)} · ${t("status." + i.status)}${i.outcome ? " · " + t("outcome." + i.outcome) : ""}`))),
  );
});
