// Service requests as work orders: the list (by status, centre, overdue; live over
// /ws/work-orders), one taken on the phone, the providers list (supervisors and admins); one
// order (accept, provider and appointment, close, note, its history); the report. Never an
// alarm: nothing here rings or joins the incident queue.
"use strict";

(() => {
  const OPEN = ["new", "accepted", "scheduled"];
  const byId = (id) => document.getElementById(id);
  const comma = BOOT.lang === "zh" ? "、" : ", ";

  function has(key) {
    return Object.prototype.hasOwnProperty.call(BOOT.texts, key);
  }

  function needWord(need) {
    return t(`need.${need || "unsaid"}`);
  }

  function isOverdue(order) {
    return OPEN.includes(order.status) && Boolean(order.overdue_at);
  }

  function providerWords(kind, name) {
    if (!kind) return "—";
    if (kind === "centre") return t("provider_kind.centre");
    return BOOT.lang === "zh" ? `${name || ""}（${t(`provider_kind.${kind}`)}）` : `${name || ""} (${t(`provider_kind.${kind}`)})`;
  }

  function actorWords(actor) {
    const match = /^staff:(\d+)$/.exec(actor || "");
    return match ? Staff.name(Number(match[1])) : tWord("actor", actor);
  }

  function errorWords(error) {
    return error.code && has(`error.${error.code}`) ? t(`error.${error.code}`) : `${t("common.error")}: ${error.message}`;
  }

  function communities() {
    return Object.entries(BOOT.centres || {}).filter(([, name]) => name !== t("centre.street"));
  }

  // "2026-12-05T10:00" in the street's time, for a datetime-local input.
  function streetWall(iso) {
    const p = Object.fromEntries(WALL_PARTS.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }

  function flags(order) {
    const found = [];
    if (isOverdue(order)) found.push(el("span", { class: "flag escalated overdue" }, t("wo.overdue")));
    else if (order.late) found.push(el("span", { class: "flag late" }, t("wo.late")));
    return found;
  }

  // The live feed of work-order changes: reconnects, and reloads what the page shows when it
  // (re)opens, so a change made while it was away is not missed.
  const OrderFeed = {
    delay: 500,
    start(onOrder, onOpen) {
      this.onOrder = onOrder;
      this.onOpen = onOpen;
      this.open();
    },
    show(state) {
      const node = byId("wo-feed-state");
      if (!node) return;
      node.dataset.state = state;
      node.textContent = state === "live" ? `● ${t("queue.live")}` : t("queue.offline");
    },
    open() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/work-orders`);
      socket.addEventListener("open", () => {
        this.delay = 500;
        this.show("live");
        this.onOpen();
      });
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "work_order") this.onOrder(message.work_order);
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

  // ---- The list ------------------------------------------------------------------------
  const shown = new Map();
  // When the feed last told of each order, on one clock with the list requests: a list asked
  // for before a change must not put the older state back when its answer comes late.
  const clock = { now: 0, heard: new Map() };

  function wanted(order) {
    const status = byId("filter-status").value;
    if (status === "open" && !OPEN.includes(order.status)) return false;
    if (!["open", "all"].includes(status) && order.status !== status) return false;
    const centre = byId("filter-centre");
    if (centre && centre.value && order.centre_code !== centre.value) return false;
    return !byId("filter-overdue").checked || isOverdue(order);
  }

  function compareOrders(a, b) {
    const due = (o) => (o.due_at ? new Date(o.due_at).getTime() : Infinity);
    return isOverdue(b) - isOverdue(a) || due(a) - due(b) || b.id - a.id;
  }

  async function accept(order) {
    try {
      upsert(await api(`/api/work-orders/${order.id}/accept`, { method: "POST", body: {} }));
      render();
    } catch (error) {
      alert(errorWords(error));
    }
  }

  function row(order) {
    const actions = [el("a", { class: "button secondary open", href: `/console/work-orders/${order.id}` }, t("action.open"))];
    if (order.status === "new") {
      actions.push(el("button", { type: "button", class: "primary accept", onclick: () => accept(order) }, t("wo.accept")));
    }
    const elder = order.elder_id ? el("a", { href: `/console/elders/${order.elder_id}` }, order.elder_name || t("queue.unidentified")) : "—";
    return el("tr", { class: isOverdue(order) ? "late p2" : "", dataset: { orderId: order.id, status: order.status } },
      el("td", {}, String(order.id)),
      el("td", { class: "need" }, needWord(order.need)),
      el("td", { class: "elder" }, elder),
      el("td", { class: "centre" }, centreName(order.centre_code)),
      el("td", { class: "status" }, t(`wo_status.${order.status}`), " ", flags(order)),
      el("td", {}, formatTime(order.created_at)),
      el("td", { class: "due" }, order.due_at ? formatTime(order.due_at) : "—"),
      el("td", { class: "provider" }, providerWords(order.provider_kind, order.provider_name)),
      el("td", { class: "appointment" }, order.appointment_at ? formatTime(order.appointment_at) : "—"),
      el("td", { class: "actions" }, actions));
  }

  const revisions = revisionRecord();
  function upsert(order) {
    if (!revisions.fresh(order)) return;  // older than a state of it already shown
    if (wanted(order)) shown.set(order.id, order);
    else shown.delete(order.id);
  }

  function render() {
    const rows = [...shown.values()].sort(compareOrders).map(row);
    document.querySelector("#orders tbody").replaceChildren(...rows);
    byId("orders-empty").hidden = rows.length > 0;
  }

  function listQuery() {
    const params = new URLSearchParams({ limit: "500" });
    const status = byId("filter-status").value;
    if (status === "all") params.set("open", "false");
    else if (status !== "open") params.set("status", status);
    const centre = byId("filter-centre");
    if (centre && centre.value) params.set("centre", centre.value);
    if (byId("filter-overdue").checked) params.set("overdue", "true");
    return `/api/work-orders?${params}`;
  }

  async function countOverdue() {
    const overdue = await api("/api/work-orders?overdue=true&limit=500");
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
  }

  function heard(order) {
    clock.now += 1;
    clock.heard.set(order.id, clock.now);
    upsert(order);
    render();
    countOverdue().catch(() => {});
  }

  let elderSearch = 0;
  async function findElders() {
    const ticket = ++elderSearch;
    const query = byId("elder-query").value.trim();
    const choice = byId("elder-choice");
    if (!query) {
      choice.replaceChildren();
      return;
    }
    const page = await api(`/api/elders?${new URLSearchParams({ q: query, limit: "20" })}`);
    if (ticket !== elderSearch) return; // a newer search is on its way
    const options = page.items.map((e) =>
      el("option", { value: e.id }, `${e.name} · ${e.age} ${t("summary.years")} · ${centreName(e.community_code)} · ${e.address}`));
    choice.replaceChildren(...(options.length ? options : [el("option", { value: "", disabled: true }, t("wo.no_elder"))]));
  }

  async function createOrder(event) {
    event.preventDefault();
    showMessage("new-order-error", "");
    const elderId = Number(byId("elder-choice").value);
    if (!elderId) return;
    try {
      const order = await api("/api/work-orders", {
        method: "POST",
        body: { elder_id: elderId, need: byId("new-need").value, request: byId("new-request").value },
      });
      location.assign(`/console/work-orders/${order.id}`);
    } catch (error) {
      showMessage("new-order-error", errorWords(error));
    }
  }

  // Only the newest list is shown: the page's first load may answer after the one a change
  // (a provider added, removed) asked for, and must not put the old list back.
  const providerLoads = latestOnly();
  async function loadProviders() {
    const ticket = providerLoads.take();
    const found = await api("/api/service-providers?inactive=true");
    if (!providerLoads.isLatest(ticket)) return;
    document.querySelector("#providers tbody").replaceChildren(...found.map((p) =>
      el("tr", { class: p.active ? "" : "muted", dataset: { providerId: p.id } },
        el("td", {}, p.name, p.active ? "" : ` (${t("wo.inactive")})`),
        el("td", {}, t(`provider_kind.${p.kind}`)),
        el("td", {}, p.centre_code ? centreName(p.centre_code) : t("wo.whole_street")),
        el("td", {}, p.needs.length ? p.needs.map(needWord).join(comma) : t("wo.anything")),
        el("td", {}, p.phone || "—"),
        el("td", {}, el("button", {
          type: "button", class: "secondary",
          onclick: async () => {
            await api(`/api/service-providers/${p.id}`, { method: "PATCH", body: { active: !p.active } });
            await loadProviders();
          },
        }, p.active ? t("wo.remove_provider") : t("wo.restore_provider"))))));
  }

  async function addProvider(event) {
    event.preventDefault();
    showMessage("provider-error", "");
    const needs = [...byId("provider-needs").selectedOptions].map((o) => o.value);
    try {
      await api("/api/service-providers", {
        method: "POST",
        body: {
          name: byId("provider-name").value, kind: byId("provider-kind").value,
          phone: byId("provider-phone").value || null, centre_code: byId("provider-centre").value || null, needs,
        },
      });
      byId("provider-form").reset();
      await loadProviders();
    } catch (error) {
      showMessage("provider-error", errorWords(error));
    }
  }

  async function startList() {
    for (const id of ["filter-centre", "provider-centre"]) {
      const select = byId(id);
      if (select) select.append(...communities().map(([code, name]) => el("option", { value: code }, name)));
    }
    for (const id of ["filter-status", "filter-centre", "filter-overdue"]) {
      const control = byId(id);
      if (control) control.addEventListener("change", () => {
        shown.clear();
        reload().catch(() => {});
      });
    }
    let typing = null;
    byId("elder-query").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => findElders().catch(() => {}), 250);
    });
    byId("new-order-form").addEventListener("submit", createOrder);
    if (byId("provider-form")) byId("provider-form").addEventListener("submit", addProvider);
    await Staff.load();
    if (byId("provider-form")) await loadProviders();
    // Subscribe first, then load: a change that lands in between is not lost.
    OrderFeed.start(heard, () => reload().catch(() => {}));
    await reload();
  }

  // ---- One order -----------------------------------------------------------------------
  let order = null;
  let providers = null;

  function fact(label, ...value) {
    return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, ...value));
  }

  function stepDetail(step) {
    const d = step.detail || {};
    const parts = [];
    if (step.action === "opened") parts.push(needWord(d.need));
    if (d.incident) parts.push(t("wo.from_incident"));
    if (d.deadline) parts.push(`${t("wo.missed")} ${t(`wo.deadline.${d.deadline}`)}`);
    if (d.provider_kind) parts.push(providerWords(d.provider_kind, d.provider));
    if (d.appointment_at) parts.push(`${t("wo.appointment")} ${formatTime(d.appointment_at)}`);
    if (d.due_at) parts.push(`${t("wo.due_was")} ${formatTime(d.due_at)}`);
    if (step.action === "overdue") {
      const told = [centreName(d.centre)];
      if (d.supervisor_id) told.push(`${t("wo.supervisor")} ${Staff.name(d.supervisor_id)}`);
      parts.push(`${t("wo.reported_to")} ${told.join(comma)}`);
    }
    for (const words of [d.note, d.text]) if (words) parts.push(String(words));
    return parts.join(" · ");
  }

  function renderOrder() {
    const o = order;
    const open = OPEN.includes(o.status);
    byId("order-head").classList.toggle("p2", isOverdue(o));
    byId("order-head").replaceChildren(
      el("h1", {}, `${needWord(o.need)} · ${o.elder_name || t("queue.unidentified")} `,
        el("span", { class: "status", id: "order-status", dataset: { status: o.status } }, t(`wo_status.${o.status}`)),
        " ", flags(o)));
    const elder = o.elder_id ? el("a", { href: `/console/elders/${o.elder_id}` }, o.elder_name || "—") : "—";
    byId("order-facts").replaceChildren(
      fact(t("wo.number"), String(o.id)),
      fact(t("wo.elder"), elder),
      fact(t("wo.centre"), centreName(o.centre_code)),
      fact(t("wo.source"), t(`wo.source.${o.source}`)),
      fact(t("wo.request"), o.request || "—"),
      fact(t("wo.created"), formatTime(o.created_at)),
      fact(t("wo.due"), el("span", { id: "order-due" }, o.due_at ? formatTime(o.due_at) : "—")),
      fact(t("wo.provider"), el("span", { id: "order-provider" }, providerWords(o.provider_kind, o.provider_name))),
      fact(t("wo.appointment"), el("span", { id: "order-appointment" }, o.appointment_at ? formatTime(o.appointment_at) : "—")),
      ...(o.accepted_at ? [fact(t("wo_status.accepted"), `${formatTime(o.accepted_at)} · ${Staff.name(o.accepted_by_staff_id)}`)] : []),
      ...(o.closed_at ? [fact(t(`wo_status.${o.status}`), formatTime(o.closed_at))] : []));
    byId("accept").hidden = o.status !== "new";
    byId("schedule-form").hidden = !open;
    byId("close-form").hidden = !open;
    if (open && !byId("schedule-at").value && o.appointment_at) byId("schedule-at").value = streetWall(o.appointment_at);
    byId("history").replaceChildren(...o.steps.map((step) => {
      const detail = stepDetail(step);
      return el("li", { dataset: { action: step.action } },
        el("time", {}, formatTime(step.at)), " ",
        el("strong", {}, tWord("wo_step", step.action)), " ",
        el("span", { class: "muted" }, actorWords(step.actor)),
        detail ? el("div", { class: "detail" }, detail) : "");
    }));
    renderProviders();
  }

  // The provider the person chose on the form and has not yet sent: news of the order redrawing
  // the list (a note, a step by someone else) keeps it, not the order's own provider.
  let providerChosen = null;

  function renderProviders() {
    if (providers === null) return;
    const select = byId("schedule-provider");
    const current = providerChosen ?? (order.provider_kind ? `${order.provider_kind}:${order.provider_id ?? ""}` : select.value);
    const usable = providers.filter((p) => p.needs.length === 0 || p.needs.includes(order.need));
    select.replaceChildren(
      el("option", { value: "centre:" }, t("provider_kind.centre")),
      ...usable.map((p) => el("option", { value: `${p.kind}:${p.id}` }, providerWords(p.kind, p.name))));
    if ([...select.options].some((option) => option.value === current)) select.value = current;
  }

  async function act(path, body) {
    if (order === null) return false;
    showMessage("order-error", "");
    try {
      order = await api(`/api/work-orders/${order.id}/${path}`, { method: "POST", body });
      renderOrder();
      return true;
    } catch (error) {
      showMessage("order-error", errorWords(error));
      return false;
    }
  }

  async function loadOrder() {
    order = await api(`/api/work-orders/${PAGE.order_id}`);
    renderOrder();
  }

  async function startOrder() {
    // Buttons and forms are wired before anything loads: a click while the providers list is
    // still on its way must not fall on a button with nothing behind it.
    byId("accept").addEventListener("click", () => act("accept", {}));
    byId("schedule-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const [kind, id] = byId("schedule-provider").value.split(":");
      const at = byId("schedule-at").value;
      if (!at) return;
      const done = await act("schedule", {
        provider_kind: kind, provider_id: id ? Number(id) : null,
        appointment_at: streetWallToIso(at), note: byId("schedule-note").value,
      });
      if (done) {
        byId("schedule-note").value = "";
        providerChosen = null;
      }
    });
    byId("schedule-provider").addEventListener("change", () => {
      providerChosen = byId("schedule-provider").value;
    });
    byId("close-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      await act("close", { status: byId("close-status").value, note: byId("close-note").value });
    });
    byId("note-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await act("notes", { text: byId("note-text").value })) byId("note-text").value = "";
    });
    await Staff.load();
    await loadOrder();
    providers = await api(`/api/service-providers?centre=${encodeURIComponent(order.centre_code)}`);
    renderProviders();
    OrderFeed.start((changed) => {
      if (changed.id === order.id) loadOrder().catch(() => {});
    }, () => loadOrder().catch(() => {}));
  }

  // ---- The report ----------------------------------------------------------------------
  function percent(share) {
    return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`;
  }

  function countsTable(rows, overall, label) {
    const head = ["", "wo.requests", "wo.done", "wo.done_on_time", "wo.share_on_time", "wo.still_open", "wo.overdue_now", "wo.cancelled", "wo.unreachable"];
    const line = (r, name) => el("tr", { dataset: { key: r.key } },
      el("td", {}, name), el("td", {}, r.requests), el("td", {}, r.done), el("td", {}, r.done_on_time),
      el("td", {}, percent(r.share_on_time)), el("td", {}, r.open), el("td", {}, r.overdue),
      el("td", {}, r.cancelled), el("td", {}, r.unreachable));
    return el("table", {},
      el("thead", {}, el("tr", {}, head.map((key) => el("th", {}, key ? t(key) : "")))),
      el("tbody", {}, rows.map((r) => line(r, label(r.key))), line(overall, t("wo.overall"))));
  }

  async function loadReport() {
    const report = await api(`/api/reports/work-orders?days=${byId("days").value}`);
    byId("by-need").replaceChildren(countsTable(report.by_need, report.overall, needWord));
    byId("by-centre").replaceChildren(countsTable(report.by_centre, report.overall, centreName));
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (PAGE.view === "list") startList();
    else if (PAGE.view === "order") startOrder();
    else {
      byId("days").addEventListener("change", loadReport);
      loadReport();
    }
  });
})();
