"""Signature vectors from the providers' official Python packages (PyPI).

Regenerates the constants of crates/rebound-core/tests/official_vectors.rs. Not run by CI.
See README.md beside this file for the pinned versions and how to run it.

Each section builds a small body in the provider's documented format, signs it with the
official package where the package can sign, or else signs it with the standard library
and has the official package's verifier confirm that the signature is good and that the
tampered variants (body changed, wrong key, stale timestamp) are refused. The clock of
every verifier is pinned to TS so the vectors do not age. Prints one JSON object.
"""

import datetime
import hashlib
import hmac
import json
import sys
from importlib.metadata import version
from unittest import mock

TS = 1767225600  # 2026-01-01T00:00:00Z
STALE = TS + 301  # past the 5-minute tolerance of Standard Webhooks and Lettermint
OUT = {}


def flip(body: str) -> str:
    """The body with one byte changed (the first '5' becomes '4')."""
    i = body.index("5")
    return body[:i] + "4" + body[i + 1 :]


def at(module_time, t):
    """Pins a module's `time.time()` to t."""
    return mock.patch(module_time, return_value=t)


# --- Svix (Resend signs with Svix): PyPI svix --------------------------------------------
import svix  # noqa: E402

SVIX_SECRET = "whsec_cmVib3VuZC1vZmZpY2lhbC12ZWN0b3Ih"  # base64 of "rebound-official-vector!"
SVIX_ID = "msg_rebound_vector_01"
SVIX_BODY = (
    '{"type":"email.bounced","created_at":"2026-01-01T00:00:00.000Z","data":'
    '{"email_id":"4ef9a417-02e9-4d39-ad75-9611e0fcc33c","to":["gone@example.com"],'
    '"subject":"Hello","bounce":{"type":"Permanent","subType":"General",'
    '"message":"550 5.1.1 The email account that you tried to reach does not exist"}}}'
)
when = datetime.datetime.fromtimestamp(TS, tz=datetime.timezone.utc)
wh = svix.Webhook(SVIX_SECRET)
sig = wh.sign(SVIX_ID, when, SVIX_BODY)
hdrs = {"svix-id": SVIX_ID, "svix-timestamp": str(TS), "svix-signature": sig}
with mock.patch("standardwebhooks.webhooks.datetime") as dt:
    # standardwebhooks reads the clock with datetime.now(tz=timezone.utc)
    dt.now.return_value = when
    dt.fromtimestamp = datetime.datetime.fromtimestamp
    wh.verify(SVIX_BODY, hdrs)
    for bad_body, bad_secret in [
        (flip(SVIX_BODY), SVIX_SECRET),
        (SVIX_BODY, "whsec_b3RoZXItc2VjcmV0LW9mLTI0LWJ5dGVz"),
    ]:
        try:
            svix.Webhook(bad_secret).verify(bad_body, hdrs)
            sys.exit("svix accepted a tampered vector")
        except svix.WebhookVerificationError:
            pass
    dt.now.return_value = datetime.datetime.fromtimestamp(TS + 300, tz=datetime.timezone.utc)
    wh.verify(SVIX_BODY, hdrs)  # the last second of the tolerance
    dt.now.return_value = datetime.datetime.fromtimestamp(STALE, tz=datetime.timezone.utc)
    try:
        wh.verify(SVIX_BODY, hdrs)
        sys.exit("svix accepted a stale vector")
    except svix.WebhookVerificationError:
        pass
OUT["svix"] = {
    "package": f"PyPI svix {version('svix')}",
    "call": "svix.Webhook(secret).sign(msg_id, datetime(ts), body)",
    "secret": SVIX_SECRET,
    "id": SVIX_ID,
    "timestamp": TS,
    "body": SVIX_BODY,
    "signature": sig,
}

# --- Standard Webhooks (rebound's generic provider): PyPI standardwebhooks -----------------
import standardwebhooks  # noqa: E402

SW_SECRET = "whsec_" + __import__("base64").b64encode(b"rebound standard webhooks key #1").decode()
SW_ID = "evt_rebound_vector_01"
SW_BODY = (
    '{"id":"evt_rebound_vector_01","type":"bounced.hard","created_at":"2026-01-01T00:00:00Z",'
    '"data":{"message_id":"msg_01","email":"gone@example.com","bounce_code":"550",'
    '"bounce_reason":"5.1.1 The email account that you tried to reach does not exist"}}'
)
sw_sig = standardwebhooks.Webhook(SW_SECRET).sign(SW_ID, when, SW_BODY)
# The secret without its base64 padding is the same key to the library.
SW_UNPADDED = SW_SECRET.rstrip("=")
assert SW_UNPADDED != SW_SECRET
assert standardwebhooks.Webhook(SW_UNPADDED).sign(SW_ID, when, SW_BODY) == sw_sig
OUT["standardwebhooks"] = {
    "package": f"PyPI standardwebhooks {version('standardwebhooks')}",
    "call": "standardwebhooks.Webhook(secret).sign(msg_id, datetime(ts), body)",
    "secret": SW_SECRET,
    "secret_unpadded": SW_UNPADDED,
    "id": SW_ID,
    "timestamp": TS,
    "body": SW_BODY,
    "signature": sw_sig,
}

# --- Mailgun: PyPI mailgun (verifier only: SecurityGuard.verify_webhook) -------------------
from mailgun.security import SecurityGuard  # noqa: E402

MG_KEY = "key-rebound-mailgun-signing-01"
MG_TOKEN = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
mg_sig = hmac.new(MG_KEY.encode(), f"{TS}{MG_TOKEN}".encode(), hashlib.sha256).hexdigest()
with at("mailgun.security.time.time", TS):
    assert SecurityGuard.verify_webhook(MG_KEY, MG_TOKEN, str(TS), mg_sig)
    assert not SecurityGuard.verify_webhook("key-other", MG_TOKEN, str(TS), mg_sig)
    assert not SecurityGuard.verify_webhook(MG_KEY, MG_TOKEN[:-1] + "1", str(TS), mg_sig)
with at("mailgun.security.time.time", TS + 900):
    assert SecurityGuard.verify_webhook(MG_KEY, MG_TOKEN, str(TS), mg_sig)
with at("mailgun.security.time.time", TS + 901):
    assert not SecurityGuard.verify_webhook(MG_KEY, MG_TOKEN, str(TS), mg_sig)
MG_BODY = json.dumps(
    {
        "signature": {"timestamp": str(TS), "token": MG_TOKEN, "signature": mg_sig},
        "event-data": {
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": TS,
            "event": "failed",
            "severity": "permanent",
            "recipient": "gone@example.com",
            "delivery-status": {"code": 550, "message": "5.1.1 User unknown"},
            "message": {"headers": {"message-id": "20260101000000.1.rebound@example.com"}},
        },
    },
    separators=(",", ":"),
)
OUT["mailgun"] = {
    "package": f"PyPI mailgun {version('mailgun')}",
    "call": "mailgun.security.SecurityGuard.verify_webhook(key, token, ts, sig) -> True",
    "key": MG_KEY,
    "token": MG_TOKEN,
    "timestamp": TS,
    "signature": mg_sig,
    "body": MG_BODY,
}

# --- Mailtrap: PyPI mailtrap (verifier only: mailtrap.webhooks.verify_signature) ----------
from mailtrap.webhooks import verify_signature as mailtrap_verify  # noqa: E402

MT_SECRET = "c3f7a0e4b1d24e5f9a8b7c6d5e4f3a2b"
MT_BODY = (
    '{"events":[{"event":"bounce","timestamp":1767225600,"sending_stream":"transactional",'
    '"message_id":"1df37d17-0286-4d8b-8edf-bc4ec5be86e6","email":"gone@example.com",'
    '"event_id":"bede7236-2284-43d6-a953-1fdcafd0fdbc","response":"bounced (550 5.1.1 '
    'The email account that you tried to reach does not exist)","response_code":550,'
    '"bounce_category":"hard"}]}'
)
mt_sig = hmac.new(MT_SECRET.encode(), MT_BODY.encode(), hashlib.sha256).hexdigest()
assert mailtrap_verify(MT_BODY, mt_sig, MT_SECRET)
assert not mailtrap_verify(flip(MT_BODY), mt_sig, MT_SECRET)
assert not mailtrap_verify(MT_BODY, mt_sig, "other-secret")
assert not mailtrap_verify(MT_BODY, mt_sig[:-2], MT_SECRET)
OUT["mailtrap"] = {
    "package": f"PyPI mailtrap {version('mailtrap')}",
    "call": "mailtrap.webhooks.verify_signature(body, sig, secret) -> True",
    "secret": MT_SECRET,
    "body": MT_BODY,
    "signature": mt_sig,
}

# --- Lettermint: PyPI lettermint (verifier only: lettermint.Webhook.verify) ---------------
from lettermint.exceptions import WebhookVerificationError as LmError  # noqa: E402
from lettermint.webhook import Webhook as LmWebhook  # noqa: E402

LM_SECRET = "whsec_rebound_lettermint_vector_01"
LM_BODY = (
    '{"id":"0c1a6b9e-5d0f-4c1e-9b53-7a5f3e2d1c01","event":"message.hard_bounced",'
    '"timestamp":"2026-01-01T00:00:00Z","data":{"message_id":"m-1","recipient":'
    '"gone@example.com","response":{"status_code":550,"enhanced_status_code":"5.1.1",'
    '"content":"550 5.1.1 User unknown"}}}'
)
lm_hex = hmac.new(LM_SECRET.encode(), f"{TS}.{LM_BODY}".encode(), hashlib.sha256).hexdigest()
lm_header = f"t={TS},v1={lm_hex}"
lm_headers = {"X-Lettermint-Signature": lm_header, "X-Lettermint-Delivery": str(TS)}
with at("lettermint.webhook.time.time", TS):
    LmWebhook(LM_SECRET).verify(LM_BODY, lm_headers)
    for body, secret in [(flip(LM_BODY), LM_SECRET), (LM_BODY, "whsec_other")]:
        try:
            LmWebhook(secret).verify(body, lm_headers)
            sys.exit("lettermint accepted a tampered vector")
        except LmError:
            pass
with at("lettermint.webhook.time.time", TS + 300):
    LmWebhook(LM_SECRET).verify(LM_BODY, lm_headers)
with at("lettermint.webhook.time.time", STALE):
    try:
        LmWebhook(LM_SECRET).verify(LM_BODY, lm_headers)
        sys.exit("lettermint accepted a stale vector")
    except LmError:
        pass
OUT["lettermint"] = {
    "package": f"PyPI lettermint {version('lettermint')}",
    "call": "lettermint.Webhook(secret).verify(body, headers) -> payload",
    "secret": LM_SECRET,
    "body": LM_BODY,
    "timestamp": TS,
    "signature": lm_header,
}

# --- Unisender Go (UniOne): PyPI unione-flask (unione_wrapper.signature.sign) -------------
from unione_wrapper import signature as unione_sig  # noqa: E402

UG_KEY = "6ykc8xk3b5ndfczr4qwk6ixk8hu3yuyf8f8g6zaa"
UG_TEMPLATE = (
    '{"auth":"00000000000000000000000000000000","events_by_user":[{"user_id":456,'
    '"project_id":"6432890213745872","project_name":"rebound","events":[{"event_name":'
    '"transactional_email_status","event_data":{"job_id":"1a3Q2V-0000OZ-S0","metadata":'
    '{"key1":"val1"},"email":"gone@example.com","status":"hard_bounced","event_time":'
    '"2026-01-01 00:00:00","delivery_info":{"delivery_status":"err_user_unknown",'
    '"destination_response":"550 5.1.1 User unknown","user_agent":null,'
    '"ip":"111.111.111.111"}}}]}]}'
)
ug_body = unione_sig.sign(UG_TEMPLATE, UG_KEY).decode()
assert unione_sig.verify(ug_body, UG_KEY)
assert not unione_sig.verify(ug_body, "other-key")
assert not unione_sig.verify(ug_body.replace("gone@", "gona@"), UG_KEY)
OUT["unisender_go"] = {
    "package": f"PyPI unione-flask {version('unione-flask')}",
    "call": "unione_wrapper.signature.sign(body_with_zero_auth, api_key)",
    "key": UG_KEY,
    "body": ug_body,
}

json.dump(OUT, sys.stdout, indent=1)
print()
