//! Provider adapters: one module per provider, each a `verify` on the raw request and a
//! `parse` into normalized events. [`Provider`] is the registry: adding a provider is one
//! module, one variant here, and its fixtures.

use crate::signature::VerifyError;
use crate::{Event, EventKind, Millis, Reason, WebhookRequest};

mod brevo;
mod forwardemail;
mod generic;
mod lettermint;
pub mod listmonk;
mod mailersend;
pub mod mailgun;
mod mailjet;
mod mailtrap;
pub mod mandrill;
mod md5;
pub mod postal;
mod postmark;
mod resend;
pub mod sample;
pub mod sendgrid;
mod ses;
mod smtp2go;
pub mod sns;
mod sparkpost;
pub mod tosend;
mod unisender_go;

/// A body that is authentic but cannot be understood. Answers 400 at ingest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into())
    }
    pub(crate) fn json(e: serde_json::Error) -> ParseError {
        ParseError(format!("invalid JSON: {e}"))
    }
}

/// How requests from a provider are authenticated, beyond the URL key every source has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The unguessable URL key is the only credential (the provider documents no signature).
    UrlKey,
    /// A signature over the raw body with a secret rebound generates (or the user chooses).
    Signature,
    /// A signature with a secret the provider issues: the user must paste it in.
    ProviderSecret,
    /// A signature checked with the provider's public key (source config `public_key`).
    PublicKey,
    /// HTTP basic auth.
    Basic,
    /// Amazon SNS: an RSA signature with a certificate fetched from AWS, plus a TopicArn
    /// allowlist. Verified by the HTTP layer with [`sns`], which needs the certificate.
    Sns,
}

/// What a source knows for verification.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceAuth<'a> {
    /// The signing secret, for providers that sign.
    pub secret: Option<&'a str>,
    /// The header carrying the signature, where a provider lets the user choose it.
    pub signature_header: Option<&'a str>,
    /// Provider-specific settings of the source (e.g. SendGrid's `public_key`).
    pub config: Option<&'a serde_json::Value>,
    /// Basic-auth credentials the source expects (username, password).
    pub basic: Option<(&'a str, &'a str)>,
    /// The webhook URL exactly as configured at the provider (Mandrill signs it).
    pub url: Option<&'a str>,
}

/// Checks HTTP basic auth against the source's credentials in constant time.
pub fn verify_basic(
    req: &WebhookRequest,
    expected: Option<(&str, &str)>,
) -> Result<(), VerifyError> {
    use base64::Engine;
    let (user, pass) = expected.ok_or(VerifyError::NoSecret)?;
    let header = req
        .header("authorization")
        .ok_or(VerifyError::Credentials)?;
    let (scheme, b64) = header.split_once(' ').ok_or(VerifyError::Credentials)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(VerifyError::Credentials);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| VerifyError::Credentials)?;
    let want = format!("{user}:{pass}");
    if crate::signature::ct_eq(&raw, want.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::Credentials)
    }
}

/// The providers rebound understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// ToSend (tosend.com): bounce and complaint events, URL key auth.
    ToSend,
    /// Any sender of HMAC-signed `{id,type,created_at,data}` events or Standard Webhooks.
    Generic,
    /// listmonk's bounce API shape (`POST /webhooks/bounce`), basic auth.
    Listmonk,
    /// Amazon SES notifications delivered through SNS.
    Ses,
    /// SendGrid Event Webhook (signed with ECDSA).
    SendGrid,
    /// Postmark webhooks (basic auth).
    Postmark,
    /// Mailgun webhooks (HMAC of timestamp + token).
    Mailgun,
    /// Resend webhooks (Svix signatures).
    Resend,
    /// SparkPost webhooks (basic auth).
    SparkPost,
    /// Mailjet event API (basic auth).
    Mailjet,
    /// Brevo transactional webhooks (basic auth).
    Brevo,
    /// Postal webhooks (RSA signatures).
    Postal,
    /// Mandrill webhooks (HMAC-SHA1 over the URL and form fields).
    Mandrill,
    /// MailerSend webhooks (hex HMAC-SHA256 in `Signature`).
    MailerSend,
    /// ForwardEmail bounce webhooks (hex HMAC-SHA256 in `X-Webhook-Signature`).
    ForwardEmail,
    /// Mailtrap webhooks (hex HMAC-SHA256 in `Mailtrap-Signature`).
    Mailtrap,
    /// Unisender Go / UniOne webhooks (MD5 of the body with the API key, in `auth`).
    UnisenderGo,
    /// SMTP2GO webhooks (basic auth; form-encoded or JSON).
    Smtp2go,
    /// Lettermint webhooks (HMAC-SHA256 of `t.body` in `X-Lettermint-Signature`).
    Lettermint,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 19] = [
        Provider::Ses,
        Provider::SendGrid,
        Provider::Postmark,
        Provider::Mailgun,
        Provider::Resend,
        Provider::SparkPost,
        Provider::Mailjet,
        Provider::Brevo,
        Provider::Postal,
        Provider::Mandrill,
        Provider::MailerSend,
        Provider::ForwardEmail,
        Provider::Mailtrap,
        Provider::UnisenderGo,
        Provider::Smtp2go,
        Provider::Lettermint,
        Provider::ToSend,
        Provider::Generic,
        Provider::Listmonk,
    ];

    /// The provider's name in URLs, the CLI and the database.
    pub fn name(self) -> &'static str {
        match self {
            Provider::ToSend => "tosend",
            Provider::Generic => "generic",
            Provider::Listmonk => "listmonk",
            Provider::Ses => "ses",
            Provider::SendGrid => "sendgrid",
            Provider::Postmark => "postmark",
            Provider::Mailgun => "mailgun",
            Provider::Resend => "resend",
            Provider::SparkPost => "sparkpost",
            Provider::Mailjet => "mailjet",
            Provider::Brevo => "brevo",
            Provider::Postal => "postal",
            Provider::Mandrill => "mandrill",
            Provider::MailerSend => "mailersend",
            Provider::ForwardEmail => "forwardemail",
            Provider::Mailtrap => "mailtrap",
            Provider::UnisenderGo => "unisender-go",
            Provider::Smtp2go => "smtp2go",
            Provider::Lettermint => "lettermint",
        }
    }

    /// Looks a provider up by name.
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }

    /// How the provider authenticates its requests.
    pub fn auth(self) -> Auth {
        match self {
            Provider::ToSend => Auth::UrlKey,
            Provider::Generic => Auth::Signature,
            Provider::Listmonk => Auth::Basic,
            Provider::Ses => Auth::Sns,
            Provider::SendGrid | Provider::Postal => Auth::PublicKey,
            Provider::Mandrill
            | Provider::MailerSend
            | Provider::ForwardEmail
            | Provider::Mailtrap
            | Provider::UnisenderGo
            | Provider::Lettermint => Auth::ProviderSecret,
            Provider::Postmark
            | Provider::SparkPost
            | Provider::Mailjet
            | Provider::Brevo
            | Provider::Smtp2go => Auth::Basic,
            Provider::Mailgun | Provider::Resend => Auth::ProviderSecret,
        }
    }

    /// Whether the provider's event ids are unique only per sender account, so that the
    /// dedup key must be scoped to the source.
    pub fn dedup_per_source(self) -> bool {
        matches!(self, Provider::Generic)
    }

    /// Checks a provider's public key (`public_key` of a source); the message says what
    /// is wrong.
    pub fn check_public_key(self, key: &str) -> Result<(), String> {
        match self {
            Provider::SendGrid => sendgrid::check_public_key(key),
            Provider::Postal => postal::check_public_key(key),
            _ => Err(format!(
                "public_key does not apply to the {} provider",
                self.name()
            )),
        }
    }

    /// Whether the provider authenticates with basic-auth credentials that rebound generates
    /// and puts in the webhook URL (`https://user:pass@host/…`).
    pub fn basic_in_url(self) -> bool {
        matches!(
            self,
            Provider::Postmark
                | Provider::SparkPost
                | Provider::Mailjet
                | Provider::Brevo
                | Provider::Smtp2go
        )
    }

    /// Verifies the request on its raw bytes. Basic auth and the URL key are checked by
    /// the HTTP layer, which knows the credentials; this checks what the body carries.
    pub fn verify(
        self,
        req: &WebhookRequest,
        auth: SourceAuth<'_>,
        now: Millis,
    ) -> Result<(), VerifyError> {
        match self {
            Provider::ToSend | Provider::Listmonk => Ok(()),
            Provider::Generic => generic::verify(req, auth, now),
            // SNS needs the signing certificate, which only the HTTP layer can fetch: it
            // verifies with `sns::verify`. Never accept here.
            Provider::Ses => Err(VerifyError::Invalid),
            Provider::SendGrid => sendgrid::verify(req, auth, now),
            Provider::Postal => postal::verify(req, auth),
            Provider::Mandrill => mandrill::verify(req, auth),
            Provider::MailerSend => mailersend::verify(req, auth),
            Provider::ForwardEmail => forwardemail::verify(req, auth),
            Provider::Mailtrap => mailtrap::verify(req, auth),
            Provider::UnisenderGo => unisender_go::verify(req, auth),
            Provider::Lettermint => lettermint::verify(req, auth, now),
            Provider::Postmark
            | Provider::SparkPost
            | Provider::Mailjet
            | Provider::Brevo
            | Provider::Smtp2go => verify_basic(req, auth.basic),
            Provider::Mailgun => mailgun::verify(req, auth, now),
            Provider::Resend => resend::verify(req, auth, now),
        }
    }

    /// Normalizes a verified request into events (possibly none).
    pub fn parse(self, req: &WebhookRequest) -> Result<Vec<Event>, ParseError> {
        match self {
            Provider::ToSend => tosend::parse(req),
            Provider::Generic => generic::parse(req),
            Provider::Listmonk => listmonk::parse(req),
            Provider::Ses => ses::parse(req),
            Provider::SendGrid => sendgrid::parse(req),
            Provider::Postmark => postmark::parse(req),
            Provider::Mailgun => mailgun::parse(req),
            Provider::Resend => resend::parse(req),
            Provider::SparkPost => sparkpost::parse(req),
            Provider::Mailjet => mailjet::parse(req),
            Provider::Brevo => brevo::parse(req),
            Provider::Postal => postal::parse(req),
            Provider::Mandrill => mandrill::parse(req),
            Provider::MailerSend => mailersend::parse(req),
            Provider::ForwardEmail => forwardemail::parse(req),
            Provider::Mailtrap => mailtrap::parse(req),
            Provider::UnisenderGo => unisender_go::parse(req),
            Provider::Smtp2go => smtp2go::parse(req),
            Provider::Lettermint => lettermint::parse(req),
        }
    }
}

/// The reason an event carries: what `bounce` works out for a bounce, `feedback` for a
/// complaint, none for the rest.
pub(crate) fn reason_of(kind: EventKind, bounce: impl FnOnce() -> Reason) -> Option<Reason> {
    match kind {
        EventKind::Bounce => Some(bounce()),
        EventKind::Complaint => Some(Reason::Feedback),
        _ => None,
    }
}

/// Classifies from the status and diagnostic; where that finds nothing, the provider's own
/// hint (a bounce sub-type, a category) decides.
pub(crate) fn classify_or(
    status: Option<&str>,
    diagnostic: Option<&str>,
    hint: Option<Reason>,
) -> Reason {
    match crate::reason::classify(status, diagnostic) {
        Reason::Undefined => hint.unwrap_or(Reason::Undefined),
        r => r,
    }
}

/// A JSON body as one object or an array of objects, so batch payloads are handled whole.
pub(crate) fn objects(body: &[u8]) -> Result<Vec<serde_json::Value>, ParseError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(ParseError::json)?;
    match v {
        serde_json::Value::Array(items) => {
            if let Some(i) = items.iter().position(|x| !x.is_object()) {
                return Err(ParseError::new(format!(
                    "item {i} of the array is not an object"
                )));
            }
            Ok(items)
        }
        serde_json::Value::Object(_) => Ok(vec![v]),
        _ => Err(ParseError::new(
            "expected a JSON object or an array of objects",
        )),
    }
}

/// A string field of an object, empty strings treated as absent.
pub(crate) fn str_field<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(|x| x.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The address in `field`, or an error naming the field and the item.
pub(crate) fn address_field(
    v: &serde_json::Value,
    key: &str,
    item: usize,
) -> Result<crate::Address, ParseError> {
    let raw = str_field(v, key)
        .ok_or_else(|| ParseError::new(format!("item {item}: missing field '{key}'")))?;
    crate::Address::parse(raw).map_err(|e| ParseError::new(format!("item {item}: {key}: {e}")))
}
