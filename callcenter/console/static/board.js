// The supervisor's wall board, for a large screen nobody touches: the figures of /api/board,
// asked for again whenever the feed tells of an incident change or coverage's feed of a roster
// change (an absence, a shift) or a notice, and every half minute (devices change without
// either); the oldest open incident's age counts up each second.
"use strict";

const REFRESH_MS = 30000;

function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
}

function duration(seconds) {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} ${t("common.hours")}`;
  return `${Math.round(seconds / 60)} ${t("common.minutes")}`;
}

// "3 分钟内", "3 分钟–30 分钟", "8 小时以上", from the bands the server ages incidents by.
function bandLabel(band) {
  if (band.from_s === 0) return t("board.within").replace("{d}", duration(band.until_s));
  if (band.until_s === null) return t("board.beyond").replace("{d}", duration(band.from_s));
  return `${duration(band.from_s)}–${duration(band.until_s)}`;
}

function ageCell(opened) {
  if (!opened) return el("td", { class: "oldest" }, "—");
  return el("td", { class: "oldest age", dataset: { opened } }, formatAge(Date.now() - new Date(opened)));
}

function incidentRow(row, name, tag = "td") {
  return el("tr", { class: [row.open ? "busy" : "", row.p1 ? "has-p1" : ""].join(" "), dataset: { centre: row.centre_code } },
    el(tag, { class: "centre" }, name),
    el("td", { class: "open" }, row.open),
    el("td", { class: "p1" }, row.p1),
    el("td", { class: "unacknowledged" }, row.unacknowledged),
    row.by_age.map((count, index) => el("td", { class: `band band-${index}${count ? " some" : ""}` }, count)),
    ageCell(row.oldest_opened_at));
}

function renderIncidents(board) {
  const table = document.getElementById("board-incidents");
  table.tHead.replaceChildren(el("tr", {},
    el("th", {}, t("board.centre")), el("th", {}, t("board.open")), el("th", {}, t("board.p1")),
    el("th", {}, t("board.unacknowledged")),
    board.age_bands.map((band) => el("th", { title: t("board.age." + band.key) }, bandLabel(band))),
    el("th", {}, t("board.oldest"))));
  table.tBodies[0].replaceChildren(...board.incidents.map((row) => incidentRow(row, centreName(row.centre_code))));
  table.tFoot.replaceChildren(incidentRow(board.street, t("common.all_centres"), "th"));
}

function renderFigures(board) {
  document.getElementById("board-open").textContent = board.street.open;
  document.getElementById("board-p1").textContent = board.street.p1;
  document.getElementById("board-unacknowledged").textContent = board.street.unacknowledged;
  const oldest = document.getElementById("board-oldest");
  oldest.dataset.opened = board.street.oldest_opened_at || "";
  oldest.textContent = board.street.oldest_opened_at ? formatAge(Date.now() - new Date(board.street.oldest_opened_at)) : "—";
  const answers = board.answers;
  for (const share of answers.shares) {
    const figure = document.getElementById(`share-${share.within_s}`);
    if (!figure) continue;
    figure.dataset.share = share.share === null ? "" : String(share.share);
    figure.classList.toggle("below", share.share !== null && share.share < share.target);
    figure.classList.toggle("met", share.share !== null && share.share >= share.target);
    figure.querySelector(".value").textContent = percent(share.share);
    const counted = share.counted
      ? t("board.answered_of").replace("{a}", share.answered).replace("{c}", share.counted)
      : t("board.no_calls");
    figure.querySelector(".detail").textContent = `${counted} · ${t("board.target").replace("{p}", percent(share.target))}`;
  }
  document.getElementById("board-calls").textContent = answers.calls;
  document.getElementById("board-waiting").textContent = answers.waiting ? t("board.waiting").replace("{n}", answers.waiting) : "";
}

function people(list, when) {
  if (!list.length) return el("span", { class: "muted" }, "—");
  return list.map((p) => el("span", { class: p.signed_in ? "person online" : "person", dataset: { staffId: p.staff_id } },
    `${p.name}（${t("role." + p.role)}${when ? " " + when(p) : ""}）`));
}

function renderStaff(board) {
  document.querySelector("#board-staff tbody").replaceChildren(...board.staff.map((centre) =>
    el("tr", { dataset: { centre: centre.centre_code } },
      el("td", { class: "centre" }, centreName(centre.centre_code)),
      el("td", { class: "on-duty" }, people(centre.on_duty)),
      el("td", { class: "next" }, people(centre.next, (p) => t("shift.from").replace("{t}", formatTime(p.starts_at).slice(0, -3)))))));
}

function renderDevices(board) {
  document.querySelector("#board-devices tbody").replaceChildren(...board.devices.map((d) =>
    el("tr", { dataset: { community: d.community_code } },
      el("td", { class: "centre" }, centreName(d.community_code)),
      el("td", { class: "share" }, percent(d.share_online)),
      el("td", {}, d.online), el("td", { class: d.offline ? "offline" : "" }, d.offline),
      el("td", {}, d.never_connected), el("td", {}, d.devices))));
}

// Coverage: the centres empty now and next (a gap's hours in the street's time, today or
// tomorrow), the notices given of tomorrow's, and each community's walk from its centre.
function hhmm(iso) {
  return formatTime(iso).split(" ")[1].slice(0, 5);
}

function gapItem(gap) {
  const day = formatTime(gap.starts_at).split(" ")[0] === formatTime(new Date().toISOString()).split(" ")[0]
    ? t("coverage.today") : t("coverage.tomorrow");
  const parts = [`${centreName(gap.centre_code)} · ${day} ${hhmm(gap.starts_at)}–${hhmm(gap.ends_at)} · ${t("coverage.gap." + gap.kind)}`];
  if (gap.absent && gap.absent.length) parts.push(t("coverage.absent_names").replace("{n}", gap.absent.join("、")));
  parts.push(t("coverage.street_covers"));
  return el("li", { class: `gap ${gap.kind}`, dataset: { centre: gap.centre_code, kind: gap.kind } }, parts.join("；"));
}

function gapList(id, emptyId, gaps) {
  document.getElementById(id).replaceChildren(...gaps.map(gapItem));
  document.getElementById(emptyId).hidden = gaps.length > 0;
}

function minutes(value) {
  return value === null || value === undefined ? "—" : value.toFixed(1);
}

function renderCoverage(board) {
  const coverage = board.coverage;
  document.getElementById("coverage-rule").textContent = t("coverage.rule")
    .replace("{kmh}", coverage.walk_kmh).replace("{f}", coverage.detour_factor)
    .replace("{s}", coverage.setting_off_min).replace("{t}", coverage.target_min);
  gapList("coverage-current", "coverage-none-now", coverage.current);
  gapList("coverage-upcoming", "coverage-none-next", coverage.upcoming);
  gapList("coverage-notices", "coverage-no-notices", coverage.notices);
  document.querySelector("#coverage-reach tbody").replaceChildren(...coverage.reach.map((r) =>
    el("tr", { dataset: { community: r.community_code }, class: r.beyond_target ? "short" : "" },
      el("td", { class: "centre" }, centreName(r.community_code)),
      el("td", {}, r.elders), el("td", {}, minutes(r.p50_min)), el("td", {}, minutes(r.p90_min)),
      el("td", { class: "max" }, minutes(r.max_min)),
      el("td", { class: "beyond" }, r.elders ? `${r.beyond_target}（${percent(r.share_beyond)}）` : "—"))));
}

// One request at a time; a change heard while one is on its way asks once more after it.
const Board = { loading: false, again: false, due: null };

async function refresh() {
  if (Board.loading) {
    Board.again = true;
    return;
  }
  Board.loading = true;
  try {
    const board = await api("/api/board");
    renderFigures(board);
    renderIncidents(board);
    renderStaff(board);
    renderDevices(board);
    renderCoverage(board);
    document.getElementById("board-at").textContent = formatTime(board.at);
    showMessage("board-error", "");
  } catch (error) {
    showMessage("board-error", `${t("common.error")}: ${error.message}`);
  } finally {
    Board.loading = false;
    if (Board.again) {
      Board.again = false;
      refresh();
    }
  }
}

// An escalation round changes many incidents at once: one request for them all.
function refreshSoon() {
  if (Board.due) return;
  Board.due = setTimeout(() => {
    Board.due = null;
    refresh();
  }, 200);
}

function tick() {
  const now = Date.now();
  for (const cell of document.querySelectorAll(".wall .age")) {
    if (cell.dataset.opened) cell.textContent = formatAge(now - new Date(cell.dataset.opened));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  connectFeed({ onIncident: refreshSoon, onResync: refreshSoon });
  CoverageFeed.listen(refreshSoon);
  refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(tick, 1000);
});
