// encore web page: plain script, no build step, no outside requests.
// Reads /v1 of the same server; text goes in with textContent only (no HTML injection).
"use strict";

(function () {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const REFRESH_MS = Math.max(500, Number(meta("encore-refresh-ms")) || 5000);
  const KEY_REQUIRED = meta("encore-key-required") === "true";
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  let currentUser = null;
  let apiKey = KEY_REQUIRED ? (localStorage.getItem("encore-api-key") || "") : "";

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
    }
  }

  async function api(path) {
    const headers = { Accept: "application/json" };
    if (apiKey) headers["X-API-Key"] = apiKey;
    const response = await fetch(path, { headers });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function setStatus(text, isError) {
    const node = $("status");
    node.textContent = text || "";
    node.classList.toggle("error", Boolean(isError));
  }

  const fmtTime = (iso) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, "") : "–");
  const fmtDate = (sec) => new Date(sec * 1000).toISOString().slice(0, 10);
  const fmtClock = (sec, span) =>
    new Date(sec * 1000).toISOString().slice(11, span < 10 ? 22 : 19);

  // ------------------------------------------------------------------ listeners

  async function loadListeners() {
    const data = await api("/v1/listeners?limit=500");
    const select = $("listener-select");
    const list = $("listener-list");
    const keep = select.value;
    select.replaceChildren(el("option", `— pick a listener (${data.total}) —`));
    select.firstChild.value = "";
    list.replaceChildren();
    for (const entry of data.listeners) {
      const option = el("option", `${entry.user_id}  ·  ${fmtDate(Date.parse(entry.last_event_time) / 1000)}`);
      option.value = entry.user_id;
      select.appendChild(option);
      const item = el("option");
      item.value = entry.user_id;
      list.appendChild(item);
    }
    select.value = keep || currentUser || "";
  }

  // ------------------------------------------------------------------ one listener

  function renderRecs(data) {
    $("recs-user").textContent = data.user_id;
    $("recs-meta").textContent =
      `${data.reason} · model ${data.model_version} · scored ${fmtTime(data.scored_at)} UTC` +
      ` · features as of ${fmtTime(data.as_of_event_time)} UTC`;
    const body = $("recs").tBodies[0];
    body.replaceChildren();
    if (!data.items.length) {
      const row = body.insertRow();
      const cell = row.appendChild(el("td", "no items in this list", "empty"));
      cell.colSpan = 5;
    }
    data.items.forEach((item, i) => {
      const row = body.insertRow();
      row.dataset.trackId = item.track_id;
      row.dataset.score = String(item.score);
      row.appendChild(el("td", i + 1, "rank"));
      const track = row.appendChild(el("td", item.track_name || ""));
      if (!item.track_name) track.appendChild(el("span", item.track_id, "id"));
      row.appendChild(el("td", item.artist_name || "–"));
      const score = row.appendChild(el("td", "", "num score"));
      score.appendChild(el("span", item.score.toFixed(3), "score-value"));
      const bar = score.appendChild(el("span", null, "bar"));
      bar.style.width = `${Math.round(item.score * 80)}px`;
      row.appendChild(el("td", item.reason || "", "reason"));
    });
  }

  function clearRecs(message) {
    $("recs").tBodies[0].replaceChildren();
    $("recs-meta").textContent = message;
  }

  function renderHistory(data) {
    const body = $("plays").tBodies[0];
    body.replaceChildren();
    if (!data.plays.length) {
      const cell = body.insertRow().appendChild(el("td", "no recent plays stored", "empty"));
      cell.colSpan = 4;
    }
    for (const play of data.plays) {
      const row = body.insertRow();
      row.dataset.trackId = play.track_id;
      row.appendChild(el("td", fmtTime(play.played_at), "num"));
      const track = row.appendChild(el("td", play.track_name || ""));
      if (!play.track_name) track.appendChild(el("span", play.track_id, "id"));
      row.appendChild(el("td", play.artist_name || "–"));
      const secs = play.ms_played == null ? "–" : `${Math.round(play.ms_played / 1000)} s`;
      row.appendChild(el("td", secs, "num"));
    }
  }

  async function showUser(userId, quiet) {
    if (!userId) return;
    currentUser = userId;
    if (location.hash !== `#user=${encodeURIComponent(userId)}`) {
      history.replaceState(null, "", `#user=${encodeURIComponent(userId)}`);
    }
    $("listener-select").value = userId;
    $("recs-user").textContent = userId;
    if (!quiet) setStatus(`loading ${userId}…`);
    const id = encodeURIComponent(userId);
    const [recs, plays] = await Promise.allSettled([
      api(`/v1/users/${id}/recommendations?k=20`),
      api(`/v1/users/${id}/history?limit=20`),
    ]);
    if (userId !== currentUser) return; // another listener was picked meanwhile
    if (recs.status === "fulfilled") renderRecs(recs.value);
    else clearRecs(recs.reason.message);
    if (plays.status === "fulfilled") renderHistory(plays.value);
    else $("plays").tBodies[0].replaceChildren();
    const failed = [recs, plays].find((r) => r.status === "rejected");
    if (failed) setStatus(failed.reason.message, failed.reason.status !== 404);
    else setStatus(`updated ${new Date().toLocaleTimeString()}`);
    document.body.dataset.loadedUser = userId;
  }

  // ------------------------------------------------------------------ charts

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A line chart of points [{x, y}] drawn into an <svg viewBox="0 0 560 220">.
  function lineChart(svg, points, opts) {
    const W = 560, H = 220, L = 52, R = 14, T = 12, B = 28;
    svg.replaceChildren();
    const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    svg.dataset.points = String(usable.length);
    if (!usable.length) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, opts.empty));
      return;
    }
    let x0 = Math.min(...usable.map((p) => p.x)), x1 = Math.max(...usable.map((p) => p.x));
    let y0 = opts.yMin ?? Math.min(...usable.map((p) => p.y));
    let y1 = opts.yMax ?? Math.max(...usable.map((p) => p.y));
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.08;
    if (opts.yMin === undefined) y0 -= pad;
    if (opts.yMax === undefined) y1 += pad;
    if (opts.floor !== undefined) y0 = Math.max(opts.floor, y0);
    const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    for (let i = 0; i <= 4; i++) {
      const v = y0 + ((y1 - y0) * i) / 4;
      svg.appendChild(svgEl("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), class: "grid" }));
      svg.appendChild(svgEl("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, opts.yFormat(v)));
    }
    for (let i = 0; i <= 3; i++) {
      const v = x0 + ((x1 - x0) * i) / 3;
      const anchor = i === 0 ? "start" : i === 3 ? "end" : "middle";
      svg.appendChild(
        svgEl("text", { x: sx(v), y: H - 8, "text-anchor": anchor }, opts.xFormat(v, x1 - x0)));
    }
    const d = usable.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
    svg.appendChild(svgEl("path", { d: d.join(" "), class: "line", stroke: opts.color }));
    const last = usable[usable.length - 1];
    svg.appendChild(svgEl("circle", { cx: sx(last.x), cy: sy(last.y), r: 3.5, fill: opts.color }));
    svg.appendChild(svgEl("text", {
      x: Math.min(sx(last.x), W - R - 2), y: Math.max(sy(last.y) - 8, T + 10),
      "text-anchor": "end", style: `fill:${opts.color};font-weight:600`,
    }, opts.yFormat(last.y)));
  }

  async function loadModel() {
    const dot = $("ready-dot");
    try {
      const model = await api("/v1/model");
      $("model-version").textContent = model.version;
      $("model-examples").textContent = model.examples_learned.toLocaleString("en");
      $("model-auc").textContent = model.rolling_auc == null ? "–" : model.rolling_auc.toFixed(3);
      $("model-logloss").textContent =
        model.rolling_logloss == null ? "–" : model.rolling_logloss.toFixed(3);
      dot.className = "dot ok";
      $("ready-text").textContent = "live";
    } catch (err) {
      dot.className = "dot bad";
      $("ready-text").textContent = err.status === 404 ? "no model yet" : err.message;
    }
    const data = await api("/v1/model/history?limit=1000");
    lineChart($("auc-chart"), data.points.map((p) => ({ x: p.event_time, y: p.auc })), {
      color: "#1f8a5b", yFormat: (v) => v.toFixed(3), xFormat: fmtDate,
      empty: "no AUC measured yet", floor: 0,
    });
    lineChart($("pps-chart"), data.points.map((p) => ({ x: p.wall_time, y: p.plays_per_second })), {
      color: "#3d63dd", yFormat: (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0)),
      xFormat: fmtClock, empty: "no throughput measured yet", yMin: 0,
    });
  }

  // ------------------------------------------------------------------ wiring

  async function refresh(quiet) {
    const jobs = [loadModel(), loadListeners()];
    if (currentUser) jobs.push(showUser(currentUser, quiet));
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      if (failed.reason.status === 401) $("key-row").hidden = false;
      setStatus(failed.reason.message, true);
    }
    document.body.dataset.refreshed = String(Date.now());
  }

  function start() {
    if (KEY_REQUIRED) {
      $("key-row").hidden = false;
      $("api-key").value = apiKey;
      $("api-key").addEventListener("change", (event) => {
        apiKey = event.target.value.trim();
        localStorage.setItem("encore-api-key", apiKey);
        refresh(false);
      });
    }
    $("listener-select").addEventListener("change", (event) => {
      if (event.target.value) showUser(event.target.value, false).catch((e) => setStatus(e.message, true));
    });
    $("listener-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = $("listener-input").value.trim();
      if (typed) showUser(typed, false).catch((e) => setStatus(e.message, true));
    });
    const fromHash = /^#user=(.+)$/.exec(location.hash);
    if (fromHash) currentUser = decodeURIComponent(fromHash[1]);
    refresh(false);
    setInterval(() => refresh(true), REFRESH_MS);
  }

  start();
})();
