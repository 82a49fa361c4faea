// A client of atod, ato's self-hosted service, in plain JavaScript: the
// global fetch of Node 18+, no dependencies. Its first five methods are
// those of the hosted API's Node SDK (@ruptjs/core): an application
// written against it changes its base URL and secret.
//
//   import { Atod } from "./atod.mjs";
//   const atod = new Atod({ url: "http://127.0.0.1:8484", secret: process.env.ATOD_API_KEY });
//   const res = await atod.evaluate({ action: "login", user, fingerprint, last_fingerprint, ip, email });

export class AtodError extends Error {
  // status: the HTTP status; code: the stable error code (invalid_request,
  // challenge_expired, rate_limited, …); field: the offending field, if
  // any; requestId: as in atod's log.
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(`atod: ${status} ${e.code || "error"}: ${e.message || ""}`);
    this.name = "AtodError";
    this.status = status;
    this.code = e.code;
    this.field = e.field;
    this.requestId = body && body.request_id;
  }
}

export class Atod {
  constructor({ url = "http://127.0.0.1:8484", secret, timeoutMs = 2000 } = {}) {
    if (!secret) throw new Error("atod: a secret is needed (one of atod's ATOD_API_KEYS)");
    this.url = url.replace(/\/+$/, "");
    this.secret = secret;
    this.timeoutMs = timeoutMs;
  }

  // call sends one request. body is an object (sent as JSON), a
  // URLSearchParams (sent form-encoded) or undefined.
  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.secret}` };
    let payload;
    if (body instanceof URLSearchParams) {
      payload = body.toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const res = await fetch(this.url + path, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const data = await res.json();
    if (!res.ok) throw new AtodError(res.status, data);
    return data;
  }

  // The hosted API's calls.
  evaluate(req) { return this.call("POST", "/v2/devices/evaluate", req); }
  getChallenge(id) { return this.call("GET", `/v2/challenges/${encodeURIComponent(id)}`); }
  sendChallengeCode(id, channel) {
    return this.call("POST", `/v2/challenges/${encodeURIComponent(id)}/send`, channel ? { channel } : undefined);
  }
  async verifyChallengeCode(id, code) {
    return this.call("POST", `/v2/challenges/${encodeURIComponent(id)}/verify`, { code });
  }
  completeChallenge(id) { return this.call("POST", `/v2/challenges/${encodeURIComponent(id)}/complete`); }

  // ato's additions.
  recordFailure(req) { return this.call("POST", "/v2/failures", req); }
  devices(user) { return this.call("GET", `/v2/users/${encodeURIComponent(user)}/devices`); }
  forgetDevice(user, deviceId) {
    return this.call("DELETE", `/v2/users/${encodeURIComponent(user)}/devices/${encodeURIComponent(deviceId)}`);
  }
  reportDevice(user, deviceId, mine) {
    return this.call("POST", `/v2/users/${encodeURIComponent(user)}/devices/${encodeURIComponent(deviceId)}/report`, { mine });
  }
  deleteUser(user) { return this.call("DELETE", `/v2/users/${encodeURIComponent(user)}`); }
}
