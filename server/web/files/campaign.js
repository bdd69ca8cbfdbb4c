// One campaign: its facts, live progress per state and per wave, failure
// reasons, its deployments, and the pause, resume and stop buttons.
//
// Progress comes from the gateway's watch stream as server-sent events;
// when the browser has no EventSource or the stream cannot be held, the
// page polls the campaign instead. The "live" label says which is in use
// (data-mode: stream, polling or final).
import { get, post, stream, streamError } from "./api.js";
import { fill, h } from "./dom.js";
import {
  FINAL_CAMPAIGN_STATES, badge, bytes, campaignState, deploymentState, percent, progress, reason,
  unixTime,
} from "./format.js";

const POLL_MS = 2000;
const DEPLOYMENTS_PAGE = 100;

// Which buttons a campaign in `state` offers, as the API's state machine
// allows them.
const ACTIONS = [
  { verb: "pause", label: "Pause", states: ["ACTIVE"], reason: true },
  { verb: "resume", label: "Resume", states: ["PAUSED"] },
  { verb: "stop", label: "Stop", states: ["SCHEDULED", "ACTIVE", "PAUSED"], reason: true, danger: true },
];

function facts(c) {
  const policy = c.policy || {};
  const sizes = (policy.waves || []).map((w) =>
    w.deviceCount !== undefined ? `${w.deviceCount} devices` : `${w.percent} %`);
  const stats = c.stats || {};
  const rows = [
    ["Campaign id", c.campaignId],
    ["Manifest", c.manifestId],
    ["Device filter", c.deviceFilter || "all devices of the manifest's class"],
    ["Waves", sizes.length ? sizes.join(", then ") : "one wave of every device"],
    ["Success ratio to advance", percent(policy.successRatio || 1)],
    ["Auto-stop above failure ratio", percent(policy.failureRatio)],
    ["Failure ratio now", percent(stats.failureRatio)],
    ["Awaiting a wave", Number(stats.awaitingWave || 0)],
    ["Held by other campaigns", Number(stats.heldElsewhere || 0)],
    ["Created", `${unixTime(c.createdUnix)}${c.createdBy ? ` by ${c.createdBy}` : ""}`],
    ["Started", unixTime(c.startedUnix)],
    ["Finished", unixTime(c.finishedUnix)],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function waves(c) {
  const list = c.stats?.waves || [];
  if (!list.length) return h("p", { class: "muted" }, "No wave has started.");
  return h("table", { class: "list", id: "waves" },
    h("thead", {}, h("tr", {}, h("th", {}, "Wave"), h("th", { class: "num" }, "Devices"),
      h("th", {}, "Progress"), h("th", { class: "num" }, "Succeeded"), h("th", {}, "Started"))),
    h("tbody", {}, list.map((w) => h("tr", { "data-wave": w.wave },
      h("td", {}, w.wave),
      h("td", { class: "num" }, Number(w.deviceCount)),
      h("td", { class: "progress-cell" }, progress(w.stateCounts, w.deviceCount, { label: `wave ${w.wave}` })),
      h("td", { class: "num" }, percent(w.successRatio)),
      h("td", { class: "small" }, unixTime(w.startedUnix))))));
}

function failureReasons(c) {
  const list = c.stats?.failureReasons || [];
  if (!list.length) return h("p", { class: "muted", id: "failure-reasons" }, "No failures.");
  return h("table", { class: "list", id: "failure-reasons" },
    h("thead", {}, h("tr", {}, h("th", {}, "Reason"), h("th", { class: "num" }, "Deployments"))),
    h("tbody", {}, list.map((r) => h("tr", { "data-reason": reason(r.reason) },
      h("td", {}, reason(r.reason) || "UNSPECIFIED"), h("td", { class: "num" }, Number(r.count))))));
}

function conflicts(c) {
  const list = c.conflicts || [];
  if (!list.length) return null;
  return [h("h3", {}, "Devices held by other campaigns"),
    h("ul", {}, list.map((x) => h("li", {},
      h("a", { href: `#/campaigns/${x.campaignId}` }, x.campaignName), `: ${Number(x.deviceCount)} devices`,
      x.sampleDeviceIds?.length ? h("span", { class: "muted" }, ` (${x.sampleDeviceIds.join(", ")})`) : null)))];
}

function deploymentRow(d) {
  const total = Number(d.bytesTotal || 0);
  const done = Number(d.bytesDone || 0);
  return h("tr", { "data-device-id": d.deviceId },
    h("td", {}, d.deviceId),
    h("td", { class: "num" }, d.wave),
    h("td", { "data-field": "state" }, badge(deploymentState(d.state), "deployment")),
    h("td", { "data-field": "reason" }, reason(d.reason)),
    h("td", { class: "small" }, d.message),
    h("td", { class: "small" }, total ? `${bytes(done)} of ${bytes(total)}` : ""),
    h("td", { class: "small" }, d.updatedMs && Number(d.updatedMs) ? new Date(Number(d.updatedMs)).toLocaleString() : "—"));
}

export function render(view, { showError, campaignId }) {
  const path = `/v1/campaigns/${encodeURIComponent(campaignId)}`;
  const title = h("h2", {}, campaignId);
  const state = h("span");
  const stateReason = h("span", { class: "muted", id: "state-reason" });
  const live = h("span", { class: "live", id: "live", "data-mode": "connecting" }, "connecting…");
  const reasonInput = h("input", { type: "text", id: "action-reason", placeholder: "reason (for pause and stop)" });
  const buttons = ACTIONS.map((a) => h("button", {
    type: "button", id: `${a.verb}-button`, class: a.danger ? "danger" : "", disabled: true,
    onclick: () => act(a),
  }, a.label));
  const overall = h("section", { id: "progress" });
  const factsBox = h("section", { id: "facts" });
  const wavesBox = h("section", {});
  const reasonsBox = h("section", {});
  const conflictsBox = h("section", {});
  const deploymentsBody = h("tbody");
  const moreButton = h("button", { type: "button", hidden: true, onclick: () => loadDeployments(true) }, "Show more");

  fill(view,
    h("p", {}, h("a", { href: "#/campaigns" }, "← Campaigns")),
    h("div", { class: "title" }, title, h("span", { id: "campaign-state" }, state), stateReason, live),
    h("div", { class: "actions" }, reasonInput, buttons),
    overall,
    h("div", { class: "columns" },
      h("div", {}, h("h3", {}, "Waves"), wavesBox, h("h3", {}, "Failure reasons"), reasonsBox, conflictsBox),
      h("div", {}, h("h3", {}, "Details"), factsBox)),
    h("h3", {}, "Deployments"),
    h("table", { class: "list", id: "deployments" },
      h("thead", {}, h("tr", {}, h("th", {}, "Device"), h("th", { class: "num" }, "Wave"), h("th", {}, "State"),
        h("th", {}, "Reason"), h("th", {}, "Message"), h("th", {}, "Progress"), h("th", {}, "Updated"))),
      deploymentsBody),
    moreButton);

  let campaign = null;
  let stopped = false;
  let source = null;
  let pollTimer = 0;
  let nextPageToken = "";
  let deploymentsBusy = false;
  let deploymentsAgain = false;

  function setLive(mode, text) {
    live.dataset.mode = mode;
    fill(live, text);
  }

  function show(c) {
    const previous = campaign;
    campaign = c;
    const s = campaignState(c.state);
    fill(title, c.name);
    fill(state, badge(s, "campaign"));
    fill(stateReason, c.stateReason || "");
    ACTIONS.forEach((a, i) => { buttons[i].disabled = !a.states.includes(s); });
    fill(overall, progress(c.stats?.stateCounts, c.stats?.totalTargeted, { label: "campaign" }));
    fill(factsBox, facts(c));
    fill(wavesBox, waves(c));
    fill(reasonsBox, failureReasons(c));
    fill(conflictsBox, conflicts(c));
    if (!previous || JSON.stringify(previous.stats) !== JSON.stringify(c.stats) ||
        previous.state !== c.state) {
      loadDeployments(false);
    }
    if (FINAL_CAMPAIGN_STATES.includes(s)) {
      closeStream();
      clearTimeout(pollTimer);
      setLive("final", "final");
    }
  }

  // Reloads the deployments shown (the first page, or the next one when
  // `more`); one request at a time, the latest wish wins.
  async function loadDeployments(more) {
    if (deploymentsBusy) {
      deploymentsAgain = deploymentsAgain || !more;
      return;
    }
    deploymentsBusy = true;
    try {
      const shown = more ? 0 : Math.max(deploymentsBody.children.length, DEPLOYMENTS_PAGE);
      const page = await get(`${path}/deployments`, {
        pageSize: more ? DEPLOYMENTS_PAGE : Math.min(shown, 1000),
        pageToken: more ? nextPageToken : "",
      });
      if (stopped) return;
      const rows = (page.deployments || []).map(deploymentRow);
      if (more) {
        deploymentsBody.append(...rows);
      } else {
        fill(deploymentsBody, rows.length ? rows
          : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No deployments yet.")));
      }
      nextPageToken = page.nextPageToken || "";
      moreButton.hidden = !nextPageToken;
    } catch (e) {
      if (!stopped) showError(e);
    } finally {
      deploymentsBusy = false;
    }
    if (deploymentsAgain && !stopped) {
      deploymentsAgain = false;
      loadDeployments(false);
    }
  }

  async function act(action) {
    const body = {};
    if (action.reason && reasonInput.value.trim()) body.reason = reasonInput.value.trim();
    buttons.forEach((b) => { b.disabled = true; });
    try {
      show(await post(`${path}:${action.verb}`, body));
      reasonInput.value = "";
      showError(null);
      // The watch reports changes from the state it last sent; a new one
      // starts from the state the action made, so that a change back (say,
      // a resume elsewhere within the watch's interval) is not lost.
      if (source) {
        closeStream();
        watch();
      }
    } catch (e) {
      showError(e);
      if (campaign) show(campaign);
    }
  }

  function closeStream() {
    if (source) source.abort();
    source = null;
  }

  async function poll() {
    try {
      show(await get(path));
    } catch (e) {
      if (!stopped) showError(e);
      if (e.httpStatus === 404) return;
    }
    if (!stopped && !FINAL_CAMPAIGN_STATES.includes(campaignState(campaign?.state))) {
      setLive("polling", `polling every ${POLL_MS / 1000} s`);
      pollTimer = setTimeout(poll, POLL_MS);
    }
  }

  function watch() {
    // A browser without EventSource is taken not to hold streams at all.
    if (typeof EventSource === "undefined") {
      poll();
      return;
    }
    const controller = new AbortController();
    source = controller;
    let failures = 0;
    const run = () => stream(`${path}:watch`, controller.signal, (type, data) => {
      if (type === "error") {  // the call failed: the gateway's error
        showError(streamError(data));
        closeStream();
        poll();
        return;
      }
      failures = 0;
      const event = JSON.parse(data);
      if (!event.campaign) return;
      setLive("stream", "live");
      show(event.campaign);
    }).then(() => ({ ended: true }), (e) => ({ error: e }));
    const loop = async () => {
      while (source === controller) {
        const outcome = await run();
        if (source !== controller) return;
        if (outcome.error && outcome.error.httpStatus >= 400) {
          showError(outcome.error);  // refused: no point in asking again
          closeStream();
          return;
        }
        // The stream ended or broke: try again, then poll.
        if (++failures >= 3 || FINAL_CAMPAIGN_STATES.includes(campaignState(campaign?.state))) {
          closeStream();
          poll();
          return;
        }
        setLive("connecting", "reconnecting…");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    loop();
  }

  // The first look comes from GET, so an unknown campaign shows the
  // gateway's error at once; the stream then keeps it current.
  get(path).then((c) => {
    if (stopped) return;
    show(c);
    if (!FINAL_CAMPAIGN_STATES.includes(campaignState(c.state))) watch();
  }, (e) => {
    if (stopped) return;
    showError(e);
    setLive("error", "not available");
  });

  return () => {
    stopped = true;
    closeStream();
    clearTimeout(pollTimer);
  };
}
