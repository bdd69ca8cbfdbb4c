// The operator page: a hash router over three views (campaigns, one
// campaign, devices) and the banner that shows the gateway's errors.
import { setToken, token } from "./api.js";
import { fill } from "./dom.js";
import * as campaign from "./campaign.js";
import * as campaigns from "./campaigns.js";
import * as devices from "./devices.js";

const view = document.getElementById("view");
const banner = document.getElementById("error");
let cleanup = null;

// Shows `error` (an ApiError or any Error) in the banner; null hides it.
function showError(error) {
  if (!error) {
    banner.hidden = true;
    fill(banner);
    return;
  }
  fill(banner, String(error));
  banner.hidden = false;
}

function route() {
  if (cleanup) cleanup();
  showError(null);
  const path = location.hash.replace(/^#/, "") || "/campaigns";
  const parts = path.split("/").filter(Boolean);
  let section = parts[0];
  if (section === "campaigns" && parts[1]) {
    cleanup = campaign.render(view, { showError, campaignId: decodeURIComponent(parts[1]) });
  } else if (section === "devices") {
    cleanup = devices.render(view, { showError });
  } else {
    section = "campaigns";
    cleanup = campaigns.render(view, { showError });
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.nav === section);
  }
}

// The bearer token: asked for here, kept for this tab (sessionStorage),
// sent on every call.
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token-input");
const tokenState = document.getElementById("token-state");
function showTokenState() {
  fill(tokenState, token() ? "token set" : "no token");
}
tokenForm.addEventListener("submit", (e) => {
  e.preventDefault();
  setToken(tokenInput.value.trim());
  tokenInput.value = "";
  showTokenState();
  route();
});
document.getElementById("token-clear").addEventListener("click", () => {
  setToken("");
  showTokenState();
  route();
});
showTokenState();

window.addEventListener("hashchange", route);
route();
