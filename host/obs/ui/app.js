// The sluice web UI: polls /api/jobs once a second and draws the job list, the topology with
// its rates, a panel per device, malformed and late counts, checkpoints and a throughput chart.
"use strict";

const history = []; // [seconds, events/s] of the first job, the last 120 samples
let selected = null;

function fmt(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return String(Math.round(n));
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function control(job, action) {
  const r = await fetch("/api/jobs/" + encodeURIComponent(job) + "/" + action, { method: "POST" });
  document.getElementById("notice").textContent = r.ok ? action + " requested" : "refused: " + (await r.text());
}

function drawJobs(jobs) {
  const body = document.querySelector("#jobs tbody");
  body.textContent = "";
  for (const j of jobs) {
    const tr = el("tr", { "data-job": j.name });
    tr.appendChild(el("td", {}, j.node ? j.name + " (" + j.node + "'s part)" : j.name));
    tr.appendChild(el("td", { class: "state-" + j.state }, j.state));
    tr.appendChild(el("td", { class: "num" }, j.elapsed_s.toFixed(1) + " s"));
    tr.appendChild(el("td", { class: "num" }, String(j.stages.length ? j.stages[0].events_in : 0)));
    tr.appendChild(el("td", { class: "num" }, fmt(j.rate_in)));
    const td = el("td");
    const stop = el("button", { id: "stop", title: "end the input and write the final rows" }, "Stop");
    stop.onclick = () => control(j.name, "stop");
    const cancel = el("button", { id: "cancel", title: "give the run up" }, "Cancel");
    cancel.onclick = () => control(j.name, "cancel");
    if (j.state !== "running") stop.disabled = cancel.disabled = true;
    td.append(stop, cancel);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function drawGraph(j, outboxes) {
  const svg = document.getElementById("graph");
  svg.textContent = "";
  const ns = "http://www.w3.org/2000/svg";
  const nodes = [{ id: "source", title: "source: " + j.source, line: fmt(j.input.records || j.generated) + " records" }];
  if (j.filtered) nodes.push({ id: "filter", title: "filter", line: fmt(j.filtered) + " dropped" });
  j.stages.forEach((s, i) => nodes.push({
    id: "pe-" + i, title: s.pe + " (" + s.kind + ")",
    line: fmt(i === 0 ? j.rate_in : 0) + " ev/s · busy " + Math.round(100 * s.busy_ratio) + "% · wait " +
      (s.batches ? (1000 * s.seconds.wait / s.batches).toFixed(1) : "0") + " ms",
    line2: fmt(s.events_in) + " in · " + fmt(s.rows_out) + " rows out",
  }));
  if (outboxes && outboxes.length) {
    const blocked = outboxes.reduce((a, o) => a + o.blocked_s, 0);
    const queued = outboxes.reduce((a, o) => a + o.queued_frames, 0);
    nodes.push({ id: "peers", title: "to the other nodes", line: queued + " frames queued",
      line2: "back-pressure " + blocked.toFixed(2) + " s" });
  }
  nodes.push({ id: "sink", title: "sink: " + j.sink, line: fmt(j.stages.length ? j.stages[j.stages.length - 1].rows_out : 0) + " rows" });
  const w = 190, gap = 40;
  nodes.forEach((n, i) => {
    const x = 10 + i * (w + gap);
    const g = document.createElementNS(ns, "g");
    g.setAttribute("data-node", n.id);
    const r = document.createElementNS(ns, "rect");
    Object.entries({ x, y: 20, width: w, height: 80, rx: 8, fill: "#fff", stroke: "#1d3557" }).forEach(([k, v]) => r.setAttribute(k, v));
    g.appendChild(r);
    [n.title, n.line, n.line2 || ""].forEach((t, k) => {
      const tx = document.createElementNS(ns, "text");
      tx.setAttribute("x", x + 10);
      tx.setAttribute("y", 42 + k * 20);
      if (k === 0) tx.setAttribute("font-weight", "bold");
      tx.textContent = t;
      g.appendChild(tx);
    });
    svg.appendChild(g);
    if (i > 0) {
      const a = document.createElementNS(ns, "line");
      Object.entries({ x1: x - gap, y1: 60, x2: x, y2: 60, stroke: "#1d3557", "stroke-width": 2 }).forEach(([k, v]) => a.setAttribute(k, v));
      svg.appendChild(a);
    }
  });
  svg.setAttribute("viewBox", "0 0 " + (20 + nodes.length * (w + gap)) + " 120");
}

function bar(frac) {
  const b = el("span", { class: "bar" });
  const f = el("div");
  f.style.width = Math.max(0, Math.min(100, 100 * frac)).toFixed(1) + "%";
  b.appendChild(f);
  return b;
}

function drawDevices(j) {
  const box = document.getElementById("devices");
  box.textContent = "";
  box.appendChild(el("h3", {}, "Device"));
  box.appendChild(el("p", { id: "device-name" }, j.device));
  j.stages.forEach((s, i) => {
    const d = el("div", { class: "device", "data-pe": s.pe });
    d.appendChild(el("p", {}, "PE " + s.pe));
    const busy = el("p", {}, "busy ");
    busy.appendChild(bar(s.busy_ratio));
    busy.appendChild(el("span", { class: "busy", id: "busy-" + i }, " " + Math.round(100 * s.busy_ratio) + "%"));
    d.appendChild(busy);
    const fill = el("p", {}, "table ");
    const room = s.capacity > 0 ? s.capacity : s.slots * 5 / 8;
    fill.appendChild(bar(room ? s.keys / room : 0));
    fill.appendChild(el("span", { id: "keys-" + i }, " " + s.keys + " keys in " + s.slots + " slots" +
      (s.capacity ? " (cap " + s.capacity + ")" : "") + ", grew " + s.grows + "×"));
    d.appendChild(fill);
    const t = s.seconds;
    d.appendChild(el("p", { class: "stages" }, "seconds: batching " + t.batch.toFixed(3) + " · transfer " +
      t.transfer.toFixed(3) + " · kernel " + t.kernel.toFixed(3) + " · emit " + t.emit.toFixed(3) +
      " · " + s.batches + " batches, waiting " + (s.batches ? (1000 * t.wait / s.batches).toFixed(1) : "0") +
      " ms each on the host"));
    box.appendChild(d);
  });
}

function drawChart() {
  const c = document.getElementById("chart");
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (history.length < 2) return;
  const max = Math.max(1, ...history.map((p) => p[1]));
  g.strokeStyle = "#2a9d8f";
  g.lineWidth = 2;
  g.beginPath();
  history.forEach((p, i) => {
    const x = (i / (history.length - 1)) * (c.width - 10) + 5;
    const y = c.height - 15 - (p[1] / max) * (c.height - 30);
    if (i) g.lineTo(x, y); else g.moveTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#52606d";
  g.fillText(fmt(max) + " ev/s", 5, 12);
}

function drawJob(j, outboxes) {
  document.getElementById("job").hidden = false;
  document.getElementById("job-name").textContent = j.name;
  document.getElementById("rate").textContent = fmt(j.rate_in);
  document.getElementById("events-in").textContent = String(j.stages.length ? j.stages[0].events_in : 0);
  document.getElementById("malformed").textContent = String(j.input.malformed);
  document.getElementById("late").textContent = String(j.stages.reduce((a, s) => a + s.late, 0));
  const ol = document.getElementById("reasons");
  ol.textContent = "";
  for (const b of j.bad) ol.appendChild(el("li", {}, "line " + b.line + ", column " + b.column + ", byte " + b.byte + ": " + b.reason));
  const late = document.getElementById("late-reasons");
  late.textContent = "";
  for (const s of j.stages)
    for (const n of s.late_recent || []) late.appendChild(el("li", {}, "PE " + s.pe + ", key " + n.key + ": " + n.reason));
  const ck = document.getElementById("ckpt");
  ck.textContent = j.checkpoints
    ? j.checkpoints.written + " written, " + j.checkpoints.failed + " failed, last " + fmt(j.checkpoints.last_bytes) + "B" +
      (j.checkpoints.age_s >= 0 ? ", " + j.checkpoints.age_s.toFixed(1) + " s ago" : "")
    : "none in this job";
  drawGraph(j, outboxes);
  drawDevices(j);
  drawChart();
}

function drawNode(data) {
  const row = document.getElementById("node-row");
  if (!data.node) { row.hidden = true; return; }
  row.hidden = false;
  document.getElementById("node-name").textContent = data.node;
  const body = document.querySelector("#outboxes tbody");
  body.textContent = "";
  for (const o of data.outboxes || []) {
    const tr = el("tr", { "data-peer": String(o.peer) });
    [ "node-" + o.peer, o.port < 0 ? "control" : "stage " + o.port, o.queued_frames, fmt(o.queued_bytes),
      o.unacked_frames, o.sent_frames, o.blocked, o.blocked_s.toFixed(3) ].forEach((v, i) => tr.appendChild(el("td", i > 1 ? { class: "num" } : {}, String(v))));
    body.appendChild(tr);
  }
  const rej = Object.entries(data.rejected || {});
  document.getElementById("rejected").textContent = rej.length ? rej.map(([k, v]) => k + ": " + v).join(", ") : "none";
}

async function poll() {
  try {
    const r = await fetch("/api/jobs", { cache: "no-store" });
    const data = await r.json();
    document.getElementById("conn").textContent = "updated " + new Date().toLocaleTimeString();
    drawJobs(data.jobs);
    drawNode(data);
    const j = data.jobs.find((x) => x.name === selected) || data.jobs[0];
    if (j) {
      selected = j.name;
      history.push([j.elapsed_s, j.rate_in]);
      if (history.length > 120) history.shift();
      drawJob(j, data.outboxes);
    }
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (e) {
    document.getElementById("conn").textContent = "no answer from the job (" + e.message + ")";
  }
}

poll();
setInterval(poll, 1000);
