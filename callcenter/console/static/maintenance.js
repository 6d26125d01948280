// Devices' maintenance orders for the installer (battery, offline, mains, self-test): the list
// (by reason, open or all, overdue; live over /ws/maintenance-orders), one order's history and
// closing it with what was done; below, every device's self-test (DC-09 panels and the
// protocol's heartbeats): a summary per community, then the devices needing action, the longest
// first, with those never heard since installation on a tab of their own, paged. Not the care
// workers' orders, never an alarm.
"use strict";

(() => {
  const OPEN = ["new", "accepted", "scheduled"];
  const byId = (id) => document.getElementById(id);
  const comma = BOOT.lang === "zh" ? "、" : ", ";
  const shown = new Map();
  const clock = { now: 0, heard: new Map() };
  let selected = null;

  function has(key) {
    return Object.prototype.hasOwnProperty.call(BOOT.texts, key);
  }

  function errorWords(error) {
    return error.code && has(`error.${error.code}`) ? t(`error.${error.code}`) : `${t("common.error")}: ${error.message}`;
  }

  function isOverdue(order) {
    return OPEN.includes(order.status) && Boolean(order.overdue_at);
  }

  function flags(order) {
    if (isOverdue(order)) return el("span", { class: "flag escalated overdue" }, t("wo.overdue"));
    if (order.late) return el("span", { class: "flag late" }, t("wo.late"));
    return "";
  }

  function actorWords(actor) {
    const match = /^staff:(\d+)$/.exec(actor || "");
    if (match) return Staff.name(Number(match[1]));
    return actor === "device-check" ? t("wo.source.device_check") : tWord("actor", actor);
  }

  function wanted(order) {
    const reason = byId("filter-reason").value;
    if (reason && order.need !== reason) return false;
    if (byId("filter-status").value === "open" && !OPEN.includes(order.status)) return false;
    return !byId("filter-overdue").checked || isOverdue(order);
  }

  function compareOrders(a, b) {
    const due = (o) => (o.due_at ? new Date(o.due_at).getTime() : Infinity);
    return isOverdue(b) - isOverdue(a) || due(a) - due(b) || b.id - a.id;
  }

  function row(order) {
    const elder = order.elder_id ? el("a", { href: `/console/elders/${order.elder_id}` }, order.elder_name || "—") : "—";
    return el("tr", { class: isOverdue(order) ? "late p2" : "", dataset: { orderId: order.id, status: order.status, reason: order.need } },
      el("td", {}, String(order.id)),
      el("td", { class: "reason" }, t(`mt_reason.${order.need}`)),
      el("td", { class: "device" }, order.device_id || "—"),
      el("td", { class: "elder" }, elder),
      el("td", { class: "centre" }, centreName(order.centre_code)),
      el("td", { class: "status" }, t(`wo_status.${order.status}`), " ", flags(order)),
      el("td", {}, formatTime(order.created_at)),
      el("td", { class: "due" }, order.due_at ? formatTime(order.due_at) : "—"),
      el("td", { class: "actions" }, el("button", { type: "button", class: "secondary open", onclick: () => select(order.id) }, t("mt.choose"))));
  }

  function render() {
    const rows = [...shown.values()].sort(compareOrders).map(row);
    document.querySelector("#orders tbody").replaceChildren(...rows);
    byId("orders-empty").hidden = rows.length > 0;
  }

  const revisions = revisionRecord();
  function upsert(order) {
    if (!revisions.fresh(order)) return;  // older than a state of it already shown
    if (wanted(order)) shown.set(order.id, order);
    else shown.delete(order.id);
  }

  function listQuery() {
    const params = new URLSearchParams({ limit: "500" });
    if (byId("filter-status").value === "all") params.set("open", "false");
    if (byId("filter-reason").value) params.set("reason", byId("filter-reason").value);
    if (byId("filter-overdue").checked) params.set("overdue", "true");
    return `/api/maintenance-orders?${params}`;
  }

  async function countOverdue() {
    const overdue = await api("/api/maintenance-orders?overdue=true&limit=500");
    const badge = byId("overdue-count");
    badge.textContent = `${t("wo.overdue_count")} ${overdue.length}`;
    badge.hidden = overdue.length === 0;
  }

  const listLoads = latestOnly();
  async function reload() {
    clock.now += 1;
    const asked = clock.now;
    const ticket = listLoads.take();
    const listed = await api(listQuery());
    // The answer to an earlier filter (the open orders, asked as the page opened) arriving after
    // this one would take the orders it does not hold off the list.
    if (!listLoads.isLatest(ticket)) return;
    const fresh = (id) => (clock.heard.get(id) ?? 0) < asked;
    const ids = new Set(listed.map((order) => order.id));
    for (const id of [...shown.keys()]) if (!ids.has(id) && fresh(id)) shown.delete(id);
    for (const order of listed) if (fresh(order.id)) upsert(order);
    render();
    await countOverdue();
    await loadSelfTests();
  }

  function heard(order) {
    clock.now += 1;
    clock.heard.set(order.id, clock.now);
    upsert(order);
    render();
    if (selected && selected.id === order.id) select(order.id).catch(() => {});
    countOverdue().catch(() => {});
  }

  // ---- One order -----------------------------------------------------------------------
  function fact(label, ...value) {
    return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, ...value));
  }

  function stepDetail(step) {
    const d = step.detail || {};
    const parts = [];
    if (step.action === "opened") parts.push(t(`mt_reason.${d.need}`));
    if (d.battery !== undefined && d.battery !== null) parts.push(`${t("mt.battery")} ${d.battery}%`);
    if (d.failure) parts.push(String(d.failure));
    if (d.since) parts.push(`${t("mt.since")} ${formatTime(d.since)}`);
    if (d.deadline) parts.push(`${t("wo.missed")} ${t(`wo.deadline.${d.deadline}`)}`);
    if (d.due_at) parts.push(`${t("wo.due_was")} ${formatTime(d.due_at)}`);
    if (d.why) parts.push(t(`mt_why.${d.why}`));
    if (d.result) parts.push(t(`mt_result.${d.result}`));
    if (d.reason) parts.push(tWord("reason", d.reason));
    for (const words of [d.note, d.text]) if (words) parts.push(String(words));
    return parts.join(" · ");
  }

  function renderOrder() {
    const o = selected;
    byId("order-card").hidden = false;
    byId("order-head").replaceChildren(
      el("h2", {}, `${t(`mt_reason.${o.need}`)} · ${o.device_id} `,
        el("span", { class: "status", id: "order-status", dataset: { status: o.status } }, t(`wo_status.${o.status}`)),
        " ", flags(o)));
    byId("order-facts").replaceChildren(
      fact(t("wo.number"), String(o.id)),
      fact(t("wo.elder"), o.elder_name || "—"),
      fact(t("wo.centre"), centreName(o.centre_code)),
      fact(t("wo.source"), t("mt.source")),
      fact(t("wo.created"), formatTime(o.created_at)),
      fact(t("wo.due"), o.due_at ? formatTime(o.due_at) : "—"),
      ...(o.closed_at ? [fact(t(`wo_status.${o.status}`), formatTime(o.closed_at))] : []));
    byId("close-form").hidden = !OPEN.includes(o.status);
    byId("history").replaceChildren(...o.steps.map((step) => {
      const detail = stepDetail(step);
      return el("li", { dataset: { action: step.action } },
        el("time", {}, formatTime(step.at)), " ",
        el("strong", {}, tWord("wo_step", step.action)), " ",
        el("span", { class: "muted" }, actorWords(step.actor)),
        detail ? el("div", { class: "detail" }, detail) : "");
    }));
  }

  // What was typed on the close form for an order stays with that order: kept when another order
  // is opened, put back when it is opened again, never sent with another.
  const CLOSE_FIELDS = ["close-status", "close-result", "close-note"];
  const closeDrafts = new Map();

  function keepCloseDraft() {
    if (selected) closeDrafts.set(selected.id, Object.fromEntries(CLOSE_FIELDS.map((id) => [id, byId(id).value])));
  }

  function putBackCloseDraft(id) {
    byId("close-form").reset();
    for (const [field, value] of Object.entries(closeDrafts.get(id) || {})) byId(field).value = value;
  }

  async function select(id) {
    const order = await api(`/api/maintenance-orders/${id}`);
    if (selected === null || selected.id !== order.id) {
      keepCloseDraft();
      putBackCloseDraft(order.id);
    }
    selected = order;
    renderOrder();
  }

  async function closeOrder(event) {
    event.preventDefault();
    showMessage("order-error", "");
    try {
      selected = await api(`/api/maintenance-orders/${selected.id}/close`, {
        method: "POST",
        body: { status: byId("close-status").value, result: byId("close-result").value || null, note: byId("close-note").value },
      });
      byId("close-form").reset();
      closeDrafts.delete(selected.id);
      renderOrder();
      upsert(selected);
      render();
    } catch (error) {
      showMessage("order-error", errorWords(error));
    }
  }

  // ---- Every device's self-test --------------------------------------------------------
  function every(seconds) {
    if (!seconds) return "—";
    return seconds % 3600 === 0 ? `${seconds / 3600} ${t("mt.hours")}` : `${seconds} ${t("mt.seconds")}`;
  }

  function testState(line) {
    const flagged = (cls, words) => el("span", { class: `flag escalated ${cls}` }, words);
    const state = {
      failed: () => flagged("failed", `${t("mt.test_failed")} ${line.test_failure || ""}`.trim()),
      overdue: () => flagged("overdue", t("mt.test_overdue")),
      never_heard: () => el("span", { class: "flag never" }, t("mt.never")),
      in_store: () => t("mt.in_store_state"),
      on_time: () => t("mt.test_ok"),
    }[line.status]();
    const troubles = [];
    if (line.mains_lost_since) troubles.push(flagged("mains", t("mt_reason.mains_lost")));
    if (line.battery_low) troubles.push(flagged("battery", t("mt_reason.battery_low")));
    return [state, ...troubles.flatMap((flag) => [" ", flag])];
  }

  // The self-test report: a summary per community, then one page of the lines of a tab.
  const TESTS_PAGE = 50;
  const tests = { show: "action", offset: 0, total: 0, communities: [] };

  function countsRow(counts, label) {
    const cell = (n, cls) => el("td", { class: n && cls ? cls : "" }, String(n));
    return el("tr", { dataset: { community: counts.community_code || "" } },
      el("th", {}, label),
      cell(counts.devices), cell(counts.on_time), cell(counts.overdue, "late"), cell(counts.failed, "late"),
      cell(counts.never_heard, "never"), cell(counts.needs_action, "late"), cell(counts.mains_lost), cell(counts.battery_low));
  }

  function renderSummary(summary) {
    document.querySelector("#tests-summary tbody").replaceChildren(
      ...summary.by_community.map((counts) => countsRow(counts, centreName(counts.community_code))));
    document.querySelector("#tests-summary tfoot").replaceChildren(countsRow(summary.overall, t("mt.total")));
    byId("tests-in-store").textContent = `${t("mt.in_store")}: ${summary.in_store}`;
    const picker = byId("tests-community");
    if (!picker.value) {
      const codes = summary.by_community.map((counts) => counts.community_code);
      if (codes.join() !== tests.communities.join()) {
        tests.communities = codes;
        picker.replaceChildren(picker.options[0], ...codes.map((code) => el("option", { value: code }, centreName(code))));
      }
    }
  }

  function selfTestRow(line) {
    return el("tr", { dataset: { deviceId: line.device_id, reportsOver: line.reports_over, status: line.status } },
      el("td", {}, line.device_id),
      el("td", { class: "reports-over" }, t(`reports_over.${line.reports_over}`)),
      el("td", {}, centreName(line.community_code)),
      el("td", {}, line.online ? t("mt.online") : t("mt.offline")),
      el("td", {}, every(line.test_every_s)),
      el("td", {}, line.last_test_at ? formatTime(line.last_test_at) : "—"),
      el("td", {}, line.test_due_at ? formatTime(line.test_due_at) : "—"),
      el("td", { class: "test-state" }, testState(line)),
      el("td", { class: "action-since" }, line.action_since ? formatTime(line.action_since) : "—"),
      el("td", {}, line.battery === null ? "—" : `${line.battery}%`),
      el("td", { class: "open-orders" }, line.open_orders.length ? line.open_orders.map((r) => t(`mt_reason.${r}`)).join(comma) : t("mt.none")));
  }

  const testLoads = latestOnly();
  async function loadSelfTests() {
    const params = new URLSearchParams({ show: tests.show, limit: String(TESTS_PAGE), offset: String(tests.offset) });
    if (byId("tests-community").value) params.set("community", byId("tests-community").value);
    const ticket = testLoads.take();
    const report = await api(`/api/maintenance/self-test-report?${params}`);
    if (!testLoads.isLatest(ticket)) return;
    if (report.total > 0 && report.offset >= report.total) {
      // The lines shrank under this page (devices came back): show the last page there is.
      tests.offset = Math.floor((report.total - 1) / TESTS_PAGE) * TESTS_PAGE;
      return loadSelfTests();
    }
    tests.total = report.total;
    renderSummary(report.summary);
    for (const tab of document.querySelectorAll("#tests-tabs button")) {
      const on = tab.dataset.show === tests.show;
      tab.className = on ? "primary" : "secondary";
      tab.setAttribute("aria-selected", String(on));
    }
    byId("tests-never-note").hidden = tests.show !== "never_heard";
    document.querySelector("#self-tests tbody").replaceChildren(...report.lines.map(selfTestRow));
    byId("tests-empty").hidden = report.lines.length > 0;
    const from = report.lines.length ? report.offset + 1 : 0;
    byId("tests-showing").textContent = t("mt.showing")
      .replace("{from}", String(from)).replace("{to}", String(report.offset + report.lines.length))
      .replace("{total}", String(report.total));
    byId("tests-prev").disabled = report.offset === 0;
    byId("tests-next").disabled = report.offset + report.lines.length >= report.total;
  }

  function showTests(change) {
    Object.assign(tests, change);
    loadSelfTests().catch(() => {});
  }

  // The live feed of maintenance orders: reconnects, and reloads when it (re)opens.
  const OrderFeed = {
    delay: 500,
    show(state) {
      const node = byId("wo-feed-state");
      node.dataset.state = state;
      node.textContent = state === "live" ? `● ${t("queue.live")}` : t("queue.offline");
    },
    open() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/maintenance-orders`);
      socket.addEventListener("open", () => {
        this.delay = 500;
        this.show("live");
        reload().catch(() => {});
      });
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "work_order") heard(message.work_order);
      });
      socket.addEventListener("close", (event) => {
        this.show("offline");
        if (event.code === 4401) {
          location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
          return;
        }
        setTimeout(() => this.open(), this.delay);
        this.delay = Math.min(this.delay * 2, 10000);
      });
    },
  };

  document.addEventListener("DOMContentLoaded", async () => {
    for (const id of ["filter-reason", "filter-status", "filter-overdue"]) {
      byId(id).addEventListener("change", () => {
        shown.clear();
        reload().catch(() => {});
      });
    }
    for (const tab of document.querySelectorAll("#tests-tabs button")) {
      tab.addEventListener("click", () => showTests({ show: tab.dataset.show, offset: 0 }));
    }
    byId("tests-community").addEventListener("change", () => showTests({ offset: 0 }));
    byId("tests-prev").addEventListener("click", () => showTests({ offset: Math.max(0, tests.offset - TESTS_PAGE) }));
    byId("tests-next").addEventListener("click", () => showTests({ offset: tests.offset + TESTS_PAGE }));
    byId("close-form").addEventListener("submit", closeOrder);
    await Staff.load();
    OrderFeed.open();
    await reload();
  });
})();
