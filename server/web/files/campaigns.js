// The campaigns list: each campaign with its state, an overall progress bar
// and one per started wave; refreshed every few seconds.
//
// The list call returns campaigns without their statistics, so each one is
// fetched on its own too; a campaign in a final state no longer changes and
// is fetched once.
import { get, listAll } from "./api.js";
import { fill, h } from "./dom.js";
import { FINAL_CAMPAIGN_STATES, badge, campaignState, progress, unixTime } from "./format.js";

const REFRESH_MS = 3000;

function waveCount(campaign) {
  return Math.max(campaign.policy?.waves?.length || 0, 1);
}

function row(c) {
  const stats = c.stats || {};
  const state = campaignState(c.state);
  return h("tr", { "data-campaign-id": c.campaignId },
    h("td", {}, h("a", { href: `#/campaigns/${c.campaignId}`, class: "name" }, c.name),
      c.description ? h("div", { class: "muted small" }, c.description) : null),
    h("td", { "data-field": "state" }, badge(state, "campaign")),
    h("td", { "data-field": "wave" }, c.currentWave ? `${c.currentWave} of ${waveCount(c)}` : "—"),
    h("td", { "data-field": "targeted", class: "num" }, Number(stats.totalTargeted || 0)),
    h("td", { class: "progress-cell" },
      progress(stats.stateCounts, stats.totalTargeted, { label: "campaign" }),
      (stats.waves || []).map((w) => h("div", { class: "wave-bar", "data-wave": w.wave },
        h("span", { class: "small muted" }, `wave ${w.wave}`),
        progress(w.stateCounts, w.deviceCount, { legend: false, label: `wave ${w.wave}` })))),
    h("td", { class: "small" }, unixTime(c.createdUnix)));
}

export function render(view, { showError }) {
  const body = h("tbody");
  const count = h("span", { class: "muted" });
  fill(view,
    h("div", { class: "title" }, h("h2", {}, "Campaigns"), count),
    h("table", { class: "list", id: "campaigns" },
      h("thead", {}, h("tr", {},
        h("th", {}, "Name"), h("th", {}, "State"), h("th", {}, "Wave"),
        h("th", { class: "num" }, "Devices"), h("th", {}, "Progress"), h("th", {}, "Created"))),
      body));

  let timer = 0;
  let stopped = false;
  const finished = new Map();  // campaign id -> campaign in a final state

  async function withStats(c) {
    if (finished.has(c.campaignId)) return finished.get(c.campaignId);
    const full = await get(`/v1/campaigns/${encodeURIComponent(c.campaignId)}`);
    if (FINAL_CAMPAIGN_STATES.includes(campaignState(full.state))) finished.set(full.campaignId, full);
    return full;
  }

  async function load() {
    try {
      const listed = await listAll("/v1/campaigns", "campaigns", {}, 1000);
      const campaigns = await Promise.all(listed.map(withStats));
      campaigns.sort((a, b) => Number(b.createdUnix) - Number(a.createdUnix) || a.name.localeCompare(b.name));
      if (stopped) return;
      fill(count, `${campaigns.length} campaign${campaigns.length === 1 ? "" : "s"}`);
      fill(body, campaigns.length
        ? campaigns.map(row)
        : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No campaigns yet.")));
      showError(null);
    } catch (e) {
      if (!stopped) showError(e);
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
