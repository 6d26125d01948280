// Shared by every page: the signed-in person, words in their language, the API, the live feed,
// and the P1 alarm (colour, sound, title flash). Plain browser JavaScript, no build step.
"use strict";

const BOOT = JSON.parse(document.getElementById("boot").textContent);
const ME = BOOT.me;
const PAGE = BOOT.page || {};

function t(key) {
  return Object.prototype.hasOwnProperty.call(BOOT.texts, key) ? BOOT.texts[key] : key;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || String(status));
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  if (answer.status === 401 && ME) {
    location.assign("/sign-in?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, "not_signed_in");
  }
  if (answer.status === 204) return null;
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_error) {
    data = { message: text };
  }
  if (!answer.ok) {
    const detail = data && (data.message || (Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail));
    throw new ApiError(answer.status, data && data.code, detail || answer.statusText);
  }
  return data;
}

// A list drawn again whenever a filter changes: each load takes a ticket before it asks, and
// draws its answer only if no later load has taken one since. An answer arriving after a later
// one (a centre picked while the last centre's list was on its way) is dropped, not drawn over it.
function latestOnly() {
  let issued = 0;
  return { take: () => ++issued, isLatest: (ticket) => ticket === issued };
}

// el("td", {class: "x", onclick: fn}, "text", child) -> element; text is always text, never HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

// "11-23 04:00:14" in the street's time zone (BOOT.tz), not the browser machine's.
const TIME_PARTS = new Intl.DateTimeFormat("en-GB", {
  timeZone: BOOT.tz || undefined, month: "numeric", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
function formatTime(iso) {
  if (!iso) return "";
  const p = Object.fromEntries(TIME_PARTS.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

// "2026-11-24": the street's date `offset` days from now (rosters ask by the street's days).
const DAY_PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: BOOT.tz || undefined, year: "numeric", month: "2-digit", day: "2-digit",
});
function streetDay(offset = 0) {
  return DAY_PARTS.format(new Date(Date.now() + offset * 86400000));
}

// "2026-11-24T09:00" read as the street's wall-clock time (a datetime-local input) -> ISO in UTC.
const WALL_PARTS = new Intl.DateTimeFormat("en-GB", {
  timeZone: BOOT.tz || undefined, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
function streetWallToIso(value) {
  const [date, time] = value.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = time.split(":").map(Number);
  const asIfUtc = Date.UTC(y, mo - 1, d, h, mi);
  const p = Object.fromEntries(WALL_PARTS.formatToParts(new Date(asIfUtc)).map((x) => [x.type, x.value]));
  const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return new Date(asIfUtc - (shown - asIfUtc)).toISOString();
}

// A word for a value from the server (a timeline step, a message state), or the value itself.
function tWord(prefix, value) {
  const key = `${prefix}.${value}`;
  return Object.prototype.hasOwnProperty.call(BOOT.texts, key) ? BOOT.texts[key] : value;
}

// A centre's name in the page's language (BOOT.centres, from the server), never its code.
function centreName(code) {
  if (code === null || code === undefined || code === "") return "—";
  return (BOOT.centres && BOOT.centres[code]) || code;
}

function deviceKindName(kind) {
  return tWord("device_kind", kind);
}

// Small line icons drawn inline as SVG: they need no emoji font (a 📍 is an empty box without one).
const ICON_PATHS = {
  pin: "M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 9.5a2.5 2.5 0 1 1 0-5 2.5 2.5 0 0 1 0 5z",
  home: "M3 11 12 3l9 8h-3v9h-5v-6h-2v6H6v-9z",
  phone: "M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
  pencil: "M3 17.25V21h3.75L17.8 9.94l-3.75-3.75zM20.7 7.04a1 1 0 0 0 0-1.41l-2.34-2.34a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75z",
  bell: "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1z",
};
function icon(name, label) {
  const node = svg("svg", { viewBox: "0 0 24 24", class: `icon icon-${name}`, "aria-hidden": label ? undefined : "true", role: label ? "img" : undefined },
    svg("path", { d: ICON_PATHS[name] }));
  if (label) node.append(svg("title", {}, label));
  return node;
}

function isOpen(incident) {
  return ["new", "assigned", "acknowledged", "en_route", "on_site"].includes(incident.status);
}

// An alarm the elder cancelled in time, not yet called back: an operator calls back by its own
// deadline (the queue, the incident screen), no answer within the minute (the P1 alarm).
function callbackOwed(incident) {
  return isOpen(incident) && Boolean(incident.callback_due_at) && !incident.called_back_at;
}

function compareIncidents(a, b) {
  return a.priority - b.priority || new Date(a.opened_at) - new Date(b.opened_at) || a.id - b.id;
}

// Staff names for "held by": the staff list, else who is on duty (names the API gives).
const Staff = {
  names: new Map(),
  members: [],
  async load() {
    try {
      this.members = await api("/api/staff");
    } catch (_error) {
      try {
        this.members = (await api("/api/on-duty")).map((p) => ({ id: p.staff_id, ...p }));
      } catch (_ignored) {
        this.members = [];
      }
    }
    for (const m of this.members) this.names.set(m.id ?? m.staff_id, m.name);
    if (ME) this.names.set(ME.staff_id, ME.name);
    return this.members;
  },
  name(id) {
    if (id === null || id === undefined) return t("queue.nobody");
    return this.names.get(id) || t("staff.unknown");
  },
};

function elderLabel(incident) {
  if (incident.elder_id === null || incident.elder_id === undefined) return t("queue.unidentified");
  return incident.elder_name || (incident.elder && incident.elder.name) || `#${incident.elder_id}`;
}

// When each view of the page last learnt each incident's state, on one clock: a list asked for
// before the feed brought a change must not put the older state back when its answer comes late
// (a worker's task, assigned while their page's list request was on its way, vanished that way).
// One record per view (a page's list, the P1 alarm): one view's fresh list must not make another
// view's list, asked earlier, look stale.
const Heard = { clock: 0, views: new Map() };

function heardBy(shown) {
  if (!Heard.views.has(shown)) Heard.views.set(shown, new Map());
  return Heard.views.get(shown);
}

// The newest revision of each incident this page has been told (the feed, a list, an answer):
// of two states of one incident the higher revision is the newer, whatever order they came in.
// A step the server committed just after another can reach the page first (a family SMS step
// read the case before an operator assigned it); its older state must not undo the newer one.
// Work orders keep a record of their own (revisionRecord()): their ids are another count.
function revisionRecord() {
  const known = new Map();
  return {
    // Whether `row` is no older than any state of it seen so far; remembered if so.
    fresh(row) {
      const revision = row.revision ?? 0;
      if (revision < (known.get(row.id) ?? -1)) return false;
      known.set(row.id, revision);
      return true;
    },
  };
}
const Revisions = revisionRecord();

// Bring `shown` (a Map of incidents by id) up to a fresh list from `path`: what the list lacks
// goes, the rest goes through `apply`; except an incident the feed (or a newer list) told of since.
async function resync(path, shown, apply) {
  const heard = heardBy(shown);
  Heard.clock += 1;
  const asked = Heard.clock;
  const listed = await api(path);
  const current = (id) => (heard.get(id) ?? 0) < asked;
  const ids = new Set(listed.map((incident) => incident.id));
  for (const id of [...shown.keys()]) {
    if (!ids.has(id) && current(id)) {
      shown.delete(id);
      heard.set(id, asked);
    }
  }
  for (const incident of listed) {
    if (!current(incident.id) || !Revisions.fresh(incident)) continue;
    heard.set(incident.id, asked);
    apply(incident);
  }
}

// The live feed: one socket per page, shared by the page's own views and the P1 alarm; every
// incident change as it commits; reconnects, and every listener resyncs after a gap.
const Feed = {
  listeners: [],
  socket: null,
  live: false,
  delay: 500,
  listen(listener) {
    this.listeners.push(listener);
    if (this.live && listener.onResync) listener.onResync();
    if (!this.socket) this.open();
  },
  setState(state) {
    for (const node of document.querySelectorAll(".feed-state")) {
      node.dataset.state = state;
      node.textContent = state === "live" ? "● " + t("queue.live") : t("queue.offline");
    }
  },
  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/feed`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 500;
      this.live = true;
      this.setState("live");
      // Every open resyncs, the first too: a change committed after the page's first load
      // and before this socket opened was published to nobody.
      for (const listener of this.listeners) if (listener.onResync) listener.onResync();
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "incident" || !Revisions.fresh(message.incident)) return;
      Heard.clock += 1;
      for (const heard of Heard.views.values()) heard.set(message.incident.id, Heard.clock);
      for (const listener of this.listeners) if (listener.onIncident) listener.onIncident(message.incident);
    });
    socket.addEventListener("close", (event) => {
      this.live = false;
      this.setState("offline");
      if (event.code === 4401) {
        location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
        return;
      }
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  },
};

function connectFeed({ onIncident, onResync } = {}) {
  Feed.listen({ onIncident, onResync });
}

// Coverage's live changes (/ws/coverage, the street's staff): a shift added or removed, someone
// marked absent or back, notices of gaps given or acknowledged. A listener asks its figures again
// on each change, and whenever the socket (re)opens, since changes during a gap reached nobody.
const CoverageFeed = {
  listeners: [],
  socket: null,
  delay: 500,
  listen(listener) {
    this.listeners.push(listener);
    if (!this.socket) this.open();
  },
  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/coverage`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 500;
      for (const listener of this.listeners) listener(null);
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "coverage") return;
      for (const listener of this.listeners) listener(message);
    });
    socket.addEventListener("close", (event) => {
      // 4403: not the street's staff; 4401: signed out (the incident feed sends them to sign in).
      if (event.code === 4403 || event.code === 4401) return;
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  },
};

// "禾花 · 明天 08:00–20:00 · 排班人员请假，中心无人": a notice of a gap, in the street's time.
function gapLabel(gap) {
  const day = formatTime(gap.starts_at).split(" ")[0] === formatTime(new Date().toISOString()).split(" ")[0]
    ? t("coverage.today") : t("coverage.tomorrow");
  const hhmm = (iso) => formatTime(iso).split(" ")[1].slice(0, 5);
  return `${centreName(gap.centre_code)} · ${day} ${hhmm(gap.starts_at)}–${hhmm(gap.ends_at)} · ${t("coverage.gap." + gap.kind)}`;
}

// Gaps in the roster ahead nobody has acknowledged, on every page of those who change the roster
// (supervisors, admins): amber, silent, until one of them acknowledges it on the hand-over page.
const COVERAGE_EDITORS = ["supervisor", "admin"];
const CoverageBanner = {
  async load() {
    const banner = document.getElementById("coverage-banner");
    if (!banner) return;
    const waiting = (await api("/api/coverage/notices/open")).filter((n) => !n.acknowledged_by);
    banner.hidden = waiting.length === 0;
    banner.replaceChildren();
    if (!waiting.length) return;
    const first = waiting.slice(0, 2).map(gapLabel).join("；");
    banner.append(
      `${t("coverage.banner").replace("{n}", waiting.length)}：${first}${waiting.length > 2 ? " " + t("coverage.banner_more") : ""} · `,
      el("a", { href: "/console/shift#coverage-notices" }, t("coverage.see_to")));
  },
};

// The alarm's sound. Browsers let a page start sound only once the person has used it (a click,
// a key) or, in Chromium, when they used the previous page of this site before following a link
// to this one; an operator turns the sound on once, and every console page after that tries to
// start it at once and, where the browser holds it back, says so and starts it at the first touch.
const SOUND_KEY = "eldercare.sound";
const Sound = {
  context: null,
  wanted() {
    try {
      return localStorage.getItem(SOUND_KEY) === "on";
    } catch (_error) {
      return false;
    }
  },
  remember(on) {
    try {
      if (on) localStorage.setItem(SOUND_KEY, "on");
      else localStorage.removeItem(SOUND_KEY);
    } catch (_error) {
      // private mode without storage: the choice holds for this page only
    }
  },
  start() {
    if (!this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      this.context = new Context();
      this.context.addEventListener("statechange", () => this.show());
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    this.show();
    return this.context;
  },
  running() {
    return Boolean(this.context && this.context.state === "running");
  },
  // What the sound button says: off, on, or on but held back by the browser until a touch.
  state() {
    if (!this.wanted()) return "off";
    return this.running() ? "on" : "blocked";
  },
  show() {
    const state = this.state();
    const button = document.getElementById("sound");
    if (button) {
      button.dataset.sound = state;
      button.textContent = state === "on" ? t("sound.on") : state === "blocked" ? t("sound.blocked") : t("sound.enable");
      button.classList.toggle("blocked", state === "blocked");
      button.title = state === "on" ? t("sound.off") : "";
    }
    const banner = document.getElementById("p1-banner");
    if (banner) banner.dataset.sound = state;
  },
  toggle() {
    if (this.state() === "on") {
      this.remember(false);
      if (this.context) this.context.suspend().catch(() => {});
    } else {
      this.remember(true);
      this.start();
    }
    this.show();
  },
};

// A new P1 must be impossible to miss, on every page: a red banner, a beep every two seconds, the
// title flashing, until somebody has acknowledged it (or, for this console, until it is opened).
const Alarm = {
  ringing: new Map(),
  shown: new Map(),
  timer: null,
  beeps: 0,
  baseTitle: document.title,
  beep() {
    const ctx = Sound.context;
    if (!Sound.wanted() || !ctx || ctx.state !== "running") return;
    this.beeps += 1;
    for (let i = 0; i < 3; i += 1) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = ctx.currentTime + i * 0.25;
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    }
  },
  raise(incident) {
    this.ringing.set(incident.id, incident);
    this.render();
    if (!this.timer) {
      let flip = false;
      this.beep();
      this.timer = setInterval(() => {
        flip = !flip;
        document.title = flip ? `【${t("queue.new_p1")}】` : this.baseTitle;
        if (flip) this.beep();
      }, 1000);
    }
  },
  settle(id) {
    if (!this.ringing.delete(id)) return;
    this.render();
    if (this.ringing.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      document.title = this.baseTitle;
    }
  },
  render() {
    const banner = document.getElementById("p1-banner");
    if (!banner) return;
    banner.replaceChildren();
    if (this.ringing.size === 0) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    for (const incident of this.ringing.values()) {
      banner.append(
        el("a", { href: `/console/incidents/${incident.id}`, class: "p1-link" },
          icon("bell"), ` ${t("queue.new_p1")}：${t("kind." + incident.kind)} · ${elderLabel(incident)} · ${centreName(incident.centre_code)}`),
      );
    }
  },
  // Whose alarm it is: a community worker's own tasks; everyone else hears every P1 they see.
  concerns(incident) {
    return ME.role !== "community_worker" || incident.assigned_staff_id === ME.staff_id;
  },
  // Needs an unacknowledged P1 alarm: new, assigned, escalated, nobody has taken it yet; the
  // incident screen settles its own incident while it is open. A call-back owed (the elder
  // cancelled in time) is the queue's task with its own deadline, not an emergency ringing.
  consider(incident) {
    const quiet = PAGE.incident_id === incident.id;
    if (!quiet && incident.priority === 1 && isOpen(incident) && !incident.acknowledged_at && !callbackOwed(incident) && this.concerns(incident)) {
      this.raise(incident);
    } else {
      this.settle(incident.id);
    }
  },
  // A change from the feed: kept among the P1s shown, so that a resync whose list was asked for
  // before it (and so passes it over) does not take it for gone and silence its alarm.
  hear(incident) {
    if (incident.priority === 1) this.shown.set(incident.id, incident);
    else this.shown.delete(incident.id);
    this.consider(incident);
  },
  async resync() {
    await resync("/api/incidents?priority=1&limit=500", this.shown, (incident) => {
      this.shown.set(incident.id, incident);
      this.consider(incident);
    });
    for (const id of [...this.ringing.keys()]) if (!this.shown.has(id)) this.settle(id);
  },
};

// A person who has turned the sound on once need not click again on each page: try at once,
// and where the browser holds the sound back, start it at the first touch of the page.
function armSound() {
  if (Sound.wanted()) Sound.start();
  Sound.show();
  const touched = () => {
    if (Sound.wanted() && !Sound.running()) Sound.start();
  };
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, touched, { capture: true });
}

function showMessage(id, text) {
  const node = document.getElementById(id);
  if (!node) return;
  node.textContent = text;
  node.hidden = !text;
}

document.addEventListener("DOMContentLoaded", () => {
  if (ME) {
    armSound();
    const sound = document.getElementById("sound");
    if (sound) sound.addEventListener("click", () => Sound.toggle());
    Feed.listen({ onIncident: (incident) => Alarm.hear(incident), onResync: () => Alarm.resync().catch(() => {}) });
    if (COVERAGE_EDITORS.includes(ME.role)) CoverageFeed.listen(() => CoverageBanner.load().catch(() => {}));
  }
  const language = document.getElementById("language");
  if (language) {
    language.addEventListener("click", () => {
      const next = BOOT.lang === "zh" ? "en" : "zh";
      document.cookie = `lang=${next}; path=/; max-age=31536000; samesite=lax`;
      location.reload();
    });
  }
  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      try {
        await api("/api/auth/sign-out", { method: "POST" });
      } finally {
        location.assign("/sign-in");
      }
    });
  }
});
