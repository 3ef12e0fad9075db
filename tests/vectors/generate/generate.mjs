// Generates the language-neutral provider conformance vectors in ../providers/<name>/<case>.json.
//
// Signing uses each provider's OFFICIAL SDK where the SDK can sign (versions pinned in
// package.json); otherwise node:crypto following the provider's documentation, and, where the
// official SDK can only verify, the node:crypto signer is cross-checked against that verifier
// before any vector is written. Running this is a developer action (`make vectors`); the test
// suites only read the committed JSON.
//
// Usage: npm ci && node generate.mjs

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import Stripe from "stripe";
import { Webhook as StdWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { sign as octokitSign, verify as octokitVerify } from "@octokit/webhooks-methods";
import twilio from "twilio";
import sendgridEw from "@sendgrid/eventwebhook";
import { verifyKey as discordVerifyKey } from "discord-interactions";
import { verifySlackRequest } from "@slack/bolt";
import { Paddle } from "@paddle/paddle-node-sdk";
import { Signature as HubspotSignature } from "@hubspot/api-client";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { WebhooksHelper as SquareWebhooksHelper } from "square";
import { WorkOS } from "@workos-inc/node";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(here, "../providers");
const pkg = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"));
const v = (name) => `${name}@${pkg.dependencies[name]}`;

const NOW = 1700000000;
const B = (s) => Buffer.from(s, "utf8");
const hmac = (alg, key, ...parts) => {
  const h = crypto.createHmac(alg, key);
  for (const p of parts) h.update(p);
  return h.digest();
};
const hex = (b) => b.toString("hex");
const b64 = (b) => b.toString("base64");
const iso = (ts) => new Date(ts * 1000).toISOString().replace(".000Z", "Z");
function assert(cond, what) {
  if (!cond) throw new Error(`SDK cross-check failed: ${what}`);
}

// ------------------------------------------------------------------------------------------
// Vector writing

const written = {};
function write(provider, caseName, v) {
  const dir = path.join(OUT, provider);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${caseName}.json`);
  fs.writeFileSync(file, JSON.stringify(v, null, 2) + "\n");
  written[provider] = (written[provider] || 0) + 1;
}

function vector({ provider, description, method = "POST", url, headers, query = [], body, secrets, options = {}, now = NOW, expected }) {
  return {
    description,
    provider,
    request: { method, url: url ?? null, headers, query, body_b64: b64(Buffer.from(body)) },
    secrets,
    options,
    now,
    expected: {
      valid: expected.valid,
      error_code: expected.error_code ?? null,
      secret_index: expected.secret_index ?? null,
      event_id: expected.event_id ?? null,
      event_type: expected.event_type ?? null,
      delivery_id: expected.delivery_id ?? null,
      idempotency_key: expected.idempotency_key ?? null,
      handshake: expected.handshake ?? null,
    },
  };
}

const withoutHeader = (headers, name) => headers.filter(([k]) => k.toLowerCase() !== name.toLowerCase());
const replaceHeader = (headers, name, value) => headers.map(([k, val]) => (k.toLowerCase() === name.toLowerCase() ? [k, value] : [k, val]));

// A provider spec:
//   name, sdk (who signs), secrets [s0, s1], wrong (a secret/key that is not s0/s1),
//   body (string or (ts) => string), url, options,
//   sign({secret, index, body, ts, url}) => {headers, url?, query?, method?}  (async allowed)
//   sigHeader, malformed (value or null), tolerance {past, future} or null, meta {...},
//   extra: async (ctx) => [[caseName, vectorArgs], ...]
async function emit(spec) {
  const bodyAt = (ts) => (typeof spec.body === "function" ? spec.body(ts) : spec.body);
  const base = async ({ index = 0, ts = NOW, body } = {}) => {
    const b = body ?? bodyAt(ts);
    const secret = spec.signingSecrets ? spec.signingSecrets[index] : spec.secrets[index];
    const r = await spec.sign({ secret, index, body: b, ts, url: spec.url });
    return { method: r.method ?? "POST", url: r.url ?? spec.url, headers: r.headers, query: r.query ?? [], body: r.body ?? b };
  };
  const common = { provider: spec.name, options: spec.options ?? {} };
  const meta = spec.meta;
  const by = `(signed with ${spec.sdk})`;
  const ok = (i) => ({ valid: true, secret_index: i, ...meta });
  const bad = (code) => ({ valid: false, error_code: code, ...meta });

  const valid = await base();
  write(spec.name, "valid", vector({ ...common, ...valid, description: `valid signature ${by}`, secrets: [spec.secrets[0]], expected: ok(0) }));

  const tampered = { ...valid, body: spec.tamper ? spec.tamper(valid.body) : valid.body + " " };
  write(spec.name, "tampered_body", vector({ ...common, ...tampered, description: `body changed after signing ${by}`, secrets: [spec.secrets[0]], expected: spec.tamperExpected ?? bad("signature_mismatch") }));

  write(spec.name, "wrong_secret", vector({ ...common, ...valid, description: `verified with a secret that did not sign ${by}`, secrets: [spec.wrong], expected: bad("signature_mismatch") }));

  const rotated = await base({ index: 1 });
  write(spec.name, "rotated_second_secret", vector({ ...common, ...rotated, description: `signed with the second of two active secrets ${by}`, secrets: [spec.secrets[0], spec.secrets[1]], expected: ok(1) }));

  if (spec.missing !== null) {
    const m = spec.missing ? spec.missing(valid) : { ...valid, headers: withoutHeader(valid.headers, spec.sigHeader) };
    write(spec.name, "missing_signature_header", vector({ ...common, ...m, description: `signature ${spec.sigHeader} removed ${by}`, secrets: [spec.secrets[0]], expected: bad(spec.missingCode ?? "missing_signature") }));
  }
  if (spec.malformed !== null) {
    const m = typeof spec.malformed === "function" ? spec.malformed(valid) : { ...valid, headers: replaceHeader(valid.headers, spec.sigHeader, spec.malformed) };
    write(spec.name, "malformed_signature_header", vector({ ...common, ...m, description: `unparseable signature ${by}`, secrets: [spec.secrets[0]], expected: bad("malformed_signature_header") }));
  }
  if (spec.tolerance) {
    const staleTs = NOW - spec.tolerance.past - 60;
    const stale = await base({ ts: staleTs });
    write(spec.name, "stale_timestamp", vector({ ...common, ...stale, description: `validly signed ${spec.tolerance.past + 60}s before now, tolerance ${spec.tolerance.past}s ${by}`, secrets: [spec.secrets[0]], expected: bad("timestamp_out_of_tolerance") }));
    const futureTs = NOW + spec.tolerance.future + 60;
    const future = await base({ ts: futureTs });
    write(spec.name, "future_timestamp", vector({ ...common, ...future, description: `validly signed ${spec.tolerance.future + 60}s in the future, tolerance ${spec.tolerance.future}s ${by}`, secrets: [spec.secrets[0]], expected: bad("timestamp_out_of_tolerance") }));
    const edge = await base({ ts: NOW - spec.tolerance.past });
    write(spec.name, "timestamp_at_tolerance_edge", vector({ ...common, ...edge, description: `validly signed exactly ${spec.tolerance.past}s before now (still inside tolerance) ${by}`, secrets: [spec.secrets[0]], expected: ok(0) }));
  }
  if (spec.extra) {
    for (const [caseName, args] of await spec.extra({ base, common, meta, ok, bad, by, valid })) {
      write(spec.name, caseName, vector({ ...common, ...args }));
    }
  }
}

const json = (o) => JSON.stringify(o);
const ctJson = ["Content-Type", "application/json"];

// ------------------------------------------------------------------------------------------
// Providers

const stripe = new Stripe("sk_test_vectors");
const specs = [];

specs.push({
  name: "stripe",
  sdk: `${v("stripe")} webhooks.generateTestHeaderString`,
  secrets: ["whsec_vectors_stripe_0", "whsec_vectors_stripe_1"],
  wrong: "whsec_vectors_stripe_wrong",
  url: "https://example.com/hooks/stripe",
  body: json({ id: "evt_1", object: "event", type: "payment_intent.succeeded", data: { object: { id: "pi_1" } } }),
  sign: ({ secret, body, ts }) => ({ headers: [["Stripe-Signature", stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts })], ctJson] }),
  sigHeader: "Stripe-Signature",
  malformed: "v1=,garbage",
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "evt_1", event_type: "payment_intent.succeeded", idempotency_key: "evt_1" },
  extra: async ({ valid, ok, bad, by }) => {
    // Cross-check with the official verifier (clock frozen through receivedAt).
    stripe.webhooks.constructEvent(valid.body, valid.headers[0][1], "whsec_vectors_stripe_0", 300, undefined, NOW);
    const h0 = stripe.webhooks.generateTestHeaderString({ payload: valid.body, secret: "whsec_vectors_stripe_0", timestamp: NOW });
    const h1 = stripe.webhooks.generateTestHeaderString({ payload: valid.body, secret: "whsec_vectors_stripe_1", timestamp: NOW });
    const both = `${h1},${h0.split(",")[1]},v0=deadbeef`;
    return [
      ["two_v1_signatures_during_roll", { ...valid, headers: [["Stripe-Signature", both], ctJson], description: `header with v1 for the new and the old secret plus a v0 ${by}`, secrets: ["whsec_vectors_stripe_0"], expected: ok(0) }],
      ["non_integer_timestamp", { ...valid, headers: [["Stripe-Signature", h0.replace(`t=${NOW}`, "t=abc")], ctJson], description: `t= is not an integer ${by}`, secrets: ["whsec_vectors_stripe_0"], expected: bad("malformed_timestamp") }],
    ];
  },
});

// Standard Webhooks / Svix family.
const stdSecret = (i) => "whsec_" + b64(crypto.createHash("sha256").update(`knocker-std-${i}`).digest());
function stdFamily(name, lib, prefix, body, meta, id) {
  return {
    name,
    sdk: lib === "svix" ? `${v("svix")} Webhook.sign` : `${v("standardwebhooks")} Webhook.sign`,
    secrets: [stdSecret(`${name}-0`), stdSecret(`${name}-1`)],
    wrong: stdSecret(`${name}-wrong`),
    url: `https://example.com/hooks/${name}`,
    body,
    sign: ({ secret, body, ts }) => {
      const wh = lib === "svix" ? new SvixWebhook(secret) : new StdWebhook(secret);
      const sig = wh.sign(id, new Date(ts * 1000), body);
      return { headers: [[`${prefix}-id`, id], [`${prefix}-timestamp`, String(ts)], [`${prefix}-signature`, sig], ctJson] };
    },
    sigHeader: `${prefix}-signature`,
    malformed: "v2,bm90LWEtdjE=",
    tolerance: { past: 300, future: 300 },
    meta,
    extra: async ({ valid, ok, bad, by }) => {
      const WhClass = lib === "svix" ? SvixWebhook : StdWebhook;
      const headersObj = Object.fromEntries(valid.headers.map(([k, val]) => [k, val]));
      // Cross-check: the official verifier accepts a freshly signed request (it reads the wall clock).
      const nowTs = Math.floor(Date.now() / 1000);
      const fresh = new WhClass(stdSecret(`${name}-0`)).sign(id, new Date(nowTs * 1000), valid.body);
      new WhClass(stdSecret(`${name}-0`)).verify(valid.body, { ...headersObj, [`${prefix}-timestamp`]: String(nowTs), [`${prefix}-signature`]: fresh });
      const s1 = new WhClass(stdSecret(`${name}-1`)).sign(id, new Date(NOW * 1000), valid.body);
      const multi = `${s1} ${headersObj[`${prefix}-signature`]}`;
      return [
        ["multiple_signatures_in_header", { ...valid, headers: replaceHeader(valid.headers, `${prefix}-signature`, multi), description: `space-separated v1 entries for two secrets ${by}`, secrets: [stdSecret(`${name}-0`)], expected: ok(0) }],
        ["secret_not_base64", { ...valid, description: `configured secret is not whsec_+base64 ${by}`, secrets: ["whsec_!!!not base64!!!"], expected: bad("invalid_secret") }],
        ["missing_timestamp_header", { ...valid, headers: withoutHeader(valid.headers, `${prefix}-timestamp`), description: `${prefix}-timestamp removed ${by}`, secrets: [stdSecret(`${name}-0`)], expected: bad("missing_timestamp") }],
      ];
    },
  };
}
specs.push(stdFamily("standard-webhooks", "standardwebhooks", "webhook", json({ id: "evt_std_1", type: "invoice.paid", data: { id: "inv_1" } }), { event_id: "evt_std_1", event_type: "invoice.paid", delivery_id: "msg_std_1", idempotency_key: "msg_std_1" }, "msg_std_1"));
specs.push(stdFamily("svix", "svix", "svix", json({ type: "order.created", data: { id: "ord_1" } }), { event_type: "order.created", delivery_id: "msg_svix_1", idempotency_key: "msg_svix_1" }, "msg_svix_1"));
specs.push(stdFamily("clerk", "svix", "svix", json({ object: "event", type: "user.created", data: { id: "user_123" }, timestamp: 1699999999000 }), { event_type: "user.created", delivery_id: "msg_clerk_1", idempotency_key: "msg_clerk_1" }, "msg_clerk_1"));
specs.push(stdFamily("resend", "svix", "svix", json({ type: "email.delivered", created_at: "2023-11-14T22:13:20.000Z", data: { email_id: "em_1" } }), { event_type: "email.delivered", delivery_id: "msg_resend_1", idempotency_key: "msg_resend_1" }, "msg_resend_1"));

// GitHub-style hex body HMAC signed by octokit.
specs.push({
  name: "github",
  sdk: `${v("@octokit/webhooks-methods")} sign`,
  secrets: ["github-secret-0", "github-secret-1"],
  wrong: "github-secret-wrong",
  url: "https://example.com/hooks/github",
  body: json({ zen: "Keep it logically awesome.", hook_id: 1 }),
  sign: async ({ secret, body }) => {
    const sig = await octokitSign(secret, body);
    assert(await octokitVerify(secret, body, sig), "octokit verify");
    return { headers: [["X-GitHub-Event", "ping"], ["X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"], ["X-Hub-Signature-256", sig], ctJson] };
  },
  sigHeader: "X-Hub-Signature-256",
  malformed: "sha1=0123456789abcdef",
  tolerance: null,
  meta: { event_type: "ping", delivery_id: "72d3162e-cc78-11e3-81ab-4c9367dc0958", idempotency_key: "72d3162e-cc78-11e3-81ab-4c9367dc0958" },
});
specs.push({
  name: "meta",
  sdk: `${v("@octokit/webhooks-methods")} sign (Meta uses GitHub's exact sha256= format; Meta ships no signing SDK)`,
  secrets: ["meta-app-secret-0", "meta-app-secret-1"],
  wrong: "meta-app-secret-wrong",
  url: "https://example.com/hooks/meta",
  body: json({ object: "whatsapp_business_account", entry: [{ id: "123", changes: [] }] }),
  sign: async ({ secret, body }) => ({ headers: [["X-Hub-Signature-256", await octokitSign(secret, body)], ctJson] }),
  sigHeader: "X-Hub-Signature-256",
  malformed: "sha256=not-hex",
  tolerance: null,
  meta: { event_type: "whatsapp_business_account" },
});

// Twilio.
const twUrl = "https://example.com/hooks/twilio?tenant=a";
const twForm = [["CallSid", "CA123"], ["From", "+15551234567"], ["CallStatus", "completed"], ["To", "+15557654321"]];
const formBody = (pairs) => pairs.map(([k, val]) => `${encodeURIComponent(k)}=${encodeURIComponent(val)}`).join("&");
const formObj = (pairs) => {
  const o = {};
  for (const [k, val] of pairs) o[k] = k in o ? [].concat(o[k], val) : val;
  return o;
};
const ctForm = ["Content-Type", "application/x-www-form-urlencoded"];
specs.push({
  name: "twilio",
  sdk: `${v("twilio")} getExpectedTwilioSignature, checked with validateRequest`,
  secrets: ["twilio-auth-token-0", "twilio-auth-token-1"],
  wrong: "twilio-auth-token-wrong",
  url: twUrl,
  body: formBody(twForm),
  sign: ({ secret, body, url }) => {
    const params = formObj([...new URLSearchParams(body)]);
    const sig = twilio.getExpectedTwilioSignature(secret, url, params);
    assert(twilio.validateRequest(secret, sig, url, params), "twilio validateRequest");
    return { headers: [["X-Twilio-Signature", sig], ["I-Twilio-Idempotency-Token", "idem-tw-1"], ctForm] };
  },
  tamper: (body) => body.replace("completed", "failed"),
  tamperExpected: { valid: false, error_code: "signature_mismatch", event_id: "CA123", event_type: "failed", delivery_id: "idem-tw-1", idempotency_key: "idem-tw-1" },
  sigHeader: "X-Twilio-Signature",
  malformed: "@@not base64@@",
  tolerance: null,
  meta: { event_id: "CA123", event_type: "completed", delivery_id: "idem-tw-1", idempotency_key: "idem-tw-1" },
  extra: async ({ valid, ok, bad }) => {
    const tok = "twilio-auth-token-0";
    const sdk = v("twilio");
    const params = formObj(twForm);
    const out = [];
    // HMAC-SHA256 variant announced by the settings header.
    const s256 = twilio.getExpectedTwilioSignature(tok, twUrl, params, "HMAC_SHA256");
    assert(twilio.validateRequest(tok, s256, twUrl, params, "HMAC_SHA256"), "twilio sha256");
    out.push(["sha256_variant", { ...valid, headers: [["X-Twilio-Signature", s256], ["X-Twilio-Webhooks-Signature-Settings", "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"], ["I-Twilio-Idempotency-Token", "idem-tw-1"], ctForm], description: `HMAC-SHA256 signature with X-Twilio-Webhooks-Signature-Settings (signed with ${sdk} getExpectedTwilioSignature(..., "HMAC_SHA256"))`, secrets: [tok], expected: ok(0) }]);
    // Signed with :443, received without the port.
    const withPort = "https://example.com:443/hooks/twilio?tenant=a";
    const sp = twilio.getExpectedTwilioSignature(tok, withPort, params);
    assert(twilio.validateRequest(tok, sp, twUrl, params), "twilio port variant");
    out.push(["url_signed_with_default_port", { ...valid, headers: replaceHeader(valid.headers, "X-Twilio-Signature", sp), description: `signed over https://example.com:443/..., request URL without the port; the SDK's validateRequest accepts it (${sdk})`, secrets: [tok], expected: ok(0) }]);
    // Repeated form keys: distinct values sorted.
    const rep = [["CallSid", "CA123"], ["CallStatus", "completed"], ["Digits", "9"], ["Digits", "1"], ["Digits", "5"]];
    const srep = twilio.getExpectedTwilioSignature(tok, twUrl, formObj(rep));
    out.push(["repeated_form_keys", { ...valid, body: formBody(rep), headers: replaceHeader(valid.headers, "X-Twilio-Signature", srep), description: `repeated form key Digits=9,1,5 (signed with ${sdk} getExpectedTwilioSignature with an array value)`, secrets: [tok], expected: ok(0) }]);
    // JSON body with bodySHA256.
    const jb = json({ EventType: "com.twilio.messaging.message.delivered", MessageSid: "SM1", MessageStatus: "delivered" });
    const jurl = `https://example.com/hooks/twilio?bodySHA256=${twilio.getExpectedBodyHash(jb)}`;
    const sj = twilio.getExpectedTwilioSignature(tok, jurl, {});
    assert(twilio.validateRequestWithBody(tok, sj, jurl, jb), "twilio json body");
    const jmeta = { event_id: "SM1", event_type: "com.twilio.messaging.message.delivered", idempotency_key: "SM1:delivered" };
    out.push(["json_body_sha256", { url: jurl, headers: [["X-Twilio-Signature", sj], ctJson], body: jb, description: `JSON body with bodySHA256 in the URL (signed with ${sdk}, checked with validateRequestWithBody)`, secrets: [tok], expected: { valid: true, secret_index: 0, ...jmeta } }]);
    out.push(["json_body_tampered", { url: jurl, headers: [["X-Twilio-Signature", sj], ctJson], body: jb.replace("delivered\"}", "failed\"}"), description: `JSON body changed; the signed URL's bodySHA256 no longer matches (${sdk})`, secrets: [tok], expected: { valid: false, error_code: "signature_mismatch", event_id: "SM1", event_type: "com.twilio.messaging.message.delivered", idempotency_key: "SM1:failed" } }]);
    // GET callback: params in the query string only.
    const gurl = "https://example.com/hooks/twilio?CallSid=CA9&CallStatus=ringing";
    const sg = twilio.getExpectedTwilioSignature(tok, gurl, {});
    out.push(["get_callback", { method: "GET", url: gurl, headers: [["X-Twilio-Signature", sg]], query: [["CallSid", "CA9"], ["CallStatus", "ringing"]], body: "", description: `GET callback, URL signed without appended params (${sdk})`, secrets: [tok], expected: { valid: true, secret_index: 0 } }]);
    out.push(["missing_url", { ...valid, url: null, description: `no request URL and no url option (${sdk})`, secrets: [tok], expected: bad("missing_url") }]);
    out.push(["url_option_overrides_request_url", { ...valid, url: "http://internal:8080/hooks/twilio", options: { url: twUrl }, description: `behind a proxy: the url option gives the public URL (${sdk})`, secrets: [tok], expected: ok(0) }]);
    return out;
  },
});

// SendGrid: P-256 key pair; node:crypto signs, the official SDK verifies.
const ecKey = (seed) => {
  const d = crypto.createHash("sha256").update(seed).digest();
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const jwk = { kty: "EC", crv: "P-256", d: d.toString("base64url"), x: pub.subarray(1, 33).toString("base64url"), y: pub.subarray(33).toString("base64url") };
  const priv = crypto.createPrivateKey({ key: jwk, format: "jwk" });
  const pubKey = crypto.createPublicKey(priv);
  return { priv, derB64: b64(pubKey.export({ type: "spki", format: "der" })), pem: pubKey.export({ type: "spki", format: "pem" }) };
};
const sgKeys = [ecKey("sg-0"), ecKey("sg-1"), ecKey("sg-wrong")];
const sgEw = new sendgridEw.EventWebhook();
specs.push({
  name: "sendgrid",
  sdk: `node:crypto ECDSA P-256 (SHA-256, DER), each signature verified with ${v("@sendgrid/eventwebhook")} EventWebhook.verifySignature`,
  secrets: [sgKeys[0].derB64, sgKeys[1].derB64],
  wrong: sgKeys[2].derB64,
  url: "https://example.com/hooks/sendgrid",
  body: json([{ email: "a@example.com", event: "delivered", sg_event_id: "sg_evt_1", sg_message_id: "msg.1", timestamp: 1699999990 }]),
  sign: ({ index, body, ts }) => {
    const sig = b64(crypto.sign("sha256", Buffer.concat([B(String(ts)), B(body)]), sgKeys[index].priv));
    assert(sgEw.verifySignature(sgEw.convertPublicKeyToECDSA(sgKeys[index].derB64), body, sig, String(ts)), "sendgrid verifySignature");
    return { headers: [["X-Twilio-Email-Event-Webhook-Signature", sig], ["X-Twilio-Email-Event-Webhook-Timestamp", String(ts)], ctJson] };
  },
  sigHeader: "X-Twilio-Email-Event-Webhook-Signature",
  malformed: "bm90IGEgREVSIHNpZ25hdHVyZQ==",
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "sg_evt_1", event_type: "delivered" },
  extra: async ({ valid, ok, bad, by }) => [
    ["pem_public_key", { ...valid, description: `public key configured as PEM ${by}`, secrets: [sgKeys[0].pem], expected: ok(0) }],
    ["invalid_public_key", { ...valid, description: `configured key is not a P-256 public key ${by}`, secrets: ["not-a-key"], expected: bad("invalid_secret") }],
  ],
});

// Discord: Ed25519 key pair from fixed seeds; node:crypto signs, discord-interactions verifies.
const edKey = (seed) => {
  const s = crypto.createHash("sha256").update(seed).digest();
  const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), s]), format: "der", type: "pkcs8" });
  const raw = crypto.createPublicKey(priv).export({ type: "spki", format: "der" }).subarray(-32);
  return { priv, hex: hex(raw) };
};
const dKeys = [edKey("discord-0"), edKey("discord-1"), edKey("discord-wrong")];
specs.push({
  name: "discord",
  sdk: `node:crypto Ed25519, each signature verified with ${v("discord-interactions")} verifyKey`,
  secrets: [dKeys[0].hex, dKeys[1].hex],
  wrong: dKeys[2].hex,
  url: "https://example.com/hooks/discord",
  body: json({ id: "1180000000000000001", application_id: "1170000000000000000", type: 2, data: { name: "hello" }, token: "tok" }),
  sign: async ({ index, body, ts }) => {
    const sig = hex(crypto.sign(null, Buffer.concat([B(String(ts)), B(body)]), dKeys[index].priv));
    assert(await discordVerifyKey(B(body), sig, String(ts), dKeys[index].hex), "discord verifyKey");
    return { headers: [["X-Signature-Ed25519", sig], ["X-Signature-Timestamp", String(ts)], ctJson] };
  },
  sigHeader: "X-Signature-Ed25519",
  malformed: "zz",
  tolerance: null,
  meta: { event_id: "1180000000000000001", event_type: "2", idempotency_key: "1180000000000000001" },
  extra: async ({ base, ok, bad, by }) => {
    const pingBody = json({ id: "1180000000000000002", application_id: "1170000000000000000", type: 1, version: 1 });
    const ping = await base({ body: pingBody });
    const pingMeta = { event_id: "1180000000000000002", event_type: "1", idempotency_key: "1180000000000000002" };
    const stale = await base({ ts: NOW - 400 });
    return [
      ["ping_handshake", { ...ping, description: `PING (type 1) answered with PONG ${by}`, secrets: [dKeys[0].hex], expected: { valid: true, secret_index: 0, ...pingMeta, handshake: { status_code: 200, content_type: "application/json", body_b64: b64(B('{"type":1}')) } } }],
      ["ping_with_bad_signature", { ...ping, description: `PING with a signature from another key: no PONG ${by}`, secrets: [dKeys[1].hex], expected: { valid: false, error_code: "signature_mismatch", ...pingMeta } }],
      ["stale_timestamp_with_tolerance_option", { ...stale, options: { tolerance_s: 300 }, description: `timestamp 400s old with the optional tolerance_s 300 ${by}`, secrets: [dKeys[0].hex], expected: bad("timestamp_out_of_tolerance") }],
      ["stale_timestamp_without_tolerance_option", { ...stale, description: `timestamp 400s old: Discord documents no window, so it is not checked by default ${by}`, secrets: [dKeys[0].hex], expected: ok(0) }],
      ["invalid_public_key", { ...(await base()), description: `configured key is not 64 hex characters ${by}`, secrets: ["abcd"], expected: bad("invalid_secret") }],
    ];
  },
});

// Slack: node:crypto per docs, checked with @slack/bolt verifySlackRequest (clock frozen).
const slackSign = (secret, body, ts) => "v0=" + hex(hmac("sha256", secret, `v0:${ts}:`, body));
specs.push({
  name: "slack",
  sdk: `node:crypto per Slack's docs, each signature verified with ${v("@slack/bolt")} verifySlackRequest`,
  secrets: ["slack-signing-secret-0", "slack-signing-secret-1"],
  wrong: "slack-signing-secret-wrong",
  url: "https://example.com/hooks/slack",
  body: json({ type: "event_callback", event_id: "Ev123", event: { type: "app_mention", text: "hi" } }),
  sign: ({ secret, body, ts }) => {
    const sig = slackSign(secret, body, ts);
    verifySlackRequest({ signingSecret: secret, body, headers: { "x-slack-signature": sig, "x-slack-request-timestamp": ts }, nowMilliseconds: ts * 1000 });
    return { headers: [["X-Slack-Request-Timestamp", String(ts)], ["X-Slack-Signature", sig], ctJson] };
  },
  sigHeader: "X-Slack-Signature",
  malformed: "v1=abc",
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "Ev123", event_type: "app_mention", idempotency_key: "Ev123" },
  extra: async ({ base, by }) => {
    const hb = json({ token: "x", challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", type: "url_verification" });
    const hs = await base({ body: hb });
    return [
      ["url_verification_handshake", { ...hs, description: `url_verification answered with the challenge ${by}`, secrets: ["slack-signing-secret-0"], expected: { valid: true, secret_index: 0, event_type: "url_verification", handshake: { status_code: 200, content_type: "text/plain", body_b64: b64(B("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")) } } }],
      ["url_verification_wrong_secret", { ...hs, description: `url_verification with a bad signature gets no challenge ${by}`, secrets: ["slack-signing-secret-wrong"], expected: { valid: false, error_code: "signature_mismatch", event_type: "url_verification" } }],
    ];
  },
});

// Shopify: node:crypto per docs (base64 HMAC of the body).
specs.push({
  name: "shopify",
  sdk: "node:crypto per Shopify's docs (base64 HMAC-SHA256 of the raw body)",
  secrets: ["shopify-client-secret-0", "shopify-client-secret-1"],
  wrong: "shopify-client-secret-wrong",
  url: "https://example.com/hooks/shopify",
  body: json({ id: 820982911946154500, email: "jon@example.com" }),
  sign: ({ secret, body }) => ({
    headers: [["X-Shopify-Topic", "orders/create"], ["X-Shopify-Hmac-Sha256", b64(hmac("sha256", secret, body))], ["X-Shopify-Shop-Domain", "shop.myshopify.com"], ["X-Shopify-API-Version", "2025-01"], ["X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"], ["X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5"], ctJson],
  }),
  sigHeader: "X-Shopify-Hmac-Sha256",
  malformed: "%%%",
  tolerance: null,
  meta: { event_id: "98880550-7158-44d4-b7cd-2c97c8a091b5", event_type: "orders/create", delivery_id: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", idempotency_key: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" },
});

// Paddle: node:crypto per docs, cross-checked with @paddle/paddle-node-sdk isSignatureValid.
const paddleSign = (secret, body, ts) => `ts=${ts};h1=${hex(hmac("sha256", secret, `${ts}:`, body))}`;
const paddle = new Paddle("pdl_sdbx_apikey_vectors");
specs.push({
  name: "paddle",
  sdk: `node:crypto per Paddle's docs, signer cross-checked with ${v("@paddle/paddle-node-sdk")} webhooks.isSignatureValid on a fresh timestamp`,
  secrets: ["pdl_ntfset_vectors_0", "pdl_ntfset_vectors_1"],
  wrong: "pdl_ntfset_vectors_wrong",
  url: "https://example.com/hooks/paddle",
  body: json({ event_id: "evt_01h", event_type: "transaction.completed", notification_id: "ntf_01h", occurred_at: "2023-11-14T22:13:20Z", data: { id: "txn_1" } }),
  sign: ({ secret, body, ts }) => ({ headers: [["Paddle-Signature", paddleSign(secret, body, ts)], ctJson] }),
  sigHeader: "Paddle-Signature",
  malformed: "ts=1700000000;h2=abc",
  tolerance: { past: 5, future: 5 },
  meta: { event_id: "evt_01h", event_type: "transaction.completed", delivery_id: "ntf_01h", idempotency_key: "evt_01h" },
  extra: async ({ valid, ok, by }) => {
    const fresh = Math.floor(Date.now() / 1000);
    assert(await paddle.webhooks.isSignatureValid(valid.body, "pdl_ntfset_vectors_0", paddleSign("pdl_ntfset_vectors_0", valid.body, fresh)), "paddle isSignatureValid");
    const two = `ts=${NOW};h1=${hex(hmac("sha256", "pdl_ntfset_vectors_1", `${NOW}:`, valid.body))};h1=${paddleSign("pdl_ntfset_vectors_0", valid.body, NOW).split("h1=")[1]}`;
    return [["two_h1_signatures", { ...valid, headers: [["Paddle-Signature", two], ctJson], description: `two h1 entries, the second for the configured secret ${by}`, secrets: ["pdl_ntfset_vectors_0"], expected: ok(0) }]];
  },
});

// HubSpot v3: official signer.
const hsUrl = "https://example.com/hooks/hubspot?portal=1";
specs.push({
  name: "hubspot",
  sdk: `${v("@hubspot/api-client")} Signature.getSignature(v3)`,
  secrets: ["hubspot-client-secret-0", "hubspot-client-secret-1"],
  wrong: "hubspot-client-secret-wrong",
  url: hsUrl,
  body: json([{ eventId: 123, subscriptionId: 9, portalId: 1, occurredAt: 1699999999000, subscriptionType: "contact.creation", attemptNumber: 0, objectId: 456 }]),
  sign: ({ secret, body, ts, url }) => {
    const sig = HubspotSignature.getSignature("POST", "v3", { clientSecret: secret, requestBody: body, url, timestamp: ts * 1000 });
    return { headers: [["X-HubSpot-Signature-v3", sig], ["X-HubSpot-Request-Timestamp", String(ts * 1000)], ctJson] };
  },
  sigHeader: "X-HubSpot-Signature-v3",
  malformed: "***",
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "123", event_type: "contact.creation" },
  extra: async ({ valid, bad, ok, by }) => {
    const fresh = Date.now();
    const s = HubspotSignature.getSignature("POST", "v3", { clientSecret: "hubspot-client-secret-0", requestBody: valid.body, url: hsUrl, timestamp: fresh });
    assert(HubspotSignature.isValid({ signatureVersion: "v3", signature: s, clientSecret: "hubspot-client-secret-0", requestBody: valid.body, url: hsUrl, method: "POST", timestamp: fresh }), "hubspot isValid");
    const encodedUrl = "https://example.com/hooks/hubspot?portal=1&email=a%40example.com";
    const decodedUrl = "https://example.com/hooks/hubspot?portal=1&email=a@example.com";
    const se = HubspotSignature.getSignature("POST", "v3", { clientSecret: "hubspot-client-secret-0", requestBody: valid.body, url: decodedUrl, timestamp: NOW * 1000 });
    return [
      ["missing_url", { ...valid, url: null, description: `no request URL and no url option ${by}`, secrets: ["hubspot-client-secret-0"], expected: bad("missing_url") }],
      ["percent_encoded_url_decoded_before_signing", { ...valid, url: encodedUrl, headers: replaceHeader(valid.headers, "X-HubSpot-Signature-v3", se), description: `request URL has %40; HubSpot signs the URI with the listed encodings decoded ${by}`, secrets: ["hubspot-client-secret-0"], expected: ok(0) }],
    ];
  },
});

// Linear: node:crypto per docs, cross-checked with @linear/sdk LinearWebhookClient.verify.
const linearBody = (ts) => json({ action: "create", type: "Issue", data: { id: "iss_1", title: "Bug" }, webhookId: "wh_1", webhookTimestamp: ts * 1000, createdAt: "2023-11-14T22:13:20.000Z" });
specs.push({
  name: "linear",
  sdk: `node:crypto per Linear's docs, signer cross-checked with ${v("@linear/sdk")} LinearWebhookClient.verify on a fresh timestamp`,
  secrets: ["lin_wh_vectors_0", "lin_wh_vectors_1"],
  wrong: "lin_wh_vectors_wrong",
  url: "https://example.com/hooks/linear",
  body: linearBody,
  sign: ({ secret, body }) => ({ headers: [["Linear-Delivery", "234d1a4e-b617-4388-90fe-adc3633d6b72"], ["Linear-Event", "Issue"], ["Linear-Signature", hex(hmac("sha256", secret, body))], ctJson] }),
  sigHeader: "Linear-Signature",
  malformed: "xyz",
  tolerance: { past: 60, future: 60 },
  meta: { event_type: "Issue.create", delivery_id: "234d1a4e-b617-4388-90fe-adc3633d6b72", idempotency_key: "234d1a4e-b617-4388-90fe-adc3633d6b72" },
  extra: async ({ base, bad, by }) => {
    const fresh = linearBody(Math.floor(Date.now() / 1000));
    const client = new LinearWebhookClient("lin_wh_vectors_0");
    assert(client.verify(B(fresh), hex(hmac("sha256", "lin_wh_vectors_0", fresh))), "linear verify");
    const noTs = json({ action: "create", type: "Issue", data: { id: "iss_1" } });
    const r = await base({ body: noTs });
    return [["missing_body_timestamp", { ...r, description: `body without webhookTimestamp ${by}`, secrets: ["lin_wh_vectors_0"], expected: bad("missing_timestamp") }]];
  },
});

// Square: node:crypto per docs, checked with square WebhooksHelper.verifySignature.
const sqUrl = "https://example.com/hooks/square";
specs.push({
  name: "square",
  sdk: `node:crypto per Square's docs, each signature verified with ${v("square")} WebhooksHelper.verifySignature`,
  secrets: ["square-signature-key-0", "square-signature-key-1"],
  wrong: "square-signature-key-wrong",
  url: sqUrl,
  body: json({ merchant_id: "M1", type: "payment.updated", event_id: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", created_at: "2023-11-14T22:13:20Z", data: { id: "p1" } }),
  sign: async ({ secret, body, url }) => {
    const sig = b64(hmac("sha256", secret, url, body));
    assert(await SquareWebhooksHelper.verifySignature({ requestBody: body, signatureHeader: sig, signatureKey: secret, notificationUrl: url }), "square verifySignature");
    return { headers: [["x-square-hmacsha256-signature", sig], ctJson] };
  },
  sigHeader: "x-square-hmacsha256-signature",
  malformed: "!!",
  tolerance: null,
  meta: { event_id: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", event_type: "payment.updated", idempotency_key: "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc" },
  extra: async ({ valid, bad, by }) => [["missing_url", { ...valid, url: null, description: `no request URL and no url option ${by}`, secrets: ["square-signature-key-0"], expected: bad("missing_url") }]],
});

// WorkOS: official signer.
const workos = new WorkOS("sk_test_vectors");
const workosBodyObj = { id: "event_01HV", event: "user.created", data: { id: "user_1" }, created_at: "2023-11-14T22:13:20.000Z" };
specs.push({
  name: "workos",
  sdk: `${v("@workos-inc/node")} webhooks.computeSignature`,
  secrets: ["workos-secret-0", "workos-secret-1"],
  wrong: "workos-secret-wrong",
  url: "https://example.com/hooks/workos",
  body: JSON.stringify(workosBodyObj),
  sign: async ({ secret, ts }) => {
    const sig = await workos.webhooks.computeSignature(ts * 1000, workosBodyObj, secret);
    return { headers: [["WorkOS-Signature", `t=${ts * 1000}, v1=${sig}`], ctJson] };
  },
  sigHeader: "WorkOS-Signature",
  malformed: "t=1700000000000",
  tolerance: { past: 180, future: 180 },
  meta: { event_id: "event_01HV", event_type: "user.created", idempotency_key: "event_01HV" },
  extra: async () => {
    const fresh = Date.now();
    const sig = await workos.webhooks.computeSignature(fresh, workosBodyObj, "workos-secret-0");
    assert(await workos.webhooks.verifyHeader({ payload: workosBodyObj, sigHeader: `t=${fresh}, v1=${sig}`, secret: "workos-secret-0" }), "workos verifyHeader");
    return [];
  },
});

// Zoom: node:crypto per docs.
const zoomSign = (secret, body, ts) => "v0=" + hex(hmac("sha256", secret, `v0:${ts}:`, body));
specs.push({
  name: "zoom",
  sdk: "node:crypto per Zoom's docs (no official signing SDK)",
  secrets: ["zoom-secret-token-0", "zoom-secret-token-1"],
  wrong: "zoom-secret-token-wrong",
  url: "https://example.com/hooks/zoom",
  body: json({ event: "meeting.started", event_ts: 1700000000000, payload: { account_id: "A1", object: { id: "m1" } } }),
  sign: ({ secret, body, ts }) => ({ headers: [["x-zm-request-timestamp", String(ts)], ["x-zm-signature", zoomSign(secret, body, ts)], ["x-zm-trackingid", "v=2.0&s=1&c=trk1"], ctJson] }),
  sigHeader: "x-zm-signature",
  malformed: "v1=zz",
  tolerance: { past: 300, future: 300 },
  meta: { event_type: "meeting.started", delivery_id: "v=2.0&s=1&c=trk1" },
  extra: async ({ base, by }) => {
    const hb = json({ payload: { plainToken: "qgg8vlvZRS6UYooatFL8Aw" }, event_ts: 1700000000000, event: "endpoint.url_validation" });
    const hs = await base({ body: hb, index: 1 });
    const enc = hex(hmac("sha256", "zoom-secret-token-1", "qgg8vlvZRS6UYooatFL8Aw"));
    const respBody = json({ encryptedToken: enc, plainToken: "qgg8vlvZRS6UYooatFL8Aw" });
    return [["url_validation_handshake", { ...hs, description: `endpoint.url_validation signed with the second secret, answered with its encryptedToken ${by}`, secrets: ["zoom-secret-token-0", "zoom-secret-token-1"], expected: { valid: true, secret_index: 1, event_type: "endpoint.url_validation", delivery_id: "v=2.0&s=1&c=trk1", handshake: { status_code: 200, content_type: "application/json", body_b64: b64(B(respBody)) } } }]];
  },
});

// Zendesk: node:crypto per docs, ISO-8601 timestamps.
specs.push({
  name: "zendesk",
  sdk: "node:crypto per Zendesk's docs (no official signing SDK)",
  secrets: ["dGhpc19zZWNyZXRfaXNfdXNlZF92ZXJiYXRpbV8w", "dGhpc19zZWNyZXRfaXNfdXNlZF92ZXJiYXRpbV8x"],
  wrong: "d3Jvbmc=",
  url: "https://example.com/hooks/zendesk",
  body: json({ id: "01GD8ZJ", type: "zen:event-type:ticket.status_changed", account_id: 1, detail: { id: "35" } }),
  sign: ({ secret, body, ts }) => ({ headers: [["X-Zendesk-Webhook-Signature", b64(hmac("sha256", secret, iso(ts), body))], ["X-Zendesk-Webhook-Signature-Timestamp", iso(ts)], ["X-Zendesk-Webhook-Id", "01GD8WH"], ctJson] }),
  sigHeader: "X-Zendesk-Webhook-Signature",
  malformed: "***",
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "01GD8ZJ", event_type: "zen:event-type:ticket.status_changed", idempotency_key: "01GD8ZJ" },
  extra: async ({ valid, bad, by }) => {
    const s = "dGhpc19zZWNyZXRfaXNfdXNlZF92ZXJiYXRpbV8w";
    const intTs = [["X-Zendesk-Webhook-Signature", b64(hmac("sha256", s, String(NOW), valid.body))], ["X-Zendesk-Webhook-Signature-Timestamp", String(NOW)], ctJson];
    const offsetTs = "2023-11-15T00:13:20+02:00"; // == NOW
    const off = [["X-Zendesk-Webhook-Signature", b64(hmac("sha256", s, offsetTs, valid.body))], ["X-Zendesk-Webhook-Signature-Timestamp", offsetTs], ctJson];
    return [
      ["integer_timestamp_rejected", { ...valid, headers: intTs, description: `timestamp header is Unix seconds, not ISO-8601 ${by}`, secrets: [s], expected: bad("malformed_timestamp") }],
      ["iso_timestamp_with_offset", { ...valid, headers: off, description: `ISO-8601 timestamp with a +02:00 offset ${by}`, secrets: [s], expected: { valid: true, secret_index: 0, event_id: "01GD8ZJ", event_type: "zen:event-type:ticket.status_changed", idempotency_key: "01GD8ZJ" } }],
      ["missing_timestamp_header", { ...valid, headers: withoutHeader(valid.headers, "X-Zendesk-Webhook-Signature-Timestamp"), description: `timestamp header removed ${by}`, secrets: [s], expected: bad("missing_timestamp") }],
    ];
  },
});

// Twitch EventSub: node:crypto per docs.
const twitchTs = (ts) => new Date(ts * 1000).toISOString().replace(".000Z", ".123456789Z");
specs.push({
  name: "twitch",
  sdk: "node:crypto per Twitch's docs (no official signing SDK)",
  secrets: ["twitch-eventsub-secret-0", "twitch-eventsub-secret-1"],
  wrong: "twitch-eventsub-secret-wrong",
  url: "https://example.com/hooks/twitch",
  body: json({ subscription: { id: "sub1", type: "channel.follow" }, event: { user_id: "1" } }),
  sign: ({ secret, body, ts }) => {
    const id = "befa7b53-d79d-478f-86b9-120f112b044e";
    return { headers: [["Twitch-Eventsub-Message-Id", id], ["Twitch-Eventsub-Message-Timestamp", twitchTs(ts)], ["Twitch-Eventsub-Message-Signature", "sha256=" + hex(hmac("sha256", secret, id, twitchTs(ts), body))], ["Twitch-Eventsub-Message-Type", "notification"], ["Twitch-Eventsub-Subscription-Type", "channel.follow"], ctJson] };
  },
  sigHeader: "Twitch-Eventsub-Message-Signature",
  malformed: "sha1=abc",
  tolerance: { past: 600, future: 600 },
  meta: { event_id: "befa7b53-d79d-478f-86b9-120f112b044e", event_type: "channel.follow", delivery_id: "befa7b53-d79d-478f-86b9-120f112b044e", idempotency_key: "befa7b53-d79d-478f-86b9-120f112b044e" },
  extra: async ({ base, meta, by }) => {
    const hb = json({ challenge: "pogchamp-kappa-360noscope-vohiyo", subscription: { id: "sub1", type: "channel.follow" } });
    const r = await base({ body: hb });
    const headers = replaceHeader(r.headers, "Twitch-Eventsub-Message-Type", "webhook_callback_verification");
    return [["callback_verification_handshake", { ...r, headers, description: `webhook_callback_verification answered with the challenge ${by}`, secrets: ["twitch-eventsub-secret-0"], expected: { valid: true, secret_index: 0, ...meta, handshake: { status_code: 200, content_type: "text/plain", body_b64: b64(B("pogchamp-kappa-360noscope-vohiyo")) } } }]];
  },
});

// Mailgun: signature inside the body.
const mgBody = (ts, secret = "mailgun-key-0", token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0") =>
  json({ signature: { timestamp: String(ts), token, signature: hex(hmac("sha256", secret, String(ts), token)) }, "event-data": { id: "CPgfbmQMTCKtHW6uIWtuVe", event: "delivered", timestamp: ts } });
specs.push({
  name: "mailgun",
  sdk: "node:crypto per Mailgun's docs (no official signing SDK)",
  secrets: ["mailgun-key-0", "mailgun-key-1"],
  signingSecrets: ["mailgun-key-0", "mailgun-key-1"],
  wrong: "mailgun-key-wrong",
  url: "https://example.com/hooks/mailgun",
  body: (ts) => mgBody(ts),
  sign: ({ secret, ts }) => ({ body: mgBody(ts, secret), headers: [ctJson] }),
  tamper: (body) => body.replace("a8ce0edb", "b8ce0edb"),
  sigHeader: "signature.signature",
  missing: (r) => ({ ...r, body: json({ "event-data": JSON.parse(r.body)["event-data"] }) }),
  malformed: (r) => {
    const o = JSON.parse(r.body);
    o.signature.signature = "not-hex";
    return { ...r, body: json(o) };
  },
  tolerance: { past: 300, future: 300 },
  meta: { event_id: "CPgfbmQMTCKtHW6uIWtuVe", event_type: "delivered", idempotency_key: "CPgfbmQMTCKtHW6uIWtuVe" },
  extra: async ({ valid, ok, by }) => {
    const o = JSON.parse(valid.body);
    o["event-data"].extra = "added after signing";
    return [["event_data_not_covered", { ...valid, body: json(o), description: `Mailgun signs only timestamp+token, so changing event-data still verifies ${by}`, secrets: ["mailgun-key-0"], expected: ok(0) }]];
  },
});

// Simple body-HMAC providers (node:crypto per docs).
function bodyHmac({ name, header, prefix = "", alg = "sha256", enc = "hex", body, extraHeaders = [], meta, malformed, docs }) {
  return {
    name,
    sdk: `node:crypto per ${docs}'s docs (no official signing SDK)`,
    secrets: [`${name}-secret-0`, `${name}-secret-1`],
    wrong: `${name}-secret-wrong`,
    url: `https://example.com/hooks/${name}`,
    body,
    sign: ({ secret, body }) => {
      const mac = hmac(alg, secret, body);
      return { headers: [...extraHeaders, [header, prefix + (enc === "hex" ? hex(mac) : b64(mac))], ctJson] };
    },
    sigHeader: header,
    malformed,
    tolerance: null,
    meta,
  };
}
specs.push(bodyHmac({ name: "lemon-squeezy", docs: "Lemon Squeezy", header: "X-Signature", body: json({ meta: { event_name: "order_created" }, data: { id: "1", type: "orders" } }), extraHeaders: [["X-Event-Name", "order_created"]], meta: { event_id: "1", event_type: "order_created" }, malformed: "not-hex" }));
specs.push(bodyHmac({ name: "intercom", docs: "Intercom", header: "X-Hub-Signature", prefix: "sha1=", alg: "sha1", body: json({ type: "notification_event", id: "notif_1", topic: "conversation.user.created" }), meta: { event_id: "notif_1", event_type: "conversation.user.created", idempotency_key: "notif_1" }, malformed: "sha256=abcd" }));
specs.push(bodyHmac({ name: "bitbucket", docs: "Bitbucket", header: "X-Hub-Signature", prefix: "sha256=", body: json({ push: { changes: [] } }), extraHeaders: [["X-Event-Key", "repo:push"], ["X-Request-UUID", "afe1e2b2-1f5c-4a8e-9c60-5e0fd0b1a6e1"], ["X-Attempt-Number", "1"]], meta: { event_type: "repo:push", delivery_id: "afe1e2b2-1f5c-4a8e-9c60-5e0fd0b1a6e1", idempotency_key: "afe1e2b2-1f5c-4a8e-9c60-5e0fd0b1a6e1" }, malformed: "sha256=xyz" }));
specs.push(bodyHmac({ name: "typeform", docs: "Typeform", header: "Typeform-Signature", prefix: "sha256=", enc: "base64", body: json({ event_id: "01HF1", event_type: "form_response", form_response: { form_id: "f1" } }), meta: { event_id: "01HF1", event_type: "form_response", idempotency_key: "01HF1" }, malformed: "sha256=***" }));
specs.push(bodyHmac({ name: "vercel", docs: "Vercel", header: "x-vercel-signature", alg: "sha1", body: json({ id: "evt_v1", type: "deployment.created", payload: {} }), meta: { event_id: "evt_v1", event_type: "deployment.created", idempotency_key: "evt_v1" }, malformed: "xyz" }));
specs.push(bodyHmac({ name: "sentry", docs: "Sentry", header: "Sentry-Hook-Signature", body: json({ action: "created", data: { issue: { id: "1" } } }), extraHeaders: [["Sentry-Hook-Resource", "issue"], ["Sentry-Hook-Timestamp", "1700000000"], ["Request-ID", "c6a8e1f0-5d8e-4b0e-9a9c-3d1c2b7e8f90"]], meta: { event_type: "issue.created", delivery_id: "c6a8e1f0-5d8e-4b0e-9a9c-3d1c2b7e8f90", idempotency_key: "c6a8e1f0-5d8e-4b0e-9a9c-3d1c2b7e8f90" }, malformed: "g" }));
specs.push(bodyHmac({ name: "coinbase-commerce", docs: "Coinbase Commerce", header: "X-CC-Webhook-Signature", body: json({ id: 1, scheduled_for: "2023-11-14T22:13:20Z", event: { id: "24934862-d980-46cb-9402-43c81b0cdba6", type: "charge:confirmed", data: {} } }), meta: { event_id: "24934862-d980-46cb-9402-43c81b0cdba6", event_type: "charge:confirmed", delivery_id: "1", idempotency_key: "24934862-d980-46cb-9402-43c81b0cdba6" }, malformed: "zz" }));
specs.push({
  ...bodyHmac({ name: "pagerduty", docs: "PagerDuty", header: "X-PagerDuty-Signature", prefix: "v1=", body: json({ event: { id: "01DEN5", event_type: "incident.triggered", resource_type: "incident" } }), meta: { event_id: "01DEN5", event_type: "incident.triggered", idempotency_key: "01DEN5" }, malformed: "v2=abc" }),
  extra: async ({ valid, ok, by }) => {
    const other = "v1=" + hex(hmac("sha256", "pagerduty-secret-1", valid.body));
    const both = `${other},${valid.headers[0][1]}`;
    return [["two_v1_signatures", { ...valid, headers: replaceHeader(valid.headers, "X-PagerDuty-Signature", both), description: `comma-separated v1 signatures during rotation ${by}`, secrets: ["pagerduty-secret-0"], expected: ok(0) }]];
  },
});

// t=,v1= providers (node:crypto per docs).
function tv1({ name, header, docs, body, meta, tolerance, ms = false, sep = "," }) {
  return {
    name,
    sdk: `node:crypto per ${docs}'s docs (no official signing SDK)`,
    secrets: [`${name}-secret-0`, `${name}-secret-1`],
    wrong: `${name}-secret-wrong`,
    url: `https://example.com/hooks/${name}`,
    body,
    sign: ({ secret, body, ts }) => {
      const t = ms ? ts * 1000 : ts;
      return { headers: [[header, `t=${t}${sep}v1=${hex(hmac("sha256", secret, `${t}.`, body))}`], ctJson] };
    },
    sigHeader: header,
    malformed: "v1=abcdef",
    tolerance,
    meta,
  };
}
specs.push(tv1({ name: "calendly", docs: "Calendly", header: "Calendly-Webhook-Signature", body: json({ event: "invitee.created", created_at: "2023-11-14T22:13:20.000000Z", payload: { uri: "https://api.calendly.com/x" } }), meta: { event_type: "invitee.created" }, tolerance: { past: 180, future: 180 } }));
specs.push(tv1({ name: "mux", docs: "Mux", header: "Mux-Signature", body: json({ id: "3a56ac3d-33da-4366-855b-f592d898409d", type: "video.asset.ready", data: { id: "asset1" } }), meta: { event_id: "3a56ac3d-33da-4366-855b-f592d898409d", event_type: "video.asset.ready", idempotency_key: "3a56ac3d-33da-4366-855b-f592d898409d" }, tolerance: { past: 300, future: 300 } }));

// Token / credential providers.
function tokenSpec({ name, header, value, body, meta, malformed, docs, extraHeaders = [], secrets, wrong, options }) {
  return {
    name,
    sdk: `plain request per ${docs}'s docs (shared token; nothing to sign)`,
    secrets,
    wrong,
    url: `https://example.com/hooks/${name}`,
    body,
    options,
    sign: ({ secret }) => ({ headers: [...extraHeaders, [header, value(secret)], ctJson] }),
    sigHeader: header,
    malformed,
    tolerance: null,
    meta,
  };
}
specs.push(tokenSpec({ name: "gitlab", docs: "GitLab", header: "X-Gitlab-Token", value: (s) => s, secrets: ["gitlab-token-0", "gitlab-token-1"], wrong: "gitlab-token-wrong", body: json({ object_kind: "push", ref: "refs/heads/main" }), extraHeaders: [["X-Gitlab-Event", "Push Hook"], ["X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"], ["X-Gitlab-Webhook-UUID", "9f7a5b9e-1c1f-4e6b-8d3c-0a6f8b2d4e11"], ["Idempotency-Key", "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"]], meta: { event_id: "13792a34-cac6-4fda-95a8-c58e00a3954e", event_type: "Push Hook", delivery_id: "9f7a5b9e-1c1f-4e6b-8d3c-0a6f8b2d4e11", idempotency_key: "f5e5f430-f57b-4e6e-9fac-d9128cd7232f" }, malformed: null }));
specs.push(tokenSpec({ name: "telegram", docs: "Telegram Bot API", header: "X-Telegram-Bot-Api-Secret-Token", value: (s) => s, secrets: ["tg_secret_token_0", "tg_secret_token_1"], wrong: "tg_secret_token_wrong", body: json({ update_id: 10000, message: { message_id: 1, text: "/start" } }), meta: { event_id: "10000", event_type: "message", idempotency_key: "10000" }, malformed: null }));
specs.push(tokenSpec({ name: "bearer-token", docs: "RFC 6750", header: "Authorization", value: (s) => `Bearer ${s}`, secrets: ["bearer-token-0", "bearer-token-1"], wrong: "bearer-token-wrong", body: json({ id: "zap_1", type: "row.created" }), extraHeaders: [["X-Request-Id", "req-1"]], options: { id_header: "X-Request-Id" }, meta: { event_id: "zap_1", event_type: "row.created", delivery_id: "req-1", idempotency_key: "req-1" }, malformed: "Token abc" }));
specs.push(tokenSpec({ name: "basic-auth", docs: "RFC 7617", header: "Authorization", value: (s) => `Basic ${b64(B(s))}`, secrets: ["hooks:pass-0", "hooks:pass-1"], wrong: "hooks:wrong", body: json({ id: "n8n_1", type: "workflow.done" }), meta: { event_id: "n8n_1", event_type: "workflow.done" }, malformed: "Bearer abc" }));
specs.push(tokenSpec({ name: "postmark", docs: "Postmark", header: "Authorization", value: (s) => `Basic ${b64(B(s))}`, secrets: ["postmark:pw-0", "postmark:pw-1"], wrong: "postmark:wrong", body: json({ RecordType: "Delivery", MessageID: "883953f4-6105-42a2-a16a-77a8eac79483", ServerID: 23 }), meta: { event_id: "883953f4-6105-42a2-a16a-77a8eac79483", event_type: "Delivery" }, malformed: "Basic %%%" }));
specs.push(tokenSpec({ name: "token-header", docs: "Knocker's token-header", header: "X-Webhook-Token", value: (s) => s, secrets: ["internal-token-0", "internal-token-1"], wrong: "internal-token-wrong", body: json({ id: "x1" }), meta: {}, malformed: null }));
for (const s of specs) if (["gitlab", "telegram", "token-header", "bearer-token", "basic-auth", "postmark"].includes(s.name)) s.tamper = (b) => b + " ";
// Token schemes carry no body integrity: a changed body still verifies. Record that explicitly.
for (const s of specs) if (["gitlab", "telegram", "token-header", "bearer-token", "basic-auth", "postmark"].includes(s.name)) s.tamperExpected = { valid: true, secret_index: 0, ...s.meta };

// Generic HMAC, timestamped mode.
specs.push({
  name: "generic-hmac",
  sdk: "node:crypto (generic HMAC configured by options)",
  secrets: ["generic-secret-0", "generic-secret-1"],
  wrong: "generic-secret-wrong",
  url: "https://example.com/hooks/generic",
  options: { header: "X-Sig", prefix: "", encoding: "base64", algorithm: "sha512", signed_content: "timestamped", timestamp_header: "X-Ts", separator: ":", id_header: "X-Delivery", event_type_header: "X-Event" },
  body: json({ hello: "world" }),
  sign: ({ secret, body, ts }) => ({ headers: [["X-Ts", String(ts)], ["X-Sig", b64(hmac("sha512", secret, `${ts}:`, body))], ["X-Delivery", "d-1"], ["X-Event", "thing.happened"], ctJson] }),
  sigHeader: "X-Sig",
  malformed: "***",
  tolerance: { past: 300, future: 300 },
  meta: { event_type: "thing.happened", delivery_id: "d-1", idempotency_key: "d-1" },
  extra: async ({ valid, bad, by }) => {
    const b = valid.body;
    const hexSig = "sha1=" + hex(hmac("sha1", "generic-secret-0", b));
    return [
      ["body_mode_sha1_hex", { ...valid, options: { header: "X-Sig", prefix: "sha1=", algorithm: "sha1" }, headers: [["X-Sig", hexSig], ctJson], description: `body mode, sha1, hex, sha1= prefix ${by}`, secrets: ["generic-secret-0"], expected: { valid: true, secret_index: 0 } }],
      ["missing_timestamp_header", { ...valid, headers: withoutHeader(valid.headers, "X-Ts"), description: `timestamped mode without the timestamp header ${by}`, secrets: ["generic-secret-0"], expected: bad("missing_timestamp") }],
    ];
  },
});

// ------------------------------------------------------------------------------------------

fs.rmSync(OUT, { recursive: true, force: true });
for (const spec of specs) await emit(spec);
const total = Object.values(written).reduce((a, b) => a + b, 0);
console.log(`wrote ${total} vectors for ${Object.keys(written).length} providers`);
for (const [p, n] of Object.entries(written)) console.log(`  ${p}: ${n}`);
