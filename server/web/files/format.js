// How values from the API are shown: enum names without their prefixes,
// times, byte counts, and the stacked progress bar of deployment states.
import { h } from "./dom.js";

// Deployment states in the order a deployment goes through them; the bar
// and its legend follow this order.
export const DEPLOYMENT_STATES = [
  "SUCCEEDED", "SKIPPED", "REBOOTING", "INSTALLING", "DOWNLOADED", "DOWNLOADING",
  "NOTIFIED", "PENDING", "DEFERRED", "FAILED", "ROLLED_BACK", "REJECTED", "CANCELLED",
];

export const FINAL_CAMPAIGN_STATES = ["COMPLETED", "STOPPED", "AUTO_STOPPED"];

// "CAMPAIGN_STATE_ACTIVE" -> "ACTIVE"; "" for the unspecified value.
export function enumName(value, prefix) {
  const name = String(value || "").replace(prefix, "");
  return name === "UNSPECIFIED" ? "" : name;
}
export const campaignState = (v) => enumName(v, "CAMPAIGN_STATE_");
export const deploymentState = (v) => enumName(v, "DEPLOYMENT_STATE_");
export const reason = (v) => enumName(v, "REASON_");

// A state as a coloured label; `kind` picks the palette.
export function badge(state, kind) {
  if (!state) return h("span", { class: "muted" }, "—");
  return h("span", { class: `badge ${kind}-${state.toLowerCase()}` }, state.replaceAll("_", " "));
}

// Unix seconds (a JSON int64 string) as local date and time; "—" for 0.
export function unixTime(seconds) {
  const s = Number(seconds || 0);
  if (!s) return "—";
  return new Date(s * 1000).toLocaleString();
}

export function bytes(n) {
  const value = Number(n || 0);
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = value;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function percent(ratio) {
  return `${Math.round(Number(ratio || 0) * 100)} %`;
}

// {"SUCCEEDED": 3, ...} from a repeated DeploymentStateCount.
export function countsByState(stateCounts = []) {
  const counts = {};
  for (const c of stateCounts) counts[deploymentState(c.state)] = Number(c.count);
  return counts;
}

// A bar with one segment per deployment state, out of `total` devices
// (the part not yet deployed stays empty), and a legend with the counts.
export function progress(stateCounts, total, { legend = true, label = "" } = {}) {
  const counts = countsByState(stateCounts);
  const deployed = Object.values(counts).reduce((a, b) => a + b, 0);
  const whole = Math.max(Number(total || 0), deployed, 1);
  const states = DEPLOYMENT_STATES.filter((s) => counts[s]);
  const summary = states.map((s) => `${counts[s]} ${s.toLowerCase()}`).join(", ") || "nothing deployed";
  const bar = h("div", { class: "bar", role: "img", "aria-label": `${label} ${summary}`.trim(), title: summary },
    states.map((s) => h("span", {
      class: `seg state-${s.toLowerCase()}`,
      style: { width: `${(100 * counts[s]) / whole}%` },
    })));
  if (!legend) return bar;
  return h("div", { class: "progress", "data-total": Number(total || 0) },
    bar,
    h("ul", { class: "legend" },
      states.map((s) => h("li", { "data-state": s, "data-count": counts[s] },
        h("i", { class: `dot state-${s.toLowerCase()}` }), `${s.toLowerCase().replace("_", " ")} ${counts[s]}`)),
      h("li", { class: "muted", "data-state": "TOTAL", "data-count": Number(total || 0) },
        `of ${Number(total || 0)} device${Number(total) === 1 ? "" : "s"}`)));
}
