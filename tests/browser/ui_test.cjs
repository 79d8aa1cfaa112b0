// The web UI in a real browser: Debian's chromium, headless, driven by playwright-core, loads the
// UI of a running `sluice run --metrics 127.0.0.1:0` whose input (a pipe this script holds open)
// it wrote itself. The page must show the job's real figures (events in, malformed lines with
// their line numbers, keys in the table, the device, the graph's PE), equal to /metrics and to
// the script's own counts; its Stop button must end the run with exit status 0 and final rows
// equal to those counts. A screenshot of the page goes to BUILD_DIR/browser/ui.png. Then the same
// for a 3-node local job (--nodes 3): node 1's page (ui-node.png) shows its part of the job.
//
//   usage: node tests/browser/ui_test.cjs BUILD_DIR CHROMIUM
"use strict";
const { chromium } = require("playwright-core");
const { spawn } = require("child_process");
const fs = require("fs");
const path = require("path");
const http = require("http");

const build = path.resolve(process.argv[2]);
const browserPath = process.argv[3];
const dir = path.join(build, "browser");
const ADS = 23;
const BAD = [7, 1500]; // malformed lines, 1-based
const LINES = 2400;

function fail(msg) {
  console.error("browser_ui FAILED: " + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

function check(cond, msg) {
  if (!cond) fail(msg);
  console.log("ok   " + msg);
}

function get(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: p }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", reject);
  });
}

function sample(text, series) {
  for (const line of text.split("\n"))
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  return NaN;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const topo = path.join(dir, "ui.yaml");
  fs.writeFileSync(topo,
    "source: {type: stdin, format: ndjson}\n" +
    "pe: {name: ctr_per_ad, kind: ctr}\n" +
    "sink: {path: \"" + path.join(dir, "out.csv") + "\"}\n");
  const env = Object.assign({}, process.env, { POCL_CACHE_DIR: path.join(build, "pocl-cache") });
  const child = spawn(path.join(build, "sluice"), ["run", topo, "--metrics", "127.0.0.1:0"],
    { env, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, sig })));
  let browser = null;
  try {
    let port = 0;
    for (let i = 0; i < 600 && !port; i++) {
      const m = /metrics at http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(stderr);
      if (m) port = Number(m[1]);
      else await sleep(50);
    }
    if (!port) fail("no metrics address on stderr: " + stderr);

    // the input: LINES lines over ADS ads, every 4th a click, BAD malformed
    const imp = new Array(ADS).fill(0), clk = new Array(ADS).fill(0);
    let valid = 0, text = "";
    for (let i = 1; i <= LINES; i++) {
      if (BAD.includes(i)) { text += "{\"ad_id\": \"ad-x\", \"event_type\": \n"; continue; }
      const ad = (i * 11) % ADS, click = i % 4 === 0;
      text += JSON.stringify({ ad_id: "ad-" + ad, event_type: click ? "click" : "view", event_time: 5000 + i }) + "\n";
      if (click) clk[ad]++; else imp[ad]++;
      valid++;
    }
    child.stdin.write(text);

    // /metrics first: the run took every event and the device has every key
    let metrics = "";
    for (let i = 0; i < 600; i++) {
      metrics = (await get(port, "/metrics")).body;
      if (sample(metrics, 'sluice_events_in_total{job="ui",pe="ctr_per_ad"}') === valid &&
          sample(metrics, 'sluice_table_keys{job="ui",pe="ctr_per_ad"}') === ADS) break;
      await sleep(50);
    }
    check(sample(metrics, 'sluice_events_in_total{job="ui",pe="ctr_per_ad"}') === valid,
      "/metrics counts the " + valid + " events written");
    check(sample(metrics, 'sluice_input_malformed_total{job="ui"}') === BAD.length,
      "/metrics counts the " + BAD.length + " malformed lines");
    const jobs = JSON.parse((await get(port, "/api/jobs")).body).jobs;
    check(jobs.length === 1 && jobs[0].name === "ui", "/api/jobs lists the job");

    browser = await chromium.launch({ executablePath: browserPath, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto("http://127.0.0.1:" + port + "/");
    await page.waitForFunction((n) => document.querySelector("#events-in")?.textContent === String(n),
      valid, { timeout: 20000 });
    check(true, "the page shows " + valid + " events in");
    const row = page.locator('#jobs tr[data-job="ui"]');
    check((await row.count()) === 1, "the job list has the job");
    check((await row.locator("td").nth(1).textContent()) === "running", "the job list says running");
    const pe = page.locator('#graph g[data-node="pe-0"]');
    check((await pe.count()) === 1 && (await pe.textContent()).includes("ctr_per_ad (ctr)"),
      "the graph has the PE node with its name and kind");
    check((await page.locator('#graph g[data-node="source"]').textContent()).includes("stdin"),
      "the graph's source is stdin");
    check((await page.locator('#graph g[data-node="sink"]').count()) === 1, "the graph has the sink");
    check(/wait \d+\.\d ms/.test(await pe.textContent()), "the PE shows its batches' wait");
    check((await page.locator("#device-name").textContent()) === jobs[0].device,
      "the device panel names the device: " + jobs[0].device);
    await page.waitForFunction((n) => (document.querySelector("#keys-0")?.textContent || "").includes(" " + n + " keys"),
      ADS, { timeout: 20000 });
    check(true, "the device panel shows the table's " + ADS + " keys, as /metrics does");
    check((await page.locator("#malformed").textContent()) === String(BAD.length),
      "the page shows " + BAD.length + " malformed lines");
    const reasons = await page.locator("#reasons li").allTextContents();
    check(reasons.length === BAD.length && BAD.every((l, i) => reasons[i].startsWith("line " + l + ",")),
      "the page lists the malformed lines by number: " + JSON.stringify(reasons));
    check((await page.locator("#busy-0").count()) === 1, "the device panel shows a busy ratio");
    await page.screenshot({ path: path.join(dir, "ui.png"), fullPage: true });
    check(fs.statSync(path.join(dir, "ui.png")).size > 1000, "screenshot saved to " + path.join(dir, "ui.png"));
    check(errors.length === 0, "no script errors on the page " + JSON.stringify(errors));

    // Stop from the page: the run ends as after SIGINT, with every row written
    await page.click("#stop");
    const to = setTimeout(() => child.kill("SIGKILL"), 60000);
    const ex = await exited;
    clearTimeout(to);
    check(ex.code === 0, "Stop on the page ends the run with exit status 0 (got " + JSON.stringify(ex) + ")");
    const out = fs.readFileSync(path.join(dir, "out.csv"), "utf8").trim().split("\n");
    check(out.length === ADS + 1, "the output has a row per ad");
    for (const line of out.slice(1)) {
      const [id, i, c] = line.split(",");
      const ad = Number(id.slice(3));
      if (Number(i) !== imp[ad] || Number(c) !== clk[ad]) fail("row " + line + " differs from the counts written");
    }
    check(true, "every row equals the script's own counts");

    await cluster(browser, env);
  } finally {
    if (browser) await browser.close();
    if (!child.stdin.destroyed) child.stdin.end();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

// A free run of n ports on 127.0.0.1 (each bound and released), from a random start.
async function freePorts(n) {
  const net = require("net");
  const tryPort = (p) => new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(p, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
  for (let t = 0; t < 100; t++) {
    const base = 20000 + Math.floor(Math.random() * 9000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await tryPort(base + i);
    if (ok) return base;
  }
  fail("no free ports");
}

// The UI of a running 3-node local job: node 1's page shows its part of the job (its events
// in, as its /metrics says) and its outboxes to the two other nodes; Stop is refused there,
// saying where to stop the job; the end of input ends the job with every row right.
async function cluster(browser, env) {
  const port = await freePorts(3);
  const child = spawn(path.join(build, "sluice"), ["ctr", "--input", "-", "--output",
    path.join(dir, "out3.csv"), "--nodes", "3", "--metrics", "127.0.0.1:" + port],
    { env, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, sig })));
  try {
    const imp = new Array(ADS).fill(0);
    let text = "";
    for (let i = 1; i <= LINES; i++) {
      const ad = (i * 13) % ADS;
      text += JSON.stringify({ ad_id: "ad-" + ad, event_type: "view", event_time: 9000 + i }) + "\n";
      imp[ad]++;
    }
    child.stdin.write(text);
    const node = port + 1;
    let total = 0, mine = NaN;
    for (let i = 0; i < 1200 && total !== LINES; i++) {
      total = 0;
      for (let k = 0; k < 3; k++) {
        let m;
        try { m = (await get(port + k, "/metrics")).body; } catch (e) { m = ""; }
        const hit = /^sluice_events_in_total\{job="job-\d+",node="node-\d+",pe="ctr"\} (\d+)$/m.exec(m);
        if (hit) total += Number(hit[1]);
        if (hit && k === 1) mine = Number(hit[1]);
      }
      if (total !== LINES) await sleep(100);
    }
    check(total === LINES, "the three nodes' events in add up to the " + LINES + " lines written");
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    await page.goto("http://127.0.0.1:" + node + "/");
    await page.waitForFunction((n) => document.querySelector("#events-in")?.textContent === String(n),
      mine, { timeout: 20000 });
    check(true, "node 1's page shows its " + mine + " events in, as its /metrics does");
    check((await page.locator("#jobs tbody tr td").first().textContent()).includes("(node-1's part)"),
      "the job list says it is node 1's part of the job");
    check((await page.locator("#node-name").textContent()) === "node-1", "the outbox panel names the node");
    const peers = await page.locator("#outboxes tbody tr").evaluateAll((rs) => rs.map((r) => r.dataset.peer));
    check(peers.includes("0") && peers.includes("2") && !peers.includes("1"),
      "its outboxes go to nodes 0 and 2: " + JSON.stringify(peers));
    const toPeers = await page.locator('#graph g[data-node="peers"]').textContent();
    check(/\d+ frames queued/.test(toPeers) && /back-pressure \d+\.\d\d s/.test(toPeers),
      "the node's graph shows what waits for its peers and its back-pressure: " + toPeers);
    await page.screenshot({ path: path.join(dir, "ui-node.png"), fullPage: true });
    await page.click("#stop");
    await page.waitForFunction(() => (document.querySelector("#notice")?.textContent || "").startsWith("refused"),
      null, { timeout: 10000 });
    check((await page.locator("#notice").textContent()).includes("where it was submitted"),
      "Stop on a node's page is refused, saying where to stop the job");
    await page.close();
    child.stdin.end();
    const to = setTimeout(() => child.kill("SIGKILL"), 120000);
    const ex = await exited;
    clearTimeout(to);
    check(ex.code === 0, "the end of input ends the 3-node job with exit status 0 (" + JSON.stringify(ex) + ")");
    const out = fs.readFileSync(path.join(dir, "out3.csv"), "utf8").trim().split("\n");
    check(out.length === ADS + 1 && out.slice(1).every((l) => Number(l.split(",")[1]) === imp[Number(l.split(",")[0].slice(3))]),
      "every row of the 3-node job equals the script's own counts");
  } finally {
    if (child.exitCode === null) { child.stdin.end(); child.kill("SIGTERM"); }
    if (stderr.includes("error")) console.log(stderr);
  }
}

main().then(() => console.log("browser_ui: all checks passed"),
  (e) => { console.error(e.stack || String(e)); process.exitCode = 1; });
