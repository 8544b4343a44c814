// The one way the page talks to Lectern: the same /v1 routes the SDK uses, with the key from
// sessionStorage in the Authorization header (never in a URL). Errors come back as ApiError with
// the envelope's code and message.

const KEY = "lectern.key";

export function getKey() { return sessionStorage.getItem(KEY); }
export function setKey(key) { sessionStorage.setItem(KEY, key); }
export function clearKey() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, envelope) {
    super(envelope?.message || `HTTP ${status}`);
    this.status = status;
    this.code = envelope?.error_code || `HTTP_${status}`;
    this.envelope = envelope;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = getKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function fail(response) {
  let envelope = null;
  try { envelope = await response.json(); } catch { /* not JSON */ }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("lectern:unauthorized"));
  return new ApiError(response.status, envelope);
}

const RETRIES = 4;
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

/** Seconds to wait after a 429: the envelope's retry_after, else Retry-After, else 2. */
function retryAfter(envelope, header) {
  return Math.min(60, Number(envelope?.retry_after ?? envelope?.details?.retry_after ?? header ?? 2) || 2);
}

/** fetch, waiting out a rate limit (429) a few times before giving up: a big drop of files or a
 * library being watched must slow down, not fail. */
async function fetchPatiently(path, init) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, init);
    if (response.status !== 429 || attempt >= RETRIES) return response;
    let envelope = null;
    try { envelope = await response.clone().json(); } catch { /* not JSON */ }
    await sleep(retryAfter(envelope, response.headers.get("retry-after")));
  }
}

/** JSON in, JSON out; body may be an object (sent as JSON) or FormData. */
export async function api(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body instanceof FormData || body instanceof Blob || body instanceof ArrayBuffer) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetchPatiently(path, init);
  if (!response.ok) throw await fail(response);
  if (response.status === 204) return null;
  return response.json();
}

/** A binary answer (a page image, a download) as a Blob. */
export async function apiBlob(path) {
  const response = await fetchPatiently(path, { headers: headers() });
  if (!response.ok) throw await fail(response);
  return response.blob();
}

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** An upload with progress (fetch has none), resolved with the JSON; a 429 is waited out and sent again. */
export async function sendWithProgress(method, path, body, onProgress) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(method, path, body, onProgress);
    } catch (err) {
      if (err.status !== 429 || attempt >= RETRIES) throw err;
      await sleep(retryAfter(err.envelope, err.retryAfterHeader));
    }
  }
}

function sendOnce(method, path, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    const key = getKey();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* empty */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
      const err = new ApiError(xhr.status, data);
      err.retryAfterHeader = xhr.getResponseHeader("retry-after");
      reject(err);
    };
    xhr.onerror = () => reject(new ApiError(0, { message: "the connection failed" }));
    xhr.send(body);
  });
}

/**
 * A chat turn as Server-Sent Events over fetch (EventSource cannot POST or send a header):
 * calls onEvent(type, data) for each event; resolves when the stream ends. Abort with signal.
 */
export async function streamEvents(path, body, onEvent, signal) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await fail(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // heartbeat
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(type, JSON.parse(data.join("\n")));
    }
  }
}
