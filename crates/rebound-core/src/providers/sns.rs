//! Amazon SNS envelopes: parsing (both key spellings), the string to sign exactly as AWS
//! documents it, signature verification (SignatureVersion 1 = RSA PKCS#1 v1.5 SHA-1,
//! 2 = SHA-256, anything else refused), and the strict URL rules for `SigningCertURL` and
//! `SubscribeURL`. No IO: the certificate is an input.

use base64::Engine;
use serde_json::Value;

use super::ParseError;

/// The three SNS message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// A published message.
    Notification,
    /// Sent once when the subscription is created; must be confirmed.
    SubscriptionConfirmation,
    /// Sent when the subscription is deleted.
    UnsubscribeConfirmation,
}

impl MessageType {
    /// The `Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Notification => "Notification",
            MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            MessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// An SNS envelope with the Lambda spellings (`SigningCertUrl`, `SubscribeUrl`) folded into
/// the HTTP ones and a `null` Subject treated as absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `Type`.
    pub kind: MessageType,
    /// `MessageId`: the dedup key.
    pub message_id: String,
    /// `TopicArn`.
    pub topic_arn: String,
    /// `Message`, as decoded from JSON.
    pub message: String,
    /// `Subject`, where present.
    pub subject: Option<String>,
    /// `Timestamp`.
    pub timestamp: String,
    /// `SignatureVersion`.
    pub signature_version: String,
    /// `Signature` (base64).
    pub signature: String,
    /// `SigningCertURL`.
    pub signing_cert_url: String,
    /// `SubscribeURL` (confirmations).
    pub subscribe_url: Option<String>,
    /// `Token` (confirmations).
    pub token: Option<String>,
}

fn field(o: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| o.get(*k))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// Whether a body looks like an SES message delivered without its SNS envelope (raw
/// message delivery turned on).
pub fn looks_like_raw_delivery(v: &Value) -> bool {
    v.get("Type").is_none()
        && (v.get("notificationType").is_some()
            || v.get("eventType").is_some()
            || v.get("mail").is_some())
}

/// The message telling the user to turn raw message delivery off.
pub const RAW_DELIVERY_ERROR: &str = "this looks like an SES message without its SNS envelope: turn off \"raw message delivery\" on the SNS subscription (rebound needs the envelope to verify the signature)";

impl Envelope {
    /// Parses an envelope from the request body.
    pub fn parse(body: &[u8]) -> Result<Envelope, ParseError> {
        let v: Value = serde_json::from_slice(body).map_err(ParseError::json)?;
        Envelope::from_value(&v)
    }

    /// Parses an envelope from JSON.
    pub fn from_value(v: &Value) -> Result<Envelope, ParseError> {
        if looks_like_raw_delivery(v) {
            return Err(ParseError::new(RAW_DELIVERY_ERROR));
        }
        let o = v
            .as_object()
            .ok_or_else(|| ParseError::new("expected an SNS message (a JSON object)"))?;
        let req = |keys: &[&str]| {
            field(o, keys)
                .ok_or_else(|| ParseError::new(format!("SNS message without '{}'", keys[0])))
        };
        let kind = match req(&["Type"])?.as_str() {
            "Notification" => MessageType::Notification,
            "SubscriptionConfirmation" => MessageType::SubscriptionConfirmation,
            "UnsubscribeConfirmation" => MessageType::UnsubscribeConfirmation,
            other => {
                return Err(ParseError::new(format!(
                    "unknown SNS message type '{other}'"
                )))
            }
        };
        let confirmation = kind != MessageType::Notification;
        Ok(Envelope {
            kind,
            message_id: req(&["MessageId"])?,
            topic_arn: req(&["TopicArn"])?,
            message: req(&["Message"])?,
            subject: field(o, &["Subject"]),
            timestamp: req(&["Timestamp"])?,
            signature_version: req(&["SignatureVersion"])?,
            signature: req(&["Signature"])?,
            signing_cert_url: req(&["SigningCertURL", "SigningCertUrl"])?,
            subscribe_url: if confirmation {
                Some(req(&["SubscribeURL", "SubscribeUrl"])?)
            } else {
                None
            },
            token: if confirmation {
                Some(req(&["Token"])?)
            } else {
                None
            },
        })
    }

    /// The bytes AWS signs: `Key\nValue\n` for each signed key in AWS's documented order.
    pub fn string_to_sign(&self) -> Vec<u8> {
        let mut out = String::new();
        let mut push = |k: &str, v: &str| {
            out.push_str(k);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        };
        push("Message", &self.message);
        push("MessageId", &self.message_id);
        match self.kind {
            MessageType::Notification => {
                if let Some(s) = &self.subject {
                    push("Subject", s);
                }
                push("Timestamp", &self.timestamp);
            }
            _ => {
                push(
                    "SubscribeURL",
                    self.subscribe_url.as_deref().unwrap_or_default(),
                );
                push("Timestamp", &self.timestamp);
                push("Token", self.token.as_deref().unwrap_or_default());
            }
        }
        push("TopicArn", &self.topic_arn);
        push("Type", self.kind.as_str());
        out.into_bytes()
    }
}

/// Why an SNS message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// `SignatureVersion` other than 1 or 2.
    #[error("unsupported SignatureVersion '{0}'")]
    SignatureVersion(String),
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// The certificate cannot be read.
    #[error("unusable signing certificate: {0}")]
    Certificate(String),
    /// A URL breaks the rules.
    #[error("rejected URL: {0}")]
    Url(String),
    /// The topic is not allowed for this source.
    #[error("topic {0} is not allowed for this source")]
    Topic(String),
}

/// The parts of a URL rebound checks; only what the strict SNS rules need.
struct Parsed<'a> {
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn parse_https(url: &str) -> Result<Parsed<'_>, SnsError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| SnsError::Url(format!("{url}: not https")))?;
    if url.contains('#') {
        return Err(SnsError::Url(format!("{url}: fragment")));
    }
    if url.bytes().any(|b| b <= b' ' || b == b'\\' || b >= 0x7f) {
        return Err(SnsError::Url(format!("{url}: unexpected characters")));
    }
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(SnsError::Url(format!("{url}: userinfo")));
    }
    if authority.contains(':') {
        return Err(SnsError::Url(format!("{url}: explicit port")));
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Ok(Parsed {
        host: authority,
        path,
        query,
    })
}

/// The region of an `sns.<region>.amazonaws.com[.cn]` host, matched exactly.
fn sns_region(host: &str) -> Option<(&str, bool)> {
    let inner = host.strip_prefix("sns.")?;
    let (region, china) = match inner.strip_suffix(".amazonaws.com.cn") {
        Some(r) => (r, true),
        None => (inner.strip_suffix(".amazonaws.com")?, false),
    };
    let ok = region.len() >= 3
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-');
    ok.then_some((region, china))
}

/// Checks a `SigningCertURL`: https, host exactly `sns.<region>.amazonaws.com` (or `.com.cn`),
/// path `/SimpleNotificationService-<hex>.pem`, no userinfo, port, query or fragment.
/// Returns the certificate's file name.
pub fn check_cert_url(url: &str) -> Result<String, SnsError> {
    let p = parse_https(url)?;
    if sns_region(p.host).is_none() {
        return Err(SnsError::Url(format!("{url}: host is not an SNS endpoint")));
    }
    if p.query.is_some() {
        return Err(SnsError::Url(format!("{url}: query")));
    }
    let name = p
        .path
        .strip_prefix('/')
        .filter(|n| {
            n.strip_prefix("SimpleNotificationService-")
                .and_then(|n| n.strip_suffix(".pem"))
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .ok_or_else(|| {
            SnsError::Url(format!(
                "{url}: path is not /SimpleNotificationService-<hex>.pem"
            ))
        })?;
    Ok(name.to_string())
}

/// The region and partition of a topic ARN (`arn:aws:sns:<region>:<account>:<name>`).
pub fn topic_region(arn: &str) -> Option<(&str, bool)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if arn_ != "arn" || service != "sns" || region.is_empty() {
        return None;
    }
    Some((region, partition == "aws-cn"))
}

/// Checks a `SubscribeURL`: https, host exactly the SNS endpoint of the topic's region, path
/// `/`, no userinfo, port or fragment.
pub fn check_subscribe_url(url: &str, topic_arn: &str) -> Result<(), SnsError> {
    let p = parse_https(url)?;
    let (region, china) = topic_region(topic_arn)
        .ok_or_else(|| SnsError::Url(format!("{topic_arn}: not an SNS topic ARN")))?;
    let expected = format!(
        "sns.{region}.amazonaws.com{}",
        if china { ".cn" } else { "" }
    );
    if p.host != expected {
        return Err(SnsError::Url(format!("{url}: host is not {expected}")));
    }
    if p.path != "/" {
        return Err(SnsError::Url(format!("{url}: unexpected path")));
    }
    Ok(())
}

/// The RSA public key (PKCS#1 DER) of a PEM certificate.
pub fn public_key_from_pem(pem: &[u8]) -> Result<Vec<u8>, SnsError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| SnsError::Certificate(format!("not a PEM certificate: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| SnsError::Certificate(format!("not an X.509 certificate: {e}")))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

/// Verifies the envelope's signature with the certificate's RSA public key (PKCS#1 DER).
pub fn verify(env: &Envelope, public_key: &[u8]) -> Result<(), SnsError> {
    use aws_lc_rs::signature;
    let alg: &dyn signature::VerificationAlgorithm = match env.signature_version.as_str() {
        "1" => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        "2" => &signature::RSA_PKCS1_2048_8192_SHA256,
        other => return Err(SnsError::SignatureVersion(other.to_string())),
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(env.signature.trim())
        .map_err(|_| SnsError::BadSignature)?;
    signature::UnparsedPublicKey::new(alg, public_key)
        .verify(&env.string_to_sign(), &sig)
        .map_err(|_| SnsError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_urls_are_matched_exactly() {
        let good = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
        assert_eq!(
            check_cert_url(good).unwrap(),
            "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
        );
        assert!(check_cert_url(
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"
        )
        .is_ok());
        for bad in [
            "http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-7ff5.pem",
            "https://evil-sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5.pem",
            "https://s3.amazonaws.com/bucket/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-7ff5.pem",
            "https://evil.com@sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5.pem?x=1",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5.pem#frag",
            "https://sns.us-east-1.amazonaws.com/other.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
            "https://sns.us-east-1.amazonaws.com/x/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5.pem.evil",
            "https://sns.US-EAST-1.amazonaws.com/SimpleNotificationService-7ff5.pem",
            "https://sns.a.amazonaws.com/SimpleNotificationService-7ff5.pem",
            "https://sns.us-east-1.amazonaws.com\\@evil.com/SimpleNotificationService-7ff5.pem",
        ] {
            assert!(check_cert_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subscribe_urls_must_be_the_topics_region() {
        let arn = "arn:aws:sns:us-west-2:123456789012:SES";
        assert!(check_subscribe_url(
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y",
            arn
        )
        .is_ok());
        for bad in [
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-west-2.amazonaws.com.evil.com/?Action=ConfirmSubscription",
            "https://169.254.169.254/latest/meta-data/",
            "https://sns.us-west-2.amazonaws.com:444/?Action=ConfirmSubscription",
            "https://u:p@sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-west-2.amazonaws.com/admin?Action=ConfirmSubscription",
        ] {
            assert!(check_subscribe_url(bad, arn).is_err(), "{bad}");
        }
        assert!(check_subscribe_url(
            "https://sns.cn-north-1.amazonaws.com.cn/?a",
            "arn:aws-cn:sns:cn-north-1:1:t"
        )
        .is_ok());
        assert!(check_subscribe_url("https://sns.us-west-2.amazonaws.com/", "not-an-arn").is_err());
    }

    #[test]
    fn string_to_sign_follows_the_aws_lists() {
        let n = Envelope::parse(br#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"hi\n","Timestamp":"ts","SignatureVersion":"1","Signature":"s","SigningCertURL":"u","Subject":null,"SubscribeURL":"ignored"}"#).unwrap();
        assert_eq!(n.subject, None);
        assert_eq!(
            String::from_utf8(n.string_to_sign()).unwrap(),
            "Message\nhi\n\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
        );
        let c = Envelope::parse(br#"{"Type":"UnsubscribeConfirmation","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"ts","SignatureVersion":"2","Signature":"s","SigningCertUrl":"u","SubscribeUrl":"s-url","Token":"tok"}"#).unwrap();
        assert_eq!(String::from_utf8(c.string_to_sign()).unwrap(), "Message\nx\nMessageId\nm\nSubscribeURL\ns-url\nTimestamp\nts\nToken\ntok\nTopicArn\nt\nType\nUnsubscribeConfirmation\n");
        let e = Envelope::parse(br#"{"notificationType":"Bounce","mail":{}}"#).unwrap_err();
        assert!(e.0.contains("raw message delivery"), "{e}");
        let e = Envelope::parse(br#"{"Type":"Notification"}"#).unwrap_err();
        assert!(e.0.contains("'MessageId'"), "{e}");
    }
}
