// Proactive care calls (主动关怀): today's list by centre, the calls to make (overdue first) or
// closed today, one call opened to make it (the numbers as tel: links, the tries, the form),
// the weather warnings (supervisors record them) and the report. No live feed: the list and
// the counts are asked for again after each try and every half minute.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  // Nothing on the list is an alarm: asked for again this often.
  const REFRESH_MS = 30000;
  const STREET = "street";
  // Rows the list shows at most (the API's default); the counts by centre say how many there are.
  const LIST_LIMIT = 300;
  let today = null;
  let openCall = null;

  function has(key) {
    return Object.prototype.hasOwnProperty.call(BOOT.texts, key);
  }

  function fill(key, values) {
    return Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), t(key));
  }

  function errorWords(error) {
    return error.code && has(`error.${error.code}`) ? t(`error.${error.code}`) : `${t("common.error")}: ${error.message}`;
  }

  function callerWords(code) {
    return code ? centreName(code) : t("care.not_now");
  }

  // "12-05": a local day as the page shows it.
  function dayWords(iso) {
    return iso ? iso.slice(5) : "";
  }

  function reasonsWords(reasons) {
    return reasons.map((reason) => t(`care.reason.${reason}`)).join(BOOT.lang === "zh" ? "、" : ", ");
  }

  function dueCell(call) {
    if (call.overdue) return el("span", { class: "flag escalated overdue" }, fill("care.overdue_since", { d: dayWords(call.due_on) }));
    return t("care.due_today");
  }

  function statusCell(call) {
    if (call.status === "due") {
      return call.tries ? el("span", { class: "tries" }, fill("care.no_answer_times", { n: call.tries })) : t("care.status.due");
    }
    const words = [t(`care.status.${call.status}`)];
    if (call.outcome) words.push(t(`care.outcome.${call.outcome}`));
    const cell = [words.join(" · ")];
    if (call.incident_id) cell.push(" ", el("a", { href: `/console/incidents/${call.incident_id}`, class: "incident-link" }, fill("care.incident_link", { n: call.incident_id })));
    return cell;
  }

  function callRow(call) {
    const action = call.status === "due"
      ? el("button", { type: "button", class: "primary record", onclick: () => openTheCall(call.id) }, icon("phone"), " ", t("care.record"))
      : "";
    return el("tr", { dataset: { callId: call.id, elderId: call.elder_id, status: call.status }, class: call.overdue ? "late" : "" },
      el("td", { class: "elder" }, el("a", { href: `/console/elders/${call.elder_id}` }, call.elder_name)),
      el("td", { class: "phone" }, call.phone || "—"),
      el("td", { class: "centre" }, centreName(call.community_code)),
      el("td", { class: "caller" }, callerWords(call.caller_centre)),
      el("td", { class: "reasons" }, reasonsWords(call.reasons)),
      el("td", { class: "due" }, dueCell(call)),
      el("td", { class: "status" }, statusCell(call)),
      el("td", { class: "actions" }, action));
  }

  function listPath() {
    const params = new URLSearchParams();
    if (byId("filter-state").value === "done") params.set("done", "true");
    const centre = byId("filter-centre") ? byId("filter-centre").value : "";
    if (centre === STREET) {
      if (today) params.set("caller", today.street_centre);
    } else if (centre) {
      params.set("centre", centre);
    }
    params.set("limit", String(LIST_LIMIT));
    return `/api/care-calls?${params}`;
  }

  const callLoads = latestOnly();
  async function loadCalls() {
    const ticket = callLoads.take();
    const calls = await api(listPath());
    if (!callLoads.isLatest(ticket)) return;
    byId("calls").querySelector("tbody").replaceChildren(...calls.map(callRow));
    const empty = byId("calls-empty");
    empty.textContent = byId("filter-state").value === "done" ? t("care.empty_done") : t("care.empty");
    empty.hidden = calls.length > 0;
    const more = byId("calls-more");
    more.textContent = fill("care.more", { n: LIST_LIMIT });
    more.hidden = calls.length < LIST_LIMIT;
  }

  function centreRow(centre) {
    const count = (n, cls) => el("td", { class: n ? cls : "" }, String(n));
    return el("tr", { dataset: { centre: centre.centre_code } },
      el("th", { class: "centre" }, centreName(centre.centre_code)),
      el("td", { class: "caller" }, callerWords(centre.caller_centre)),
      count(centre.due, "due"), count(centre.overdue, "overdue error"),
      count(centre.done, "done"), count(centre.not_reached, "not-reached"));
  }

  async function loadToday() {
    today = await api("/api/care-calls/today");
    byId("care-day").textContent = fill("care.today", { d: today.day });
    const [starts, ends] = today.calling_hours.split("-");
    const hours = fill("care.hours", { h: starts === ends ? t("care.all_day") : today.calling_hours });
    byId("calling-hours").textContent = today.calling_now ? hours : `${hours} · ${t("care.not_calling_now")}`;
    byId("by-centre").querySelector("tbody").replaceChildren(...today.centres.map(centreRow));
    const select = byId("filter-centre");
    if (select && select.options.length === 2) {
      for (const centre of today.centres) select.append(el("option", { value: centre.centre_code }, centreName(centre.centre_code)));
    }
  }

  // The call card: whom to ring, the tries so far, and the form for this try.
  function numberLink(number) {
    const who = number.whose === "contact"
      ? `${number.relation || ""} ${number.name}`.trim()
      : `${t(`care.whose.${number.whose}`)} ${number.name}`;
    return el("a", { class: "tel", href: `tel:${number.phone}`, dataset: { whose: number.whose } }, icon("phone"), ` ${who} ${number.phone}`);
  }

  function fact(label, value) {
    return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, value));
  }

  function attemptItem(attempt) {
    const what = attempt.answered
      ? `${t("care.answered")} · ${t(`care.outcome.${attempt.outcome}`)}`
      : t("care.unanswered");
    const parts = [el("time", {}, formatTime(attempt.called_at)), " ", el("strong", {}, what)];
    if (attempt.staff_name) parts.push(" ", el("span", { class: "muted" }, fill("care.by", { name: attempt.staff_name })));
    if (attempt.notes) parts.push(el("div", { class: "muted" }, attempt.notes));
    if (attempt.follow_up_on) parts.push(el("div", { class: "muted" }, `${t("care.follow_up")}: ${attempt.follow_up_on}`));
    return el("li", { dataset: { answered: String(attempt.answered) } }, parts);
  }

  function showCall(call) {
    openCall = call;
    byId("call-card").hidden = false;
    byId("call-card").dataset.callId = call.id;
    byId("call-head").replaceChildren(fill("care.call_title", { name: call.elder_name }), " ",
      el("a", { href: `/console/elders/${call.elder_id}`, class: "button secondary" }, t("care.elder_page")));
    byId("call-facts").replaceChildren(
      fact(t("care.reasons"), reasonsWords(call.reasons)),
      fact(t("care.age"), fill("care.age_years", { n: call.age })),
      fact(t("care.living"), t(`living.${call.living_situation}`)),
      fact(t("care.conditions"), call.conditions.length ? call.conditions.join("、") : "—"),
      fact(t("care.status"), statusCell(call)));
    byId("call-numbers").replaceChildren(...(call.numbers.length ? call.numbers.map(numberLink) : [el("span", { class: "muted" }, t("care.no_numbers"))]));
    byId("call-attempts").replaceChildren(...call.attempts.map(attemptItem));
    byId("no-attempts").hidden = call.attempts.length > 0;
    byId("attempt-form").hidden = call.status !== "due";
  }

  async function openTheCall(id) {
    showMessage("attempt-result", "");
    showMessage("attempt-error", "");
    try {
      showCall(await api(`/api/care-calls/${id}`));
      resetForm();
      byId("call-card").scrollIntoView({ block: "nearest" });
    } catch (error) {
      showMessage("attempt-error", errorWords(error));
    }
  }

  function resetForm() {
    byId("attempt-form").reset();
    byId("attempt-outcome").disabled = true;
    byId("attempt-follow-up").min = streetDay(1);
  }

  function answeredChanged() {
    byId("attempt-outcome").disabled = byId("attempt-answered").value !== "yes";
  }

  function resultWords(result) {
    const call = result.call;
    if (call.status === "not_reached") return t("care.saved_visit");
    if (call.status === "due") return fill("care.saved_unanswered", { n: call.unanswered_in_a_row });
    return result.incident_id ? t("care.saved_incident") : t("care.saved_done");
  }

  async function saveAttempt(event) {
    event.preventDefault();
    showMessage("attempt-result", "");
    showMessage("attempt-error", "");
    const said = byId("attempt-answered").value;
    if (!said) {
      showMessage("attempt-error", t("care.pick_answered"));
      return;
    }
    const answered = said === "yes";
    const body = { answered, notes: byId("attempt-notes").value };
    if (answered) body.outcome = byId("attempt-outcome").value;
    const at = byId("attempt-at").value;
    if (at) body.called_at = streetWallToIso(at);
    const followUp = byId("attempt-follow-up").value;
    if (followUp) body.follow_up_on = followUp;
    try {
      const result = await api(`/api/care-calls/${openCall.id}/attempts`, { method: "POST", body });
      showCall(result.call);
      resetForm();
      const words = [resultWords(result)];
      if (result.incident_id) {
        words.push(" ", el("a", { href: `/console/incidents/${result.incident_id}`, id: "raised-incident" }, fill("care.incident_link", { n: result.incident_id })));
      }
      const node = byId("attempt-result");
      node.replaceChildren(...words);
      node.dataset.status = result.call.status;
      node.hidden = false;
      await refresh();
    } catch (error) {
      showMessage("attempt-error", errorWords(error));
    }
  }

  function closeCall() {
    openCall = null;
    byId("call-card").hidden = true;
  }

  // Weather warnings: everyone sees them; supervisors and admins record them.
  function warningItem(warning) {
    const match = /^staff:(\d+)$/.exec(warning.recorded_by || "");
    const by = match ? Staff.name(Number(match[1])) : "";
    return el("li", { dataset: { kind: warning.kind, day: warning.day } },
      el("strong", {}, t(`weather.${warning.kind}`)), ` · ${warning.day}`,
      by ? ` · ${fill("care.by", { name: by })}` : "", warning.note ? ` · ${warning.note}` : "");
  }

  async function loadWarnings() {
    const warnings = await api("/api/care-calls/warnings");
    byId("warnings").replaceChildren(...(warnings.length ? warnings.map(warningItem) : [el("li", { class: "muted" }, t("care.weather.none"))]));
  }

  async function recordWarning(event) {
    event.preventDefault();
    showMessage("warning-result", "");
    showMessage("warning-error", "");
    const body = { kind: byId("warning-kind").value, note: byId("warning-note").value };
    if (byId("warning-day").value) body.day = byId("warning-day").value;
    try {
      const recorded = await api("/api/care-calls/warnings", { method: "POST", body });
      showMessage("warning-result", fill("care.weather.recorded", { n: recorded.calls }));
      byId("warning-note").value = "";
      await Promise.all([loadWarnings(), refresh()]);
    } catch (error) {
      showMessage("warning-error", errorWords(error));
    }
  }

  function reportRow(row, label) {
    return el("tr", { dataset: { centre: row.centre_code } },
      el("th", {}, label),
      ...["due", "done", "done_late", "not_reached", "overdue", "by_street"].map((key) => el("td", { class: key }, String(row[key]))));
  }

  async function loadReport() {
    const days = byId("report-days").value;
    const report = await api(`/api/care-calls/report?days=${days}`);
    byId("report-period").textContent = fill("care.report.period", { a: report.since, b: report.until });
    byId("report").querySelector("tbody").replaceChildren(...report.centres.map((row) => reportRow(row, centreName(row.centre_code))));
    byId("report").querySelector("tfoot").replaceChildren(reportRow(report.overall, t("care.report.all")));
  }

  async function refresh() {
    await Promise.all([loadToday(), loadCalls(), loadReport()]);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    byId("filter-state").addEventListener("change", () => loadCalls().catch(() => {}));
    if (byId("filter-centre")) byId("filter-centre").addEventListener("change", () => loadCalls().catch(() => {}));
    byId("attempt-form").addEventListener("submit", saveAttempt);
    byId("attempt-answered").addEventListener("change", answeredChanged);
    byId("call-close").addEventListener("click", closeCall);
    byId("report-days").addEventListener("change", () => loadReport().catch(() => {}));
    if (byId("warning-form")) {
      byId("warning-form").addEventListener("submit", recordWarning);
      byId("warning-day").min = streetDay(0);
    }
    await Staff.load();
    await Promise.all([refresh(), loadWarnings()]);
    setInterval(() => {
      refresh().catch(() => {});
      loadWarnings().catch(() => {});
    }, REFRESH_MS);
  });
})();
