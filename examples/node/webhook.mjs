// Receiving atod's webhook: each challenge code is POSTed as JSON, signed
// with the webhook secret (atod's ATOD_WEBHOOK_SECRET). Check the
// signature before trusting the body, then hand the code to your SMS or
// email provider.
//
//   Atod-Timestamp: 1777881600                       (Unix seconds)
//   Atod-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
//
// Run `node webhook.mjs testdata/webhook-sample.json` to check a delivery
// atod signed.

import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

// verifyWebhook returns the delivery's payload, or throws. rawBody is the
// body exactly as received (a Buffer or string), before any JSON parsing.
export function verifyWebhook(secret, headers, rawBody, { toleranceSec = 300, now = Date.now() } = {}) {
  const ts = headers["atod-timestamp"];
  const sig = headers["atod-signature"] || "";
  if (!/^\d+$/.test(ts || "")) throw new Error("webhook: no timestamp");
  if (Math.abs(now / 1000 - Number(ts)) > toleranceSec) throw new Error("webhook: timestamp too old or too new (a replay?)");
  const mac = createHmac("sha256", secret).update(`${ts}.`).update(rawBody).digest("hex");
  const want = Buffer.from(`v1=${mac}`);
  const got = Buffer.from(sig);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error("webhook: bad signature");
  return JSON.parse(rawBody.toString());
}

// An Express-free receiver with node:http:
//
//   http.createServer((req, res) => {
//     const chunks = [];
//     req.on("data", (c) => chunks.push(c));
//     req.on("end", () => {
//       try {
//         const m = verifyWebhook(process.env.ATOD_WEBHOOK_SECRET, req.headers, Buffer.concat(chunks));
//         sendSMS(m.to, `Your sign-in code: ${m.code}`);   // m.channel is "sms" or "email"
//         res.writeHead(204).end();                       // any 2xx: delivered
//       } catch (e) {
//         res.writeHead(401).end();                       // atod answers the send call 502 send_failed
//       }
//     });
//   }).listen(8485, "127.0.0.1");

if (import.meta.url === pathToFileURL(process.argv[1] || "").href) {
  // Check a delivery atod signed (written by atod's tests).
  const s = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const now = Number(s.timestamp) * 1000;
  const m = verifyWebhook(s.secret, { "atod-timestamp": s.timestamp, "atod-signature": s.signature }, Buffer.from(s.body), { now });
  let refused = false;
  try {
    verifyWebhook(s.secret, { "atod-timestamp": s.timestamp, "atod-signature": s.signature }, Buffer.from(s.body + " "), { now });
  } catch {
    refused = true;
  }
  if (!refused) throw new Error("a changed body was accepted");
  console.log(`webhook: signature checks; ${m.channel} code for challenge ${m.challenge_id}`);
}
