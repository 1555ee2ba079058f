// The workbench in a real browser (Debian's chromium driven by playwright-core):
// a user imports a model and two data sets, sets preprocessing, creates a
// project, runs a baseline, calibrates on a separate set, compares the INT8
// model with its parent layer by layer, downloads the model, cancels a running
// job, and the page stays usable at 1280x800 and at 390 pixels wide.
// Every figure the page shows is checked against the REST API's answer.
//
// usage: node workbench_browser.mjs CALIBR8_BINARY SHARED_DIR OUT_DIR
// Exit 0 = passed; any failed check prints one line naming it and exits 1.
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../scripts/browser/package.json"));

const [exe, shared, outDir] = process.argv.slice(2);
if (!exe || !shared || !outDir) { console.error("usage: workbench_browser.mjs CALIBR8 SHARED_DIR OUT_DIR"); process.exit(2); }
const chromiumPath = process.env.C8_CHROMIUM || "/usr/bin/chromium";
const model = path.join(shared, "models/mobilenet_v1_0.25_224.onnx");
const images = path.join(shared, "data/imagenet-sample-500");
// Skipped (exit 77, ctest's SKIP_RETURN_CODE) only when the browser is not installed: scripts/test.sh installs it.
if (!fs.existsSync(chromiumPath) || !fs.existsSync(path.join(here, "../../scripts/browser/node_modules/playwright-core"))) {
  console.error(`workbench_browser: skipped: ${chromiumPath} or playwright-core is not installed (C8_WITH_BROWSER=1 bash scripts/setup.sh)`);
  process.exit(77);
}
for (const f of [model, images])
  if (!fs.existsSync(f)) { console.error(`workbench_browser: ${f} is missing (../shared holds it)`); process.exit(1); }

let failures = 0;
function check(ok, what) {
  if (ok) console.log("ok   " + what);
  else { console.log("FAIL " + what); failures++; }
}

// Two data sets as archives: 8 labelled images, and 400 other images without
// labels (a calibration set large enough for its progress bar to move).
const work = fs.mkdtempSync(path.join(os.tmpdir(), "c8-browser-"));
const labels = fs.readFileSync(path.join(images, "labels.txt"), "utf8").split("\n").filter(Boolean);
function archive(name, lines, withLabels) {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, "images"), { recursive: true });
  for (const l of lines) {
    const file = l.split(/\s+/)[0];
    fs.copyFileSync(path.join(images, file), path.join(dir, file));
  }
  if (withLabels) fs.writeFileSync(path.join(dir, "labels.txt"), lines.join("\n") + "\n");
  const out = path.join(work, name + ".tar.gz");
  execFileSync("tar", ["czf", out, "-C", dir, "."]);
  return out;
}
if (!labels[0].split(/\s+/)[0].includes("/")) { console.error("workbench_browser: labels.txt entries are not under a folder"); process.exit(1); }
const labelled = archive("val8", labels.slice(0, 8), true);
const unlabelled = archive("calib400", labels.slice(100, 500), false);

// The server, on a free port it prints.
const server = spawn(exe, ["serve", "--port", "0", "--data-dir", path.join(work, "data")], { stdio: ["ignore", "pipe", "inherit"] });
const base = await new Promise((resolve, reject) => {
  let text = "";
  server.stdout.on("data", (d) => {
    text += d;
    const m = text.match(/on (http:\/\/127\.0\.0\.1:\d+)/);
    if (m) resolve(m[1]);
  });
  server.on("exit", (code) => reject(new Error("calibr8 serve exited with " + code)));
  setTimeout(() => reject(new Error("calibr8 serve printed no address in 20 s")), 20000);
});
const api = async (p) => (await fetch(base + p)).json();
// The server never outlives the test, however the test ends (its inherited
// stderr would keep ctest waiting).
process.on("exit", () => server.kill("SIGKILL"));

const errors = [];
let browser = null, page = null;
try {
  const { chromium } = require("playwright-core");
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu"] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await ctx.newPage();
  page.on("pageerror", (e) => errors.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.setDefaultTimeout(120000);
  await page.goto(base + "/");
  const tab = (name) => page.click(`nav button[data-tab="${name}"]`);

  // 1. Import a model: validated, listed with its inputs, weights and size.
  await page.setInputFiles("#model-file", model);
  await page.click("#model-upload");
  await page.waitForSelector("#models td:text-is('mobilenet_v1_0.25_224.onnx')");
  const row = await page.textContent("#models tr:nth-child(2)");
  check(row.includes("ready") && row.includes("FP32") && row.includes("[1,3,224,224]") && row.includes("1.8 MB"),
        "model row shows state, FP32 weights, input shape and size: " + row.replace(/\s+/g, " "));
  // A broken upload: one line naming the file, nothing listed.
  fs.writeFileSync(path.join(work, "broken.onnx"), "not a model");
  await page.setInputFiles("#model-file", path.join(work, "broken.onnx"));
  await page.click("#model-upload");
  await page.waitForSelector("#status.err");
  check((await page.textContent("#status")).includes("broken.onnx"), "a broken model is refused with a message naming it");
  check((await page.$$("#models tr")).length === 2, "the broken model is not listed");
  const refused = errors.splice(0).filter((e) => !e.includes("status of 400"));  // the refusal itself is expected
  errors.push(...refused);

  // Preprocessing, stored with the model (the CLI's keys).
  await page.click("[data-pre='1']");
  await page.fill("#pre-size", "224x224");
  await page.fill("#pre-mean", "127.5");
  await page.fill("#pre-std", "127.5");
  await page.fill("#pre-label-offset", "1");
  await page.click("#pre-save");
  await page.waitForSelector("#status:has-text('preprocessing saved')");
  const m1 = await api("/api/models/1");
  check(m1.preprocess.size === "224x224" && m1.preprocess.mean === "127.5" && m1.preprocess.label_offset === 1,
        "preprocessing saved through the page: " + JSON.stringify(m1.preprocess));

  // 2. Import the validation set: format, count, annotation, task and thumbnails shown.
  await tab("datasets");
  await page.setInputFiles("#dataset-file", labelled);
  await page.click("#dataset-upload");
  await page.waitForSelector(`#datasets td:text-is('${path.basename(labelled)}')`);
  const dsRow = (await page.textContent("#datasets tr:nth-child(2)"));
  check(["labels.txt", "8", "yes", "classify"].every((t) => dsRow.includes(t)), "labelled set: " + dsRow);

  // 3. A project and its baseline.
  await tab("projects");
  await page.selectOption("#project-model", "1");
  await page.selectOption("#project-dataset", "1");
  await page.click("#project-create");
  await page.waitForSelector("#project h2:has-text('Project 1')");
  await page.click("#b-run");
  await page.waitForSelector("#project-summary:has-text('latency')");
  let p1 = await api("/api/projects/1");
  const base1 = p1.jobs.find((j) => j.kind === "baseline" && j.state === "done");
  const top1 = (base1.result.accuracy.top1 * 100).toFixed(2);
  check((await page.textContent("#project-summary")).includes(top1 + " %"), `baseline top-1 ${top1} % shown as the API reports it`);

  // 4. Optimize: the warning follows the calibration set; AccuracyAware allowed on a labelled set.
  check((await page.textContent("#c-warn")).includes("validation data set"), "warned when calibrating on the validation set");
  check(!(await page.$eval("#c-method option[value='accuracy-aware']", (o) => o.disabled)), "AccuracyAware offered for a labelled set");
  // A separate calibration set, imported from the settings themselves: selected at once, no warning.
  await page.setInputFiles("#c-calib-file", unlabelled);
  await page.waitForSelector("#status:has-text('as calibration data set 2')");
  check((await page.$eval("#c-calib", (s) => s.value)) === "2", "the imported calibration set is selected");
  check((await page.textContent("#c-warn")) === "", "no warning for a separate calibration set");

  // 5. Calibrate: a new project appears at once and follows the job to its end,
  // its progress bar moving (sampled every 20 ms while the job runs).
  await page.evaluate(() => {
    window.__seen = [];
    window.__sampler = setInterval(() => {
      const bar = document.querySelector("#jobs progress[value]");
      if (bar) window.__seen.push([bar.parentElement.innerText.trim(), +bar.value, +bar.max]);
    }, 20);
  });
  await page.click("#c-run");
  await page.waitForSelector("#project h2:has-text('Project 2')");
  check((await page.textContent("#project h2")).includes("int8"), "the calibrated model's project opens at once");
  // A screenshot while the bar shows a count, when the page is quick enough to catch one.
  await page.waitForSelector("#jobs progress[value]", { timeout: 20000 })
    .then(() => page.screenshot({ path: path.join(outDir, "workbench-progress.png") }), () => {});
  await page.waitForSelector("#jobs tr[data-job] td.state:text-is('done')", { timeout: 300000 });
  const seen = await page.evaluate(() => { clearInterval(window.__sampler); return window.__seen; });
  const steps = new Map();  // step label -> distinct values seen
  for (const [text, v, max] of seen) {
    const step = text.replace(/\s*\d+\/\d+$/, "");
    if (!steps.has(step)) steps.set(step, new Set());
    steps.get(step).add(v + "/" + max);
  }
  const moved = [...steps.entries()].filter(([, vals]) => vals.size >= 2).map(([k, vals]) => `${k}: ${[...vals].join(", ")}`);
  check(moved.length >= 1, "the progress bar moved within a stage: " + (moved.join("; ") || JSON.stringify(seen.slice(0, 5))));
  await page.waitForSelector("#vs-parent svg");
  const p2 = await api("/api/projects/2");
  const cal = p2.jobs.find((j) => j.kind === "calibrate");
  check(cal.state === "done" && cal.params.calibration_dataset_id === 2, "calibrated on the separate set: " + cal.state);
  check(cal.result.calibration.images === 400 && !JSON.stringify(cal.result).includes(path.join(work, "data")),
        "calibration used its 400 images, and the result shows no server path");
  const svgs = await page.$$eval("#vs-parent svg", (s) => s.map((e) => e.getAttribute("aria-label")));
  check(svgs.length === 3, "accuracy, latency and throughput charts against the parent: " + svgs.join(", "));
  check((await page.textContent("#project")).includes("Speedup"), "speedup against the parent shown");
  check((await page.textContent("#why-disabled")).includes("calibration result") && (await page.$eval("#c-run", (b) => b.disabled)),
        "calibration greyed out for a calibration result, with the reason");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#dl-model")]);
  const dl = path.join(work, "dl.onnx");
  await download.saveAs(dl);
  const info = JSON.parse(execFileSync(exe, ["info", dl, "--json"]).toString());
  check(info.ops && info.ops.QuantizeLinear > 0, "the downloaded INT8 model loads in calibr8 info with QuantizeLinear nodes");
  const [rep] = await Promise.all([page.waitForEvent("download"), page.click("#dl-report")]);
  const repFile = path.join(work, "report.json");
  await rep.saveAs(repFile);
  check(JSON.parse(fs.readFileSync(repFile, "utf8")).settings !== undefined, "the calibration report downloads as JSON");

  // Both sets in the data set list, thumbnails decoded.
  await tab("datasets");
  await page.waitForSelector(`#datasets td:text-is('${path.basename(unlabelled)}')`);
  const dsRows = await page.$$eval("#datasets tr", (rs) => rs.slice(1).map((r) => [...r.cells].map((c) => c.textContent.trim())));
  check(JSON.stringify(dsRows[1].slice(0, 6)) === JSON.stringify(["2", "calib400.tar.gz", "image-folder", "400", "no", "-"]),
        "unlabelled set: " + JSON.stringify(dsRows[1].slice(0, 6)));
  await page.waitForFunction(() => [...document.querySelectorAll("#datasets img")].every((i) => i.complete));
  const thumbs = await page.$$eval("#datasets img", (is) => is.map((i) => [i.naturalWidth, i.naturalHeight]));
  check(thumbs.length === 16 && thumbs.every(([w, h]) => w > 0 && h > 0 && Math.max(w, h) <= 96),
        `16 thumbnails (8 per set) decoded, at most 96 px: ${JSON.stringify(thumbs.slice(0, 3))}...`);

  // 6. Compare page: the per-layer table with precisions and errors.
  await tab("compare");
  await page.selectOption("#cmp-a", "1");
  await page.selectOption("#cmp-b", "2");
  await page.click("#cmp-run");
  await page.waitForSelector("#layers tr:nth-child(5)", { timeout: 300000 });
  const layerRows = await page.$$eval("#layers tr", (rs) => rs.slice(1).map((r) => [...r.cells].map((c) => c.innerText)));
  const cmpJob = (await api("/api/projects/2")).jobs.find((j) => j.kind === "compare");
  const apiRows = cmpJob.result.compare.layers.rows;
  check(layerRows.length === apiRows.length && layerRows.length > 20, `per-layer table: ${layerRows.length} rows as the API has`);
  check(layerRows.some((r) => r[2] === "U8") && layerRows.some((r) => r[2] === "FP32"), "per-layer precisions include U8 and FP32");
  check(layerRows[0][4] === apiRows[0].cosine.toFixed(5), "first layer's cosine shown as the API has it");
  const drop = (cmpJob.result.compare.accuracy.drop * 100).toFixed(2);
  check((await page.textContent("#cmp-summary")).includes("drop " + drop + " pt"), "accuracy drop shown: " + drop + " pt");

  // 7. Cancel a running job: a baseline whose benchmark runs 600 s, so the
  // cancel surely finds it running (a 2 s one could end first under load).
  await tab("projects");
  await page.click("[data-open='1']");
  await page.waitForSelector("#project h2:has-text('Project 1')");
  await page.fill("#b-seconds", "600");
  await page.click("#b-run");
  await page.waitForSelector("#jobs td.state:text-is('running')");
  check((await page.$$("#jobs progress")).length === 1, "a running job shows a progress bar");
  await page.click("#jobs [data-cancel]");
  await page.waitForSelector("#jobs td.state:text-is('cancelled')", { timeout: 30000 });
  p1 = await api("/api/projects/1");
  check(p1.jobs[p1.jobs.length - 1].state === "cancelled" && p1.jobs[p1.jobs.length - 1].params.seconds === 600,
        "the job is cancelled in the API too, and had asked for 600 s");

  // A set without labels: AccuracyAware greyed out.
  await page.selectOption("#project-model", "1");
  await page.selectOption("#project-dataset", "2");
  await page.click("#project-create");
  await page.waitForSelector("#project h2:has-text('Project 3')");
  check(await page.$eval("#c-method option[value='accuracy-aware']", (o) => o.disabled), "AccuracyAware greyed out for a set without labels");

  // Usable at 1280x800 and on a narrow window: no page-wide horizontal scroll.
  for (const [w, h] of [[1280, 800], [390, 800]]) {
    await page.setViewportSize({ width: w, height: h });
    for (const t of ["models", "datasets", "projects", "compare"]) {
      await tab(t);
      await page.waitForTimeout(100);
      const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(over <= 0, `${t} at ${w}x${h}: no horizontal overflow (${over} px)`);
    }
    await page.screenshot({ path: path.join(outDir, `workbench-${w}.png`), fullPage: true });
  }
} catch (e) {
  check(false, "flow: " + e.message.split("\n")[0]);
  // What the page and the server showed when the step failed: a failure on
  // a loaded CI machine must be explainable from its log alone.
  try {
    const shown = async (sel) => ((await page?.$(sel)) ? (await page.textContent(sel)).replace(/\s+/g, " ").trim() : "(none)");
    console.log("  status line: " + await shown("#status"));
    console.log("  open project: " + await shown("#project h2"));
    console.log("  jobs table: " + await shown("#jobs"));
    for (const p of await api("/api/projects"))
      console.log(`  API project ${p.id}: ` + p.jobs.map((j) => `job ${j.id} ${j.kind} ${j.state}${j.stage ? " (" + j.stage + ")" : ""}${j.message ? ": " + j.message : ""}`).join("; "));
  } catch (e2) {
    console.log("  (state not readable: " + e2.message.split("\n")[0] + ")");
  }
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  fs.rmSync(work, { recursive: true, force: true });
}
check(errors.length === 0, "no page errors: " + errors.join("; "));
console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
