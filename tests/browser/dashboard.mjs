// Drives the Updraft dashboard in Debian's Chromium (playwright-core), for
// crates/updraft-cli/tests/dashboard.rs, which starts the server, seeds it
// with the CLI and simulated devices, and reads this script's output.
//
// Input (environment): UPDRAFT_BASE, UPDRAFT_APP, UPDRAFT_ADMIN_KEY,
// UPDRAFT_READ_KEY, UPDRAFT_DEVICE (a device id), UPDRAFT_ARTIFACTS (where
// screenshots go), UPDRAFT_EXPECT (JSON: the numbers the pages must show).
// When the test must act between two steps, the script prints `WAIT <what>`
// and reads one line from stdin. It ends with `OK` or exits non-zero.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env("UPDRAFT_BASE");
const app = env("UPDRAFT_APP");
const adminKey = env("UPDRAFT_ADMIN_KEY");
const readKey = env("UPDRAFT_READ_KEY");
const deviceId = env("UPDRAFT_DEVICE");
const artifacts = env("UPDRAFT_ARTIFACTS");
const expect = JSON.parse(env("UPDRAFT_EXPECT"));
mkdirSync(artifacts, { recursive: true });

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function wait(what) {
  console.log(`WAIT ${what}`);
  const { value, done } = await lines.next();
  if (done || value.trim() !== "go") throw new Error(`the test did not answer ${what}: ${value}`);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const browser = await chromium.launch({
  executablePath: process.env.UPDRAFT_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
const context = await browser.newContext({ viewport: DESKTOP });
const page = await context.newPage();
page.on("dialog", (d) => d.accept());
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
// The two refusals this script asks for are the only failed loads allowed.
const expectedFailures = [
  ["status of 401", "/ui/signin"],
  ["status of 403", "/rollout/resume"],
];
page.on("console", (m) => {
  if (m.type() !== "error") return;
  const where = m.location().url || "";
  if (expectedFailures.some(([what, url]) => m.text().includes(what) && where.includes(url))) return;
  problems.push(`console error: ${m.text()} (${where})`);
});

const shots = [];
// Every page: no serious accessibility violation (axe-core), nothing wider
// than a phone's screen, and a screenshot at desktop and at phone width.
async function inspect(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(
    serious.length === 0,
    `${name}: accessibility violations: ${JSON.stringify(serious.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target) })))}`,
  );
  await page.screenshot({ path: `${artifacts}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize(PHONE);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `${name}: the page is ${overflow} px wider than a phone's screen`);
  await page.screenshot({ path: `${artifacts}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(DESKTOP);
  shots.push(name);
}

const text = async (selector) => (await page.locator(selector).first().innerText()).trim();
const path = () => new URL(page.url()).pathname;

async function signIn(key) {
  await page.goto(`${base}/`);
  check(path() === "/ui/signin", `not sent to sign in: ${page.url()}`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState();
}

try {
  // Sign-in: a wrong key is refused, on the form, with a message.
  await page.goto(`${base}/`);
  check(path() === "/ui/signin", `/ should lead to the sign-in page, not ${page.url()}`);
  await inspect("signin");
  await page.getByLabel("API key").fill("upd_not-a-key");
  const refused = page.waitForResponse((r) => r.url().endsWith("/ui/signin") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Sign in" }).click();
  check((await refused).status() === 401, "a wrong key should be refused with 401");
  check((await text("#signin-error")).includes("not valid"), "the refusal should say the key is not valid");

  // The apps list and the app's overview, with the seeded numbers.
  await signIn(adminKey);
  check(path() === "/ui/", `signed in, the apps list: ${page.url()}`);
  await inspect("apps");
  await page.locator("tr", { hasText: app }).getByRole("link").click();
  await page.waitForLoadState();
  const card = page.locator("section.card", { has: page.getByRole("link", { name: "production", exact: true }) });
  check((await card.innerText()).includes(expect.stable), "the production card names its bundle");
  check(
    (await card.locator('[data-stat="installed"]').innerText()) === String(expect.devices),
    `the production card counts ${expect.devices} installs in 24 h`,
  );
  await inspect("app");

  // Create a channel from the overview.
  await page.getByText("Create a channel").click();
  await page.getByLabel("Name").fill("qa");
  await page.getByRole("button", { name: "Create channel" }).click();
  await page.waitForLoadState();
  check((await text("h1")) === "Channel qa", `the new channel's page: ${await text("h1")}`);

  // Start a rollout of the uploaded bundle on production.
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}/channels/production`);
  await page.getByText("Start a staged rollout").click();
  await page.getByLabel("Candidate bundle").selectOption(expect.candidate);
  await page.getByLabel("Steps, in percent of devices").fill("100");
  await page.getByLabel("Minutes per step").fill("60");
  await page.getByRole("button", { name: "Start rollout" }).click();
  await page.waitForLoadState();
  check((await text("#rollout .badge")) === "running", "the rollout runs");
  check((await text('#rollout [data-stat="percent_now"]')) === "100.0", "at 100 % of devices");

  // The devices update to the candidate; the release's numbers and chart follow.
  await wait("devices");
  await page.reload();
  const stage = async (s) => (await text(`#funnel tr[data-stage="${s}"] td`)).trim();
  check((await stage("installed")) === String(expect.devices), `installed: ${await stage("installed")}`);
  check((await stage("ready")) === String(expect.devices), `ready: ${await stage("ready")}`);
  check((await text('#release [data-stat="failure_rate"]')) === "0.0 %", "no failure");
  const bars = await page.locator("#adoption-chart [data-value]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value"))));
  check(bars.length > 0 && Math.max(...bars) === expect.devices, `the adoption chart reaches ${expect.devices}: ${bars}`);
  const csv = await page.evaluate(async (href) => (await fetch(href)).text(), await page.locator("a#adoption-chart-csv").getAttribute("href"));
  check(csv.trim().split("\n").pop().endsWith(`,${expect.devices}`), `the CSV ends with ${expect.devices}: ${csv}`);
  await inspect("channel");

  // The app's statistics put the releases side by side.
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}/stats`);
  const installed = await text(`#releases tr[data-bundle="${expect.candidate}"] [data-stat="installed"]`);
  check(installed === String(expect.devices), `statistics: ${expect.candidate} installed on ${installed}`);
  const curves = await page.locator("figure.chart").count();
  check(curves >= 2, `one adoption chart per bundle: ${curves}`);
  const perHour = await page.locator("#checks-chart [data-value]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value"))));
  const checks = perHour.reduce((a, b) => a + b, 0);
  check(checks === expect.checks, `update checks per hour add up to ${expect.checks}: ${checks}`);
  await inspect("stats");

  // Pause it.
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}/channels/production`);
  await page.getByRole("button", { name: "Pause" }).click();
  await page.waitForLoadState();
  check((await text("#rollout .badge")) === "paused", "paused");

  // Find a device by the beginning of its id and read why it gets what it gets.
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}`);
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByLabel("Device id or custom id (or their beginning)").fill(deviceId.slice(0, 8));
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForLoadState();
  await page.getByRole("link", { name: deviceId }).click();
  await page.waitForLoadState();
  check((await text("#device-bundle")) === expect.candidate, "the device runs the candidate");
  const trace = await page.locator("#trace li").allInnerTexts();
  check(trace.length >= 2, `an explain trace: ${trace}`);
  check(trace.some((l) => l.includes("rollout")), `the trace mentions the rollout: ${trace}`);
  check((await text("#outcome")).includes("production"), "through the production channel");
  await inspect("device");

  // The audit log names what this session did.
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}`);
  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Kind (channel.updated, or a prefix such as rollout.)").fill("rollout.");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForLoadState();
  const kinds = await page.locator("table tbody tr td:nth-child(2)").allInnerTexts();
  check(kinds.includes("rollout.paused") && kinds.includes("rollout.started"), `the audit log: ${kinds}`);
  await inspect("audit");

  // A webhook: added (its secret shown once), tested (the result on the page).
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}/webhooks`);
  await page.getByLabel("URL (https)").fill("https://hooks.example.invalid/updraft");
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.waitForLoadState();
  check((await text("#webhook-secret")).length > 20, "the webhook's secret is shown once");
  await page.getByRole("button", { name: /Send a test/ }).click();
  await page.waitForLoadState();
  check((await text("#test-result")).includes("failed"), `a test to an unreachable host fails: ${await text("#test-result")}`);
  await inspect("webhooks");

  // Create a key (its secret shown once), then revoke it.
  await page.goto(`${base}/ui/keys`);
  await page.getByLabel("Name").fill("ci-temporary");
  await page.getByLabel("Mode").selectOption("upload");
  await page.getByRole("button", { name: "Create key" }).click();
  await page.waitForLoadState();
  check((await text("#new-secret")).startsWith("upd_"), "the new key's secret is shown");
  check((await page.locator("#keys tr", { hasText: "ci-temporary" }).count()) === 1, "listed");
  await inspect("keys");
  await page.getByRole("button", { name: "Revoke ci-temporary" }).click();
  await page.waitForLoadState();
  check((await page.locator("#keys tr", { hasText: "ci-temporary" }).count()) === 0, "revoked");

  // Sign out: the session is over.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForLoadState();
  check(path() === "/ui/signin", "signed out");
  await page.goto(`${base}/ui/`);
  check(path() === "/ui/signin", "no page without a session");

  // A read-only key sees everything and can change nothing.
  await signIn(readKey);
  await page.goto(`${base}/ui/apps/${encodeURIComponent(app)}/channels/production`);
  check((await page.getByRole("button", { name: "Resume" }).count()) === 0, "no rollout action for a read key");
  check((await page.getByRole("button", { name: "Deploy" }).count()) === 0, "no deploy for a read key");
  const status = await page.evaluate(async (a) => {
    const csrf = document.querySelector('input[name="_csrf"]').value;
    const r = await fetch(`/ui/apps/${encodeURIComponent(a)}/channels/production/rollout/resume`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf }),
    });
    return r.status;
  }, app);
  check(status === 403, `a read key's write is refused with 403, not ${status}`);
  await page.reload();
  check((await text("#rollout .badge")) === "paused", "still paused");
  await inspect("channel-read-only");

  check(problems.length === 0, problems.join("\n"));
  console.log(`OK ${JSON.stringify({ screenshots: shots })}`);
} catch (e) {
  await page.screenshot({ path: `${artifacts}/failure.png`, fullPage: true }).catch(() => {});
  console.error(`FAILED at ${page.url()}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
process.exit(process.exitCode ?? 0);
