// Drives otad's operator page in Debian's Chromium for web_ui_test.cc,
// which has started otad and made the fleet and campaigns asserted here.
//
//   node web_ui_check.mjs BASE_URL CAMPAIGN_ID DRAFT_ID OUTPUT_DIR PROFILE_DIR TOKEN
//
// otad checks access: the page first shows the refusal, then the operator
// enters TOKEN (an OPERATOR bearer token) in the page's token field.
//
// Prints "ui: watching" when the campaign page is open (the caller then
// changes a deployment, which must appear live) and "ui: passed" at the end;
// a failed check prints "ui: FAILED" and exits 1. Screenshots go to
// OUTPUT_DIR.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [base, campaignId, draftId, outputDir, profileDir, token] = process.argv.slice(2);

// Polls `read` until it returns `expected` (deep equality); then asserts,
// so a timeout reports the last value seen.
async function eventually(what, read, expected, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let actual;
  for (;;) {
    actual = await read();
    try {
      assert.deepEqual(actual, expected);
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        e.message = `${what}: ${e.message}`;
        throw e;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The legend under a progress bar: {"SUCCEEDED": 1, ..., "TOTAL": 5}.
const legend = (page, selector) => page.$$eval(`${selector} .legend [data-state]`,
  (items) => Object.fromEntries(items.map((i) => [i.dataset.state, Number(i.dataset.count)])));
const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());

async function campaignsList(page) {
  await page.goto(`${base}/`);
  const row = `#campaigns tr[data-campaign-id="${campaignId}"]`;
  const draft = `#campaigns tr[data-campaign-id="${draftId}"]`;
  await page.waitForSelector(row);
  assert.equal(await page.$$eval("#campaigns tbody tr", (r) => r.length), 2);
  assert.equal(await text(page, `${row} .name`), "spring-rollout");
  assert.equal(await text(page, `${row} [data-field=state]`), "ACTIVE");
  assert.equal(await text(page, `${row} [data-field=wave]`), "2 of 2");
  assert.equal(await text(page, `${row} [data-field=targeted]`), "5");
  assert.deepEqual(await legend(page, row),
    { SUCCEEDED: 1, DOWNLOADING: 1, NOTIFIED: 1, FAILED: 1, ROLLED_BACK: 1, TOTAL: 5 });
  assert.deepEqual(
    await page.$$eval(`${row} .wave-bar .bar`, (bars) => bars.map((b) => b.getAttribute("aria-label"))),
    ["wave 1 1 succeeded, 1 failed", "wave 2 1 downloading, 1 notified, 1 rolled_back"]);
  assert.equal(await text(page, `${draft} .name`), "summer-draft");
  assert.equal(await text(page, `${draft} [data-field=state]`), "DRAFT");
  assert.equal(await text(page, `${draft} [data-field=wave]`), "—");
  assert.equal(await text(page, `${draft} [data-field=targeted]`), "1");
  assert.deepEqual(await legend(page, draft), { TOTAL: 1 });
  await page.screenshot({ path: `${outputDir}/campaigns.png`, fullPage: true });
}

async function devicesList(page) {
  await page.click("nav a[data-nav=devices]");
  await page.waitForSelector('#devices tr[data-device-id="gw-6"]');
  assert.equal(await text(page, "#device-count"), "6 devices");
  const devices = await page.$$eval("#devices tbody tr", (rows) => rows.map((r) => ({
    id: r.dataset.deviceId,
    online: r.querySelector("[data-field=online]").textContent,
    version: r.querySelector("[data-field=version]").textContent,
    sequence: r.querySelector("[data-field=sequence]").textContent,
    attributes: [...r.querySelectorAll("[data-attribute]")].map((a) => a.textContent),
    deployment: r.querySelector("[data-field=deployment] .badge")?.textContent ?? "",
    campaign: r.querySelector("[data-field=deployment] a")?.textContent ?? "",
  })));
  const eu = (cell) => [`cell=${cell}`, "region=eu"];
  assert.deepEqual(devices, [
    { id: "gw-1", online: "online", version: "2.0.0", sequence: "seq 2", attributes: eu("c1"), deployment: "SUCCEEDED", campaign: "spring-rollout" },
    { id: "gw-2", online: "online", version: "1.0.0", sequence: "seq 1", attributes: eu("c1"), deployment: "FAILED", campaign: "spring-rollout" },
    { id: "gw-3", online: "online", version: "1.0.0", sequence: "seq 1", attributes: eu("c2"), deployment: "DOWNLOADING", campaign: "spring-rollout" },
    { id: "gw-4", online: "online", version: "1.0.0", sequence: "seq 1", attributes: eu("c2"), deployment: "ROLLED BACK", campaign: "spring-rollout" },
    { id: "gw-5", online: "online", version: "1.0.0", sequence: "seq 1", attributes: eu("c3"), deployment: "NOTIFIED", campaign: "spring-rollout" },
    { id: "gw-6", online: "offline", version: "1.0.0", sequence: "seq 1", attributes: ["cell=c9", "region=us"], deployment: "", campaign: "" },
  ]);
  await page.screenshot({ path: `${outputDir}/devices.png`, fullPage: true });

  // A filter narrows the list; one that does not parse shows the gateway's error.
  await page.fill("#device-filter", 'attr.cell == "c2"');
  await page.press("#device-filter", "Enter");
  await eventually("filtered devices",
    () => page.$$eval("#devices tbody tr", (rows) => rows.map((r) => r.dataset.deviceId)), ["gw-3", "gw-4"]);
  assert.equal(await text(page, "#device-count"), "2 devices");
  await page.fill("#device-filter", "attr.cell ==");
  await page.press("#device-filter", "Enter");
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await text(page, "#error"), 'INVALID_ARGUMENT: filter: at 12: expected a value after "==", found end of input');
}

async function campaignDetail(page) {
  await page.goto(`${base}/#/campaigns/${campaignId}`);
  await page.waitForSelector('#live[data-mode="stream"]');
  assert.equal(await text(page, "h2"), "spring-rollout");
  assert.equal(await text(page, "#campaign-state"), "ACTIVE");
  assert.equal(await page.isEnabled("#pause-button"), true);
  assert.equal(await page.isEnabled("#resume-button"), false);
  assert.equal(await page.isEnabled("#stop-button"), true);
  assert.deepEqual(await legend(page, "#progress"),
    { SUCCEEDED: 1, DOWNLOADING: 1, NOTIFIED: 1, FAILED: 1, ROLLED_BACK: 1, TOTAL: 5 });
  assert.deepEqual(await legend(page, '#waves tr[data-wave="1"]'), { SUCCEEDED: 1, FAILED: 1, TOTAL: 2 });
  assert.deepEqual(await legend(page, '#waves tr[data-wave="2"]'),
    { DOWNLOADING: 1, NOTIFIED: 1, ROLLED_BACK: 1, TOTAL: 3 });
  assert.deepEqual(
    await page.$$eval("#failure-reasons tbody tr", (rows) => rows.map((r) => r.textContent)),
    ["INSTALL_FAILED1", "HEALTH_CHECK_FAILED1"]);
  const deployments = () => page.$$eval("#deployments tbody tr", (rows) => rows.map((r) => [
    r.dataset.deviceId, r.querySelector("[data-field=state]").textContent,
    r.querySelector("[data-field=reason]").textContent]));
  await eventually("deployments", deployments, [
    ["gw-1", "SUCCEEDED", ""], ["gw-2", "FAILED", "INSTALL_FAILED"], ["gw-3", "DOWNLOADING", ""],
    ["gw-4", "ROLLED BACK", "HEALTH_CHECK_FAILED"], ["gw-5", "NOTIFIED", ""]]);

  // gw-3 succeeds while the page is open: the stream brings it.
  console.log("ui: watching");
  await eventually("live progress", () => legend(page, "#progress"),
    { SUCCEEDED: 2, NOTIFIED: 1, FAILED: 1, ROLLED_BACK: 1, TOTAL: 5 });
  await eventually("live deployments", deployments, [
    ["gw-1", "SUCCEEDED", ""], ["gw-2", "FAILED", "INSTALL_FAILED"], ["gw-3", "SUCCEEDED", ""],
    ["gw-4", "ROLLED BACK", "HEALTH_CHECK_FAILED"], ["gw-5", "NOTIFIED", ""]]);
  assert.equal(await page.getAttribute("#live", "data-mode"), "stream");

  // Pause, with a reason: the page and the REST API agree.
  await page.fill("#action-reason", "checking the rollback");
  await page.click("#pause-button");
  await eventually("state after pause", () => text(page, "#campaign-state"), "PAUSED");
  assert.equal(await text(page, "#state-reason"), "checking the rollback");
  assert.equal(await page.isEnabled("#pause-button"), false);
  assert.equal(await page.isEnabled("#resume-button"), true);
  assert.equal(await page.isEnabled("#stop-button"), true);
  const response = await fetch(`${base}/v1/campaigns/${campaignId}`,
    { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  const campaign = await response.json();
  assert.equal(campaign.state, "CAMPAIGN_STATE_PAUSED");
  assert.equal(campaign.stateReason, "checking the rollback");
  assert.equal(await page.isHidden("#error"), true);

  // A browser without EventSource polls instead; what it changes reaches
  // the first page over its stream.
  const polling = await page.context().newPage();
  await polling.addInitScript((t) => {
    delete window.EventSource;
    sessionStorage.setItem("ota.token", t);  // a new tab: the token entered once more
  }, token);
  await polling.goto(`${base}/#/campaigns/${campaignId}`);
  await polling.waitForSelector('#live[data-mode="polling"]');
  assert.equal(await text(polling, "#campaign-state"), "PAUSED");
  await polling.click("#resume-button");
  await eventually("state after resume", () => text(polling, "#campaign-state"), "ACTIVE");
  await eventually("resume seen live", () => text(page, "#campaign-state"), "ACTIVE");
  assert.equal(await page.getAttribute("#live", "data-mode"), "stream");
  await polling.close();

  await page.fill("#action-reason", "checking the rollback");
  await page.click("#pause-button");
  await eventually("state after the second pause", () => text(page, "#campaign-state"), "PAUSED");
  await page.screenshot({ path: `${outputDir}/web_ui.png`, fullPage: true });
}

async function signIn(page) {
  await page.goto(`${base}/`);
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await text(page, "#error"),
    "UNAUTHENTICATED: this call needs a bearer token (authorization: Bearer ...)");
  assert.equal(await text(page, "#token-state"), "no token");
  await page.fill("#token-input", token);
  await page.click("#token-form button[type=submit]");
  await eventually("token state", () => text(page, "#token-state"), "token set");
  await eventually("banner after the token", () => page.isHidden("#error"), true);
}

async function unknownCampaign(page) {
  await page.goto(`${base}/#/campaigns/00000000000000000000000000000000`);
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await text(page, "#error"),
    "NOT_FOUND: campaign 00000000000000000000000000000000 does not exist");
  assert.equal(await page.getAttribute("#live", "data-mode"), "error");
}

const context = await chromium.launchPersistentContext(profileDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
let failed = false;
try {
  const page = context.pages()[0] ?? await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page);
  console.log("ui: refused without a token, admitted with one");
  await campaignsList(page);
  console.log("ui: campaigns list ok");
  await devicesList(page);
  console.log("ui: devices list ok");
  await campaignDetail(page);
  console.log("ui: campaign detail, live progress and pause ok");
  await unknownCampaign(page);
  console.log("ui: gateway errors shown");
  assert.deepEqual(pageErrors, []);
} catch (e) {
  failed = true;
  console.error(e);
  console.log(`ui: FAILED ${e.message.split("\n")[0]}`);
} finally {
  await context.close();
}
if (failed) process.exit(1);
console.log("ui: passed");
