// The REST gateway, as the page uses it: JSON in, JSON out, errors as
// ApiError carrying the gateway's {"code","status","message"}, and the
// operator's bearer token on every call.

export class ApiError extends Error {
  constructor(httpStatus, status, message) {
    super(message);
    this.httpStatus = httpStatus;
    this.status = status;  // the gRPC code's name, "NOT_FOUND"
  }

  toString() {
    return `${this.status}: ${this.message}`;
  }
}

// `path` with the non-empty values of `params` as its query string.
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.append(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// The operator's bearer token, kept for this browser tab only.
const TOKEN_KEY = "ota.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

function headers(extra) {
  const all = { ...extra };
  if (token()) all.Authorization = `Bearer ${token()}`;
  return all;
}

async function errorOf(response) {
  const text = await response.text();
  try {
    const json = JSON.parse(text);
    if (json.status) return new ApiError(response.status, json.status, json.message);
  } catch {
    // not JSON
  }
  return new ApiError(response.status, `HTTP ${response.status}`, text.trim() || response.statusText);
}

async function call(method, path, body) {
  const init = { method, headers: headers({ Accept: "application/json" }) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "UNAVAILABLE", `the server cannot be reached (${e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    if (json && json.status) throw new ApiError(response.status, json.status, json.message);
    throw new ApiError(response.status, `HTTP ${response.status}`, text.trim() || response.statusText);
  }
  if (json === null) throw new ApiError(response.status, "INTERNAL", "the answer is not JSON");
  return json;
}

export const get = (path, params) => call("GET", withQuery(path, params));
export const post = (path, body = {}) => call("POST", path, body);

// Reads the server-sent events of `path` with fetch, which, unlike
// EventSource, can send the Authorization header: calls onEvent(type, data)
// for each event and returns when the stream ends or `signal` aborts it.
// Throws ApiError when the call is refused or the server cannot be reached.
export async function stream(path, signal, onEvent) {
  let response;
  try {
    response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  } catch (e) {
    if (signal.aborted) return;
    throw new ApiError(0, "UNAVAILABLE", `the server cannot be reached (${e.message})`);
  }
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (signal.aborted) return;
      throw new ApiError(0, "UNAVAILABLE", `the stream broke (${e.message})`);
    }
    if (chunk.done) return;
    buffer += chunk.value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(type, data.join("\n"));
    }
  }
}

// Parses the data of an "error" server-sent event into an ApiError.
export function streamError(data) {
  try {
    const json = JSON.parse(data);
    return new ApiError(0, json.status || "UNKNOWN", json.message || data);
  } catch {
    return new ApiError(0, "UNKNOWN", data);
  }
}

// Every item of a paged list call: `field` of each page, following
// nextPageToken, at most `limit` items.
export async function listAll(path, field, params = {}, limit = 10000) {
  const items = [];
  let pageToken = "";
  do {
    const page = await get(path, { ...params, pageSize: 1000, pageToken });
    items.push(...(page[field] || []));
    pageToken = page.nextPageToken;
  } while (pageToken && items.length < limit);
  return items;
}
