//! The IO half of Amazon SNS: signing certificates (validated URL → local directory or a
//! guarded HTTPS fetch → bounded cache) and subscription confirmation.
//!
//! Every outbound request goes through [`SnsHttp`]. The production implementation,
//! [`HttpsFetcher`], follows no redirects, times out after 5 s, reads at most a size cap,
//! uses no proxy, and resolves names itself so that it never connects to a loopback,
//! private, link-local or otherwise non-public address. Only URLs that passed
//! `rebound_core::providers::sns::check_cert_url` / `check_subscribe_url` reach it. Tests
//! inject their own implementation; there is no bypass switch in the product.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rebound_core::providers::sns::{self, SnsError};

/// Largest certificate read.
pub const MAX_CERT_BYTES: usize = 64 * 1024;
/// Largest SubscribeURL answer read.
pub const MAX_CONFIRM_BYTES: usize = 64 * 1024;
/// Certificates kept in memory.
const CACHE_SIZE: usize = 64;

/// A GET of an already validated https URL.
#[async_trait]
pub trait SnsHttp: Send + Sync {
    /// Fetches `url`, failing past `max_bytes`, on a redirect, or on a non-2xx status.
    async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, String>;
}

/// Whether an address is one rebound may connect to for SNS: a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0xdb8))
        }
    }
}

/// A resolver that drops every non-public address (and fails when none is left).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 443))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The production fetcher (see the module docs).
pub struct HttpsFetcher {
    client: reqwest::Client,
}

impl HttpsFetcher {
    /// Builds the guarded client.
    pub fn new() -> Result<HttpsFetcher, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .no_proxy()
            .https_only(true)
            .dns_resolver(Arc::new(PublicOnly))
            .user_agent("rebound")
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpsFetcher { client })
    }
}

#[async_trait]
impl SnsHttp for HttpsFetcher {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
        // IP literals bypass the resolver: check them here.
        let host = url.split_once("://").map_or("", |(_, r)| r);
        let host = host.split(['/', '?', '#']).next().unwrap_or("");
        let host = host
            .rsplit_once(':')
            .filter(|(h, p)| !h.ends_with(']') || p.is_empty())
            .map_or(host, |(h, _)| h);
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            if !is_public(ip) {
                return Err(format!("{ip} is not a public address"));
            }
        }
        let mut resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{e:#}"))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(format!("response larger than {max_bytes} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > max_bytes {
                return Err(format!("response larger than {max_bytes} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Signing certificates and confirmation, shared by every request and worker.
pub struct Sns {
    http: Arc<dyn SnsHttp>,
    cert_dir: Option<PathBuf>,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

/// Why a certificate could not be had.
#[derive(Debug)]
pub enum CertError {
    /// The URL or certificate is not acceptable: the message is forged or broken (401).
    Rejected(SnsError),
    /// It could not be fetched: possibly transient (503, so SNS retries).
    Unavailable(String),
}

impl Sns {
    /// `http` does the outbound requests; `cert_dir` holds certificates available locally,
    /// named like the last segment of `SigningCertURL`.
    pub fn new(http: Arc<dyn SnsHttp>, cert_dir: Option<PathBuf>) -> Sns {
        Sns {
            http,
            cert_dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The RSA public key for a `SigningCertURL`, checked, then from the cache, the local
    /// directory, or the network.
    pub async fn public_key(&self, cert_url: &str) -> Result<Arc<Vec<u8>>, CertError> {
        let name = sns::check_cert_url(cert_url).map_err(CertError::Rejected)?;
        if let Some(k) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(cert_url).cloned())
        {
            return Ok(k);
        }
        let local = self
            .cert_dir
            .as_ref()
            .map(|d| d.join(&name))
            .filter(|p| p.is_file());
        let pem = match local {
            Some(path) => std::fs::read(&path)
                .map_err(|e| CertError::Unavailable(format!("{}: {e}", path.display())))?,
            None => self
                .http
                .get(cert_url, MAX_CERT_BYTES)
                .await
                .map_err(|e| CertError::Unavailable(format!("fetching {cert_url}: {e}")))?,
        };
        let key = Arc::new(sns::public_key_from_pem(&pem).map_err(CertError::Rejected)?);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_SIZE {
                c.clear();
            }
            c.insert(cert_url.to_string(), key.clone());
        }
        Ok(key)
    }

    /// Confirms a subscription by fetching its (already checked) SubscribeURL.
    pub async fn confirm(&self, subscribe_url: &str) -> Result<(), String> {
        self.http
            .get(subscribe_url, MAX_CONFIRM_BYTES)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reachable() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["52.94.236.248", "2600:1f18::1", "8.8.8.8"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    /// The production fetcher refuses to connect to a loopback address, even when asked.
    #[tokio::test]
    async fn the_https_fetcher_never_connects_to_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let f = HttpsFetcher::new().unwrap();
        let err = f
            .get(&format!("https://localhost:{port}/x.pem"), 1024)
            .await
            .unwrap_err();
        assert!(!err.is_empty());
        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "the fetcher connected to loopback");
        let err = f
            .get(&format!("https://127.0.0.1:{port}/x.pem"), 1024)
            .await
            .unwrap_err();
        assert!(err.contains("not a public address"), "{err}");
        let err = f
            .get(&format!("http://localhost:{port}/x.pem"), 1024)
            .await
            .unwrap_err();
        assert!(!err.is_empty(), "plain http is refused");
    }
}
