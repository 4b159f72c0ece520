// Signature vectors from the providers' official npm packages.
//
// Usage: node gen_js.js py.json > js.json   (py.json is the output of gen_py.py)
//
// Cross-checks the PyPI vectors with the npm packages of the same providers (svix and
// standardwebhooks sign the same inputs to the same signatures; the Mailtrap and Lettermint
// verifiers accept them), and makes the vectors that only an npm package covers: MailerSend
// (verifier only) and SendGrid (signed with starkbank-ecdsa, the library that
// @sendgrid/eventwebhook verifies with, and checked by EventWebhook.verifySignature).
// Every verifier's clock is pinned to TS. Not run by CI. Prints one JSON object.
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");

const py = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const TS = 1767225600; // 2026-01-01T00:00:00Z
const path = require("node:path");
const version = (name) => {
  // package.json by path: some packages do not export it
  for (const dir of require.resolve.paths(name)) {
    const file = path.join(dir, name, "package.json");
    if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")).version;
  }
  throw new Error(`${name} is not installed`);
};
const flip = (body) => body.replace("5", "4"); // one byte changed, as in gen_py.py
const realNow = Date.now;
const at = (t, f) => {
  Date.now = () => t * 1000;
  try {
    return f();
  } finally {
    Date.now = realNow;
  }
};
const throws = (f) => {
  try {
    f();
  } catch {
    return true;
  }
  return false;
};
const out = {};

// --- Svix (Resend): npm svix -------------------------------------------------------------
{
  const { Webhook } = require("svix");
  const v = py.svix;
  const sig = new Webhook(v.secret).sign(v.id, new Date(TS * 1000), v.body);
  assert.equal(sig, v.signature, "npm svix and PyPI svix disagree");
  const headers = { "svix-id": v.id, "svix-timestamp": String(TS), "svix-signature": sig };
  at(TS, () => new Webhook(v.secret).verify(v.body, headers));
  assert(at(TS, () => throws(() => new Webhook(v.secret).verify(flip(v.body), headers))));
  assert(at(TS + 301, () => throws(() => new Webhook(v.secret).verify(v.body, headers))));
  out.svix = {
    package: `npm svix ${version("svix")}`,
    call: "new Webhook(secret).sign(msgId, new Date(ts * 1000), body)",
    signature: sig,
  };
}

// --- Standard Webhooks (generic): npm standardwebhooks ------------------------------------
{
  const { Webhook } = require("standardwebhooks");
  const v = py.standardwebhooks;
  const sig = new Webhook(v.secret).sign(v.id, new Date(TS * 1000), v.body);
  assert.equal(sig, v.signature, "npm and PyPI standardwebhooks disagree");
  const unpadded = new Webhook(v.secret_unpadded).sign(v.id, new Date(TS * 1000), v.body);
  assert.equal(unpadded, v.signature, "the unpadded secret is another key");
  out.standardwebhooks = {
    package: `npm standardwebhooks ${version("standardwebhooks")}`,
    call: "new Webhook(secret).sign(msgId, new Date(ts * 1000), body)",
    signature: sig,
  };
}

// --- Mailtrap: npm mailtrap (verifier only) -----------------------------------------------
{
  const { verifyWebhookSignature } = require("mailtrap");
  const v = py.mailtrap;
  assert(verifyWebhookSignature(v.body, v.signature, v.secret));
  assert(!verifyWebhookSignature(flip(v.body), v.signature, v.secret));
  assert(!verifyWebhookSignature(v.body, v.signature, "other-secret"));
  out.mailtrap = {
    package: `npm mailtrap ${version("mailtrap")}`,
    call: "verifyWebhookSignature(body, sig, secret) -> true",
  };
}

// --- Lettermint: npm lettermint (verifier only) -------------------------------------------
{
  const { Webhook } = require("lettermint");
  const v = py.lettermint;
  const headers = { "x-lettermint-signature": v.signature, "x-lettermint-delivery": String(TS) };
  at(TS, () => new Webhook(v.secret).verifyHeaders(headers, v.body));
  assert(at(TS, () => throws(() => new Webhook(v.secret).verifyHeaders(headers, flip(v.body)))));
  assert(at(TS, () => throws(() => new Webhook("whsec_other").verifyHeaders(headers, v.body))));
  assert(at(TS + 301, () => throws(() => new Webhook(v.secret).verifyHeaders(headers, v.body))));
  out.lettermint = {
    package: `npm lettermint ${version("lettermint")}`,
    call: "new Webhook(secret).verifyHeaders(headers, body) -> payload",
  };
}

// --- MailerSend: npm mailersend (verifier only: MailerSendUtils.verifyWebHook) -----------
{
  const { MailerSendUtils } = require("mailersend/lib/services/mailersend.utils");
  const secret = "Zc8wFUmNVUMcnkkBfSDaSTbUfiN4nQJZ";
  const body =
    '{"type":"activity.hard_bounced","domain_id":"7nxe3yjmeq28vp0k","created_at":' +
    '"2026-01-01T00:00:00.000000Z","webhook_id":"3vz9dlem1e4kj50y","url":' +
    '"https://example.com/webhooks/mailersend/k","data":{"id":"63fd251d5c00f8e52001fce6",' +
    '"type":"hard_bounced","created_at":"2026-01-01T00:00:00.000000Z","email":{"status":' +
    '"rejected","message":{"id":"63fd25194d5edba3da09e044"},"recipient":{"email":' +
    '"gone@example.com"}},"morph":{"object":"recipient_bounce","reason":' +
    '"550 5.1.1 User unknown"}}}';
  const sig = crypto.createHmac("sha256", secret).update(body).digest("hex");
  assert(MailerSendUtils.verifyWebHook(body, sig, secret));
  assert(!MailerSendUtils.verifyWebHook(flip(body), sig, secret));
  assert(!MailerSendUtils.verifyWebHook(body, sig, "other-secret"));
  out.mailersend = {
    package: `npm mailersend ${version("mailersend")}`,
    call: "MailerSendUtils.verifyWebHook(body, sig, secret) -> true",
    secret,
    body,
    signature: sig,
  };
}

// --- SendGrid: npm @sendgrid/eventwebhook (verifier), signed with starkbank-ecdsa --------
{
  const { EventWebhook } = require("@sendgrid/eventwebhook");
  const { PrivateKey, Ecdsa } = require("starkbank-ecdsa");
  const { prime256v1 } = require("starkbank-ecdsa/ellipticcurve/curve");
  const bigInt = require("big-integer");
  // A fixed P-256 key, so that reruns keep the public key (the nonce is RFC 6979's).
  const secret = crypto.createHash("sha256").update("rebound sendgrid vector key").digest("hex");
  const priv = new PrivateKey(prime256v1, bigInt(secret, 16));
  const pub = priv.publicKey();
  const body =
    '[{"email":"gone@example.com","timestamp":1767225600,"event":"bounce","type":"bounce",' +
    '"sg_event_id":"cmVib3VuZC12ZWN0b3ItMDE","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001",' +
    '"reason":"550 5.1.1 The email account that you tried to reach does not exist",' +
    '"status":"5.1.1","smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>"}]\r\n';
  const sig = Ecdsa.sign(String(TS) + body, priv).toBase64();
  const ew = new EventWebhook();
  const key = ew.convertPublicKeyToECDSA(pub.toPem());
  assert(ew.verifySignature(key, body, sig, String(TS)));
  assert(!ew.verifySignature(key, flip(body), sig, String(TS)));
  assert(!ew.verifySignature(key, body, sig, String(TS + 1)));
  const spki = crypto.createPublicKey(pub.toPem()).export({ format: "der", type: "spki" });
  out.sendgrid = {
    package: `npm @sendgrid/eventwebhook ${version("@sendgrid/eventwebhook")}`,
    signer: `npm starkbank-ecdsa ${version("starkbank-ecdsa")}`,
    call: "Ecdsa.sign(ts + body, key).toBase64(); EventWebhook.verifySignature(pub, body, sig, ts) -> true",
    public_key: spki.toString("base64"),
    timestamp: TS,
    body,
    signature: sig,
  };
}

process.stdout.write(JSON.stringify(out, null, 1) + "\n");
