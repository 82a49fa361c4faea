// The whole account-takeover flow against a running atod, from Node with
// plain fetch: evaluate → challenge → send → code → verify → complete →
// allow, then the user's devices, "was this you?", a failed attempt and
// erasure. CI runs it (.ci/atod-flow); by hand:
//
//   ATOD_API_KEYS=$(openssl rand -hex 32) go run ./cmd/atod -outbox /tmp/codes.jsonl &
//   ATOD_URL=http://127.0.0.1:8484 ATOD_API_KEY=<that secret> ATOD_OUTBOX=/tmp/codes.jsonl node examples/node/flow.mjs
//
// The code is read from atod's development outbox, where a person would
// read it from their email or phone.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { Atod, AtodError } from "./atod.mjs";

const atod = new Atod({ url: process.env.ATOD_URL, secret: process.env.ATOD_API_KEY });
const outbox = process.env.ATOD_OUTBOX;
if (!outbox) throw new Error("set ATOD_OUTBOX to atod's -outbox file");

const user = `node-${randomBytes(6).toString("hex")}`; // a user of our own on a store that stays
const laptop = "3fa9c1d2".repeat(256); // Rupt.getHash()[0] in a browser: 2048 hex characters
const phone = "be70a4e9".repeat(256);
const step = (what) => console.log(`node flow: ${what}`);

// The code atod sent for the challenge, from the outbox (one JSON line a
// message).
function codeFor(challengeId) {
  const lines = readFileSync(outbox, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const m = lines.filter((l) => l.challenge_id === challengeId).pop();
  assert.ok(m, `no code for ${challengeId} in ${outbox}`);
  return m;
}

// 1. The user's usual login: allowed, and atod learns the device.
let res = await atod.evaluate({ action: "login", user, fingerprint: laptop, last_fingerprint: null, version: "2.32.0", ip: "203.0.113.9", email: `${user}@example.com` });
assert.equal(res.verdict, "allow");
step(`laptop: ${res.verdict} (${res.explanation})`);

// 2. A new device on a new network, form-encoded as the hosted API's
// reference allows: challenged.
res = await atod.call("POST", "/v2/evaluate", new URLSearchParams({
  action: "login", user, fingerprint: phone, ip: "198.51.100.23", email: `${user}@example.com`, phone: "+15550104567", "metadata[app]": "node-example",
}));
assert.equal(res.verdict, "challenge");
assert.deepEqual(res.reasons, ["new_device", "new_ip"]);
assert.ok(res.challenge_id);
const challengeId = res.challenge_id;
step(`phone: ${res.verdict} ${JSON.stringify(res.reasons)} rule ${res.rule}, score ${res.score}`);

// 3. The challenge page: where can the code go?
const c = await atod.getChallenge(challengeId);
assert.equal(c.status, "pending");
assert.deepEqual(c.channels, ["email", "text"]);
assert.equal(c.user.id, user);
step(`challenge ${c.status}, channels ${c.channels.join(", ")}, phone ${c.user.phone}`);

// 4. Send by text (the hosted API's other name for SMS).
const sent = await atod.sendChallengeCode(challengeId, "text");
assert.equal(sent.success, true);
assert.equal(sent.channel, "sms");
const m = codeFor(challengeId);
assert.equal(m.channel, "sms");
assert.equal(m.to, "+15550104567");
step(`code sent by ${sent.channel} to ${sent.to}`);

// 5. A wrong code, then the right one.
const wrong = m.code === "000000" ? "111111" : "000000";
assert.deepEqual(await atod.verifyChallengeCode(challengeId, wrong), { success: false });
assert.deepEqual(await atod.verifyChallengeCode(challengeId, m.code), { success: true });
step("wrong code refused, right code verified");

// 6. Complete: the phone is trusted now; keep its token in a cookie.
const done = await atod.completeChallenge(challengeId);
assert.equal(done.success, true);
assert.ok(done.device_token);
step("challenge completed");

// 7. The same login again: allowed.
res = await atod.evaluate({ action: "login", user, fingerprint: phone, ip: "198.51.100.23", device_token: done.device_token });
assert.equal(res.verdict, "allow");
step(`phone again: ${res.verdict}`);

// 8. Errors have one shape: a stable code, a message, the field.
await assert.rejects(atod.completeChallenge(challengeId), (e) => e instanceof AtodError && e.status === 409 && e.code === "challenge_completed");
await assert.rejects(atod.evaluate({ fingerprint: laptop }), (e) => e.status === 400 && e.code === "invalid_request" && e.field === "user");
await assert.rejects(new Atod({ url: atod.url, secret: "not-one-of-atods-secrets" }).evaluate({ user }), (e) => e.status === 401 && e.code === "unauthorized");
step("errors: challenge_completed, invalid_request on user, unauthorized");

// 9. The user's devices, and "was this you?".
const { devices } = await atod.devices(user);
assert.equal(devices.length, 2);
assert.ok(devices.some((d) => d.id === done.fingerprint_id && d.trusted));
assert.deepEqual(await atod.reportDevice(user, done.fingerprint_id, true), { success: true });
step(`${devices.length} devices; the phone confirmed`);

// 10. A failed password, then erasure.
assert.equal((await atod.recordFailure({ user, fingerprint: laptop, ip: "192.0.2.44" })).success, true);
assert.deepEqual(await atod.deleteUser(user), { success: true });
assert.equal((await atod.devices(user)).devices.length, 0);
step("failure recorded, user erased");
console.log("node flow: ok");
