// Devices' maintenance orders for the installer (battery, offline, mains, self-test): the list
// (by reason, open or all, overdue; live over /ws/maintenance-orders), one order's history and
// closing it with what was done; below, every device's self-test (DC-09 panels and the
// protocol's heartbeats). Not the care workers' orders, never an alarm.
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

  function upsert(order) {
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

  async function reload() {
    clock.now += 1;
    const asked = clock.now;
    const listed = await api(listQuery());
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

  async function select(id) {
    selected = await api(`/api/maintenance-orders/${id}`);
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
    if (line.test_failed_at) return el("span", { class: "flag escalated failed" }, `${t("mt.test_failed")} ${line.test_failure || ""}`.trim());
    if (line.test_overdue) return el("span", { class: "flag escalated overdue" }, line.last_test_at ? t("mt.test_overdue") : t("mt.never"));
    return t("mt.test_ok");
  }

  async function loadSelfTests() {
    const overdue = byId("tests-overdue").checked ? "true" : "false";
    const lines = await api(`/api/maintenance/self-tests?overdue=${overdue}&limit=300`);
    document.querySelector("#self-tests tbody").replaceChildren(...lines.map((line) =>
      el("tr", { dataset: { deviceId: line.device_id, reportsOver: line.reports_over } },
        el("td", {}, line.device_id),
        el("td", { class: "reports-over" }, t(`reports_over.${line.reports_over}`)),
        el("td", {}, centreName(line.community_code)),
        el("td", {}, line.online ? t("mt.online") : t("mt.offline")),
        el("td", {}, every(line.test_every_s)),
        el("td", {}, line.last_test_at ? formatTime(line.last_test_at) : "—"),
        el("td", {}, line.test_due_at ? formatTime(line.test_due_at) : "—"),
        el("td", { class: "test-state" }, testState(line)),
        el("td", {}, line.battery === null ? "—" : `${line.battery}%`),
        el("td", { class: "open-orders" }, line.open_orders.length ? line.open_orders.map((r) => t(`mt_reason.${r}`)).join(comma) : t("mt.none")))));
    byId("tests-empty").hidden = lines.length > 0;
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
    await Staff.load();
    for (const id of ["filter-reason", "filter-status", "filter-overdue"]) {
      byId(id).addEventListener("change", () => {
        shown.clear();
        reload().catch(() => {});
      });
    }
    byId("tests-overdue").addEventListener("change", () => loadSelfTests().catch(() => {}));
    byId("close-form").addEventListener("submit", closeOrder);
    OrderFeed.open();
    await reload();
  });
})();
