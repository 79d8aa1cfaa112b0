// The web UI in a real browser: Debian's chromium, headless, driven by playwright-core, loads the
// UI of a running `sluice run --metrics 127.0.0.1:0` whose input (a pipe this script holds open)
// it wrote itself. The page must show the job's real figures (events in, malformed lines with
// their line numbers, keys in the table, the device, the graph's PE), equal to /metrics and to
// the script's own counts; its Stop button must end the run with exit status 0 and final rows
// equal to those counts. A screenshot of the page goes to BUILD_DIR/browser/ui.png.
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
  } finally {
    if (browser) await browser.close();
    child.stdin.end();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

main().then(() => console.log("browser_ui: all checks passed"),
  (e) => { console.error(e.stack || String(e)); process.exitCode = 1; });
