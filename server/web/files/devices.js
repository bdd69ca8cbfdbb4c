// The devices list: online state, what each device runs, its attributes
// and its current deployment; optionally narrowed by a filter in the
// device filter language. Refreshed every few seconds.
//
// A device's deployment is the one the registry names: the deployment it
// works on, or the one it last worked on.
import { get, listAll } from "./api.js";
import { fill, h } from "./dom.js";
import { badge, deploymentState, unixTime } from "./format.js";

const REFRESH_MS = 5000;
const PAGE = 100;

function installed(image = {}) {
  const sequence = Number(image.sequenceNumber || 0);
  return h("div", {},
    h("span", { "data-field": "version" }, image.version || "—"),
    h("div", { class: "small muted" },
      h("span", { "data-field": "sequence" }, `seq ${sequence}`),
      image.activeSlot ? `, slot ${image.activeSlot}` : "",
      image.trial ? ", trial" : ""));
}

function attributes(device) {
  const all = { ...(device.attributes || {}), ...(device.assignedAttributes || {}) };
  const names = Object.keys(all).sort();
  if (!names.length) return h("span", { class: "muted" }, "—");
  return names.map((k) => h("span", { class: "chip", "data-attribute": k }, `${k}=${all[k]}`));
}

// campaign id -> name, for the campaign of each device's deployment.
async function campaignNames() {
  const names = new Map();
  for (const c of await listAll("/v1/campaigns", "campaigns", {}, 1000)) {
    names.set(c.campaignId, c.name);
  }
  return names;
}

function row(d, names) {
  // The registry names the deployment the device works on or last worked on.
  const deployment = d.currentDeploymentId
    ? { state: deploymentState(d.currentDeploymentState), campaignId: d.currentCampaignId,
      campaignName: names.get(d.currentCampaignId) || d.currentCampaignId }
    : {};
  return h("tr", { "data-device-id": d.deviceId },
    h("td", {}, d.deviceId, d.clientVersion ? h("div", { class: "small muted" }, `client ${d.clientVersion}`) : null),
    h("td", { "data-field": "online" },
      h("span", { class: d.online ? "online" : "offline" }, d.online ? "online" : "offline")),
    h("td", {}, installed(d.installed)),
    h("td", { "data-field": "attributes" }, attributes(d)),
    h("td", { "data-field": "deployment" }, badge(deployment.state, "deployment"),
      deployment.campaignId
        ? h("div", { class: "small" },
          h("a", { href: `#/campaigns/${deployment.campaignId}` }, deployment.campaignName))
        : null),
    h("td", { class: "small" }, unixTime(d.lastSeenUnix)));
}

export function render(view, { showError }) {
  const filter = h("input", {
    type: "search", id: "device-filter", placeholder: 'filter, e.g. attr.region == "eu"',
    onkeydown: (e) => { if (e.key === "Enter") reload(); },
  });
  const onlineOnly = h("input", { type: "checkbox", id: "online-only", onchange: () => reload() });
  const count = h("span", { class: "muted", id: "device-count" });
  const body = h("tbody");
  const moreButton = h("button", { type: "button", hidden: true, onclick: () => load(true) }, "Show more");
  fill(view,
    h("div", { class: "title" }, h("h2", {}, "Devices"), count),
    h("form", { class: "actions", onsubmit: (e) => { e.preventDefault(); reload(); } },
      filter, h("label", {}, onlineOnly, " online only"), h("button", { type: "submit" }, "Apply")),
    h("table", { class: "list", id: "devices" },
      h("thead", {}, h("tr", {}, h("th", {}, "Device"), h("th", {}, "Online"), h("th", {}, "Installed"),
        h("th", {}, "Attributes"), h("th", {}, "Deployment"), h("th", {}, "Last seen"))),
      body),
    moreButton);

  let stopped = false;
  let timer = 0;
  let nextPageToken = "";
  let pages = 1;

  async function load(more) {
    clearTimeout(timer);
    try {
      const [page, names] = await Promise.all([
        get("/v1/devices", {
          filter: filter.value.trim(),
          onlineOnly: onlineOnly.checked ? "true" : "",
          pageSize: PAGE,
          pageToken: more ? nextPageToken : "",
        }),
        campaignNames(),
      ]);
      if (stopped) return;
      const rows = (page.devices || []).map((d) => row(d, names));
      if (more) {
        body.append(...rows);
        pages++;
      } else {
        pages = 1;
        fill(body, rows.length ? rows : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No devices.")));
      }
      const total = Number(page.totalSize || 0);
      fill(count, `${total} device${total === 1 ? "" : "s"}`);
      nextPageToken = page.nextPageToken || "";
      moreButton.hidden = !nextPageToken;
      showError(null);
    } catch (e) {
      if (stopped) return;
      showError(e);
      if (!more) fill(body);
      fill(count, "");
    }
    // Only the first page refreshes by itself, so rows fetched with "Show
    // more" do not jump around.
    if (!stopped && pages === 1) timer = setTimeout(() => load(false), REFRESH_MS);
  }
  function reload() {
    load(false);
  }
  reload();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
