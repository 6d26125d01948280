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

function isOpen(incident) {
  return ["new", "assigned", "acknowledged", "en_route", "on_site"].includes(incident.status);
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
    return this.names.get(id) || `#${id}`;
  },
};

function elderLabel(incident) {
  if (incident.elder_id === null || incident.elder_id === undefined) return t("queue.unidentified");
  return incident.elder_name || (incident.elder && incident.elder.name) || `#${incident.elder_id}`;
}

// When the page last learnt each incident's state, on one clock: a list asked for before the
// feed brought a change must not put the older state back when its answer comes late (a worker's
// task, assigned while their page's list request was on its way, vanished that way).
const Heard = { clock: 0, at: new Map() };

// Bring `shown` (a Map of incidents by id) up to a fresh list from `path`: what the list lacks
// goes, the rest goes through `apply`; except an incident the feed (or a newer list) told of since.
async function resync(path, shown, apply) {
  Heard.clock += 1;
  const asked = Heard.clock;
  const listed = await api(path);
  const current = (id) => (Heard.at.get(id) ?? 0) < asked;
  const ids = new Set(listed.map((incident) => incident.id));
  for (const id of [...shown.keys()]) {
    if (!ids.has(id) && current(id)) {
      shown.delete(id);
      Heard.at.set(id, asked);
    }
  }
  for (const incident of listed) {
    if (!current(incident.id)) continue;
    Heard.at.set(incident.id, asked);
    apply(incident);
  }
}

// The live feed: every incident change as it commits; reconnects, and resyncs after a gap.
function connectFeed({ onIncident, onResync, centre } = {}) {
  const stateEl = document.getElementById("feed-state");
  let delay = 500;
  function setState(state) {
    if (!stateEl) return;
    stateEl.dataset.state = state;
    stateEl.textContent = state === "live" ? "● " + t("queue.live") : t("queue.offline");
  }
  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = centre ? `?centre=${encodeURIComponent(centre)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/feed${query}`);
    socket.addEventListener("open", () => {
      delay = 500;
      setState("live");
      // Every open resyncs, the first too: a change committed after the page's first load
      // and before this socket opened was published to nobody.
      if (onResync) onResync();
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "incident") return;
      Heard.clock += 1;
      Heard.at.set(message.incident.id, Heard.clock);
      if (onIncident) onIncident(message.incident);
    });
    socket.addEventListener("close", (event) => {
      setState("offline");
      if (event.code === 4401) {
        location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
        return;
      }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }
  open();
}

// A new P1 must be impossible to miss: a red banner, a beep every two seconds, the title flashing,
// until somebody has acknowledged it (or, for this console, until it is opened).
const Alarm = {
  context: null,
  ringing: new Map(),
  timer: null,
  baseTitle: document.title,
  ensureAudio() {
    if (!this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context) this.context = new Context();
    }
    if (this.context && this.context.state === "suspended") this.context.resume();
    return this.context;
  },
  beep() {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return;
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
    if (this.ringing.has(incident.id)) return;
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
          `${t("queue.new_p1")}：${t("kind." + incident.kind)} · ${elderLabel(incident)} · ${incident.centre_code}`),
      );
    }
  },
  // Needs an unacknowledged P1: new, assigned, escalated, nobody has taken it yet.
  consider(incident) {
    if (incident.priority === 1 && isOpen(incident) && !incident.acknowledged_at) this.raise(incident);
    else this.settle(incident.id);
  },
};

// Browsers start audio only after a gesture on the page: the first click anywhere enables it.
document.addEventListener("click", () => Alarm.ensureAudio(), { once: true });

function showMessage(id, text) {
  const node = document.getElementById(id);
  if (!node) return;
  node.textContent = text;
  node.hidden = !text;
}

document.addEventListener("DOMContentLoaded", () => {
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
