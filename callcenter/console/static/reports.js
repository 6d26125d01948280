// Supervisors' reports: answer shares against the industry bar per centre and per day, time to
// on site, types and outcomes, devices offline; drawn as SVG bars; CSV for a spreadsheet. Every
// hop of the alarms timed for a chosen month, per centre, against the published targets.
"use strict";

function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
}

// One row per group: a bar for the share within 60 s, the bar's target tick at the industry bar.
function shareBars(rows, target, field, label) {
  return el("div", { class: "bars" }, rows.map((row) => {
    const share = row[field];
    const width = share === null ? 0 : share * 200;
    const chart = svg("svg", { viewBox: "0 0 200 16", preserveAspectRatio: "none" },
      svg("rect", { x: 0, y: 2, width: 200, height: 12, fill: "#eceff1" }),
      svg("rect", { x: 0, y: 2, width, height: 12, class: `fill ${share !== null && share < target ? "below" : ""}` }),
      svg("line", { x1: target * 200, x2: target * 200, y1: 0, y2: 16, class: "target" }));
    return el("div", { class: "bar-row", dataset: { key: row.key } },
      el("span", {}, `${label(row.key)} (${row.calls})`), chart, el("span", {}, percent(share)));
  }));
}

function countBars(counts, label) {
  const entries = Object.entries(counts);
  const most = Math.max(1, ...entries.map(([, n]) => n));
  return el("div", { class: "bars" }, entries.map(([key, n]) =>
    el("div", { class: "bar-row" }, el("span", {}, label(key)),
      svg("svg", { viewBox: "0 0 200 16", preserveAspectRatio: "none" }, svg("rect", { x: 0, y: 2, width: (n / most) * 200, height: 12, class: "fill" })),
      el("span", {}, String(n)))));
}

function shareTable(rows, report, label) {
  return el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, t("reports.incidents")), el("th", {}, t("reports.ack60")), el("th", {}, t("reports.ack180")), el("th", {}, t("reports.onsite")))),
    el("tbody", {}, rows.map((r) => el("tr", { dataset: { key: r.key } },
      el("td", {}, label(r.key)), el("td", {}, r.calls), el("td", {}, percent(r.share_60s)), el("td", {}, percent(r.share_180s)), el("td", {}, r.median_on_site_min ?? "—")))),
    el("caption", { class: "muted" }, `${t("reports.target")}: ${percent(report.target_60s)} / ${percent(report.target_180s)}`));
}

const reportLoads = latestOnly();
async function load() {
  const days = document.getElementById("days").value;
  document.getElementById("csv").href = `/api/reports/incidents.csv?days=${days}`;
  const ticket = reportLoads.take();
  const report = await api(`/api/reports/summary?days=${days}`);
  if (!reportLoads.isLatest(ticket)) return;
  const day = (key) => key;
  document.getElementById("per-centre").replaceChildren(shareBars(report.per_centre, report.target_60s, "share_60s", centreName), shareTable(report.per_centre, report, centreName));
  document.getElementById("per-day").replaceChildren(shareBars(report.per_day, report.target_60s, "share_60s", day), shareTable(report.per_day, report, day));
  document.getElementById("by-kind").replaceChildren(countBars(report.by_kind, (k) => t("kind." + k)));
  document.getElementById("by-outcome").replaceChildren(countBars(report.by_outcome, (k) => (k === "open" ? t("reports.still_open") : t("outcome." + k))));
  document.getElementById("offline").replaceChildren(
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, t("reports.community")), el("th", {}, t("reports.offline_now")), el("th", {}, t("reports.never_connected")), el("th", {}, t("reports.devices")))),
      el("tbody", {}, report.devices_offline.map((d) => el("tr", {}, el("td", {}, centreName(d.community_code)), el("td", {}, d.offline), el("td", { class: "muted" }, d.never_connected), el("td", {}, d.devices))))),
  );
}

// A hop's time in words: seconds up to two minutes, minutes beyond.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${Number(seconds.toFixed(1))} ${t("common.seconds")}`;
  return `${(seconds / 60).toFixed(1)} ${t("common.minutes")}`;
}

function verdict(share, met) {
  if (met === null || met === undefined) return el("td", {}, "—");
  return el("td", { class: met ? "met" : "below", dataset: { met: String(met) } },
    `${percent(share)} · ${t(met ? "reports.met" : "reports.not_met")}`);
}

function hopsTable(report, month) {
  const rows = [month.overall, ...month.per_centre];
  const name = (key) => (key === "all" ? t("reports.street") : centreName(key));
  return el("table", { id: "hops-table" },
    el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, t("reports.alarms")),
      report.hops.map((hop) => el("th", { dataset: { hop } }, t("hop." + hop))),
      el("th", {}, t("reports.ack60")), el("th", {}, t("reports.ack180")),
      el("th", {}, t("reports.on_site_within").replace("{min}", report.on_site_target_min)),
      el("th", {}, t("reports.clock_off")))),
    el("tbody", {}, rows.map((row) => el("tr", { dataset: { key: row.key } },
      el("td", {}, name(row.key)), el("td", {}, row.alarms),
      row.hops.map((hop) => el("td", { dataset: { hop: hop.hop }, title: `${t("reports.timed")} ${hop.count}` },
        hop.count ? `${duration(hop.p50_s)} / ${duration(hop.p90_s)}` : "—")),
      verdict(row.share_60s, row.met_60s), verdict(row.share_180s, row.met_180s),
      verdict(row.share_on_site, row.met_on_site), el("td", {}, row.press_clock_off)))));
}

async function loadHops() {
  const month = document.getElementById("hops-month").value;
  const report = await api(`/api/reports/hops${month ? `?month=${month}` : ""}`);
  const [shown] = report.months;
  if (!month) document.getElementById("hops-month").value = shown.month;
  document.getElementById("hops-targets").textContent = t("reports.hops_targets")
    .replace("{ack60}", percent(report.target_60s)).replace("{ack180}", percent(report.target_180s))
    .replace("{on_site}", percent(report.target_on_site_share)).replace("{min}", report.on_site_target_min);
  document.getElementById("hops").replaceChildren(hopsTable(report, shown));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("days").addEventListener("change", load);
  document.getElementById("hops-month").addEventListener("change", loadHops);
  load();
  loadHops();
});
