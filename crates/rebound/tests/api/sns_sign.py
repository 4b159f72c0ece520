"""Test helper: sign SNS envelopes with a fresh RSA key and a self-signed certificate.

Reads {"messages": [envelope without Signature, ...]} on stdin and prints
{"cert": PEM, "messages": [signed envelopes]}. The string to sign is built here from AWS's
documentation, independently of rebound's Rust code, so a signature that rebound accepts
proves both implementations agree; each signature is also checked here with the certificate.
"""
import base64
import datetime
import json
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def string_to_sign(m):
    keys = NOTIFICATION_KEYS if m["Type"] == "Notification" else CONFIRMATION_KEYS
    return "".join(f"{k}\n{m[k]}\n" for k in keys if k in m).encode("utf-8")


def main():
    req = json.load(sys.stdin)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    out = []
    for m in req["messages"]:
        h = hashes.SHA1() if m["SignatureVersion"] == "1" else hashes.SHA256()
        data = string_to_sign(m)
        sig = key.sign(data, padding.PKCS1v15(), h)
        cert.public_key().verify(sig, data, padding.PKCS1v15(), h)
        m["Signature"] = base64.b64encode(sig).decode()
        out.append(m)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    json.dump({"cert": pem, "messages": out}, sys.stdout)


if __name__ == "__main__":
    main()
