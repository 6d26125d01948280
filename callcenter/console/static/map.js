// The street drawn from known coordinates (no tile server): the 13 centres, open incidents at
// their centre, and, for the incident picked, the elder's home and the way from the centre.
"use strict";

const WIDTH = 1000;
const HEIGHT = 800;
const MARGIN = 70;
let centres = [];
const incidents = new Map();
let picked = null;
let project = null;

function projection(points) {
  const lats = points.map((p) => p.lat);
  const lons = points.map((p) => p.lon);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const kx = Math.cos((midLat * Math.PI) / 180); // a degree of longitude is shorter than one of latitude
  const minX = Math.min(...lons) * kx;
  const maxX = Math.max(...lons) * kx;
  const minY = Math.min(...lats);
  const maxY = Math.max(...lats);
  const scale = Math.min((WIDTH - 2 * MARGIN) / (maxX - minX), (HEIGHT - 2 * MARGIN) / (maxY - minY));
  return (lat, lon) => [MARGIN + (lon * kx - minX) * scale, HEIGHT - MARGIN - (lat - minY) * scale];
}

function kmScale() {
  // One kilometre, measured with the same projection at the street's latitude.
  const [x0] = project(centres[0].lat, centres[0].lon);
  const [x1] = project(centres[0].lat, centres[0].lon + 1 / (111.32 * Math.cos((centres[0].lat * Math.PI) / 180)));
  return x1 - x0;
}

function draw() {
  const map = document.getElementById("street-map");
  map.replaceChildren();
  const byCode = new Map(centres.map((c) => [c.code, c]));
  const km = kmScale();
  map.append(svg("g", { class: "scale" },
    svg("line", { x1: 20, y1: HEIGHT - 20, x2: 20 + km, y2: HEIGHT - 20, stroke: "#333", "stroke-width": 3 }),
    svg("text", { x: 20, y: HEIGHT - 28 }, "1 km")));
  for (const c of centres) {
    const [x, y] = project(c.lat, c.lon);
    map.append(svg("g", { class: `centre ${c.tier}`, "data-code": c.code },
      svg("rect", { x: x - 7, y: y - 7, width: 14, height: 14 }),
      svg("text", { x: x + 10, y: y + 4 }, centreName(c.code))));
  }
  const perCentre = new Map();
  for (const incident of [...incidents.values()].sort(compareIncidents)) {
    const centre = byCode.get(incident.centre_code);
    if (!centre) continue;
    const n = perCentre.get(centre.code) || 0;
    perCentre.set(centre.code, n + 1);
    const [cx, cy] = project(centre.lat, centre.lon);
    const angle = (n * 2 * Math.PI) / 8 - Math.PI / 2;
    const x = cx + Math.cos(angle) * 22;
    const y = cy + Math.sin(angle) * 22;
    map.append(svg("g", { class: `incident p${incident.priority}`, "data-incident-id": incident.id, onclick: () => pick(incident) },
      svg("circle", { cx: x, cy: y, r: incident.priority === 1 ? 10 : 7 }),
      svg("title", {}, `P${incident.priority} ${t("kind." + incident.kind)} ${elderLabel(incident)} · ${t("status." + incident.status)}`)));
  }
  if (picked && picked.elder) {
    const centre = byCode.get(picked.incident.centre_code);
    const [ex, ey] = project(picked.elder.lat, picked.elder.lon);
    if (centre) {
      const [cx, cy] = project(centre.lat, centre.lon);
      map.append(svg("line", { class: "link", x1: cx, y1: cy, x2: ex, y2: ey }));
    }
    map.append(svg("g", { class: `incident p${picked.incident.priority} home` },
      svg("circle", { cx: ex, cy: ey, r: 9 }),
      svg("text", { x: ex + 12, y: ey + 4 }, picked.elder.name)));
  }
}

async function pick(incident) {
  // Opening the elder's home on the map is a view of their profile (audited), so only on a click.
  picked = { incident, elder: incident.elder_id ? await api(`/api/elders/${incident.elder_id}`).catch(() => null) : null };
  draw();
}

async function reload() {
  await resync("/api/incidents?limit=500", incidents, (incident) => incidents.set(incident.id, incident));
  draw();
}

document.addEventListener("DOMContentLoaded", async () => {
  centres = await api("/api/centres");
  project = projection(centres);
  connectFeed({
    onIncident: (incident) => {
      if (isOpen(incident)) incidents.set(incident.id, incident);
      else incidents.delete(incident.id);
      draw();
    },
    onResync: reload,
  });
  await reload();
});
