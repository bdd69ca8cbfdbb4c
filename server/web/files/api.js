// The REST gateway, as the page uses it: JSON in, JSON out, and errors as
// ApiError carrying the gateway's {"code","status","message"}.

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

async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
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
