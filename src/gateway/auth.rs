//! Who may call a gateway's routes: a shared secret (in a header or a query parameter,
//! compared in constant time) and/or an allow-list of addresses (CIDR), where
//! `X-Forwarded-For` is believed only when the connection comes from a trusted proxy.
//! Gateways that sign their requests (Twilio) are authenticated by their adapter.

use std::net::IpAddr;

use hyper::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;

/// `auth = { ... }` of a gateway in `sauti.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The header the gateway sends the shared secret in (`X-Sauti-Token`).
    #[serde(default)]
    pub token_header: Option<String>,
    /// Or the query parameter it sends it in (`token`), for gateways that cannot set headers.
    #[serde(default)]
    pub token_query: Option<String>,
    /// The shared secret itself (prefer `token_env`: a config file is read by more people).
    #[serde(default)]
    pub token: Option<String>,
    /// The variable holding the shared secret.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Addresses allowed to call (CIDR: `196.201.214.0/24`, `10.1.2.3/32`, `::1/128`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Proxies in front of Sauti whose `X-Forwarded-For` is believed (CIDR).
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Says explicitly that this gateway needs no authentication (the prod profile refuses
    /// a gateway without any otherwise).
    #[serde(default)]
    pub none: bool,
}

/// Why a request was refused before its gateway read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("missing credentials for this gateway")]
    MissingToken,
    #[error("wrong credentials for this gateway")]
    BadToken,
    #[error("this address may not call this gateway")]
    Address,
}

impl Refused {
    /// 401 for credentials, 403 for an address.
    pub fn status(self) -> u16 {
        match self {
            Refused::MissingToken | Refused::BadToken => 401,
            Refused::Address => 403,
        }
    }
}

#[derive(Clone)]
enum Place {
    Header(hyper::header::HeaderName),
    Query(String),
}

/// A gateway's checks, parsed once from its [`AuthConfig`].
#[derive(Clone, Default)]
pub struct GatewayAuth {
    token: Option<(Place, Vec<u8>)>,
    allow: Vec<IpNet>,
    trusted: Vec<IpNet>,
    /// The adapter checks a signature on every request.
    signed: bool,
    /// Declared open on purpose.
    open_on_purpose: bool,
}

impl std::fmt::Debug for GatewayAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayAuth")
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("allow", &self.allow)
            .field("trusted", &self.trusted)
            .field("signed", &self.signed)
            .finish()
    }
}

fn nets(list: &[String], what: &str) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{what}: `{s}` is not an address or a CIDR block"))
        })
        .collect()
}

impl GatewayAuth {
    /// The checks of `config`; `signed`: the adapter authenticates every request itself.
    pub fn new(config: Option<&AuthConfig>, signed: bool) -> Result<GatewayAuth, String> {
        let Some(c) = config else {
            return Ok(GatewayAuth {
                signed,
                ..GatewayAuth::default()
            });
        };
        let secret = match (&c.token, &c.token_env) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                format!("auth: the variable `{var}` holding the gateway's token is not set")
            })?),
            (None, None) => None,
        };
        let place = match (&c.token_header, &c.token_query) {
            (Some(h), None) => Some(Place::Header(
                h.parse()
                    .map_err(|_| format!("auth: `{h}` is not a header name"))?,
            )),
            (None, Some(q)) => Some(Place::Query(q.clone())),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err("auth: the token is in a header or in the query, not both".into());
            }
        };
        let token = match (place, secret) {
            (Some(p), Some(s)) if s.len() >= 16 => Some((p, s.into_bytes())),
            (Some(_), Some(_)) => {
                return Err("auth: the gateway's token must be at least 16 characters".into());
            }
            (None, None) => None,
            _ => {
                return Err(
                    "auth: a token needs both where it is sent (token_header or token_query) and its value (token_env or token)".into(),
                );
            }
        };
        Ok(GatewayAuth {
            token,
            allow: nets(&c.allow, "auth.allow")?,
            trusted: nets(&c.trusted_proxies, "auth.trusted_proxies")?,
            signed,
            open_on_purpose: c.none,
        })
    }

    /// Whether anyone who reaches the route is taken for the gateway.
    pub fn is_open(&self) -> bool {
        self.token.is_none() && self.allow.is_empty() && !self.signed
    }

    /// Whether the configuration says the gateway is open on purpose.
    pub fn open_on_purpose(&self) -> bool {
        self.open_on_purpose
    }

    /// The caller's address: the connection's, or, from a trusted proxy, the last address of
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted.iter().any(|n| n.contains(&peer)) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        forwarded
            .into_iter()
            .rev()
            .find(|a| !self.trusted.iter().any(|n| n.contains(a)))
            .unwrap_or(peer)
    }

    /// Checks one request.
    pub fn check(&self, peer: IpAddr, headers: &HeaderMap, query: &str) -> Result<(), Refused> {
        if !self.allow.is_empty() {
            let client = self.client(peer, headers);
            if !self.allow.iter().any(|n| n.contains(&client)) {
                return Err(Refused::Address);
            }
        }
        if let Some((place, secret)) = &self.token {
            let given: Option<Vec<u8>> = match place {
                Place::Header(h) => headers.get(h).map(|v| v.as_bytes().to_vec()),
                Place::Query(q) => serde_html_form::from_str::<Vec<(String, String)>>(query)
                    .ok()
                    .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == q))
                    .map(|(_, v)| v.into_bytes()),
            };
            let Some(given) = given else {
                return Err(Refused::MissingToken);
            };
            if !constant_time_eq(&given, secret) {
                return Err(Refused::BadToken);
            }
        }
        Ok(())
    }
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_token_in_a_header_or_the_query() {
        let auth = GatewayAuth::new(
            Some(&AuthConfig {
                token_header: Some("X-Sauti-Token".into()),
                token: Some("s3cret-s3cret-s3cret".into()),
                ..AuthConfig::default()
            }),
            false,
        )
        .unwrap();
        let peer = ip("203.0.113.5");
        assert_eq!(
            auth.check(
                peer,
                &headers(&[("x-sauti-token", "s3cret-s3cret-s3cret")]),
                ""
            ),
            Ok(())
        );
        assert_eq!(
            auth.check(peer, &headers(&[]), ""),
            Err(Refused::MissingToken)
        );
        assert_eq!(
            auth.check(
                peer,
                &headers(&[("x-sauti-token", "s3cret-s3cret-s3creT")]),
                ""
            ),
            Err(Refused::BadToken)
        );
        let q = GatewayAuth::new(
            Some(&AuthConfig {
                token_query: Some("token".into()),
                token: Some("s3cret-s3cret-s3cret".into()),
                ..AuthConfig::default()
            }),
            false,
        )
        .unwrap();
        assert_eq!(
            q.check(peer, &headers(&[]), "a=1&token=s3cret-s3cret-s3cret"),
            Ok(())
        );
        assert_eq!(
            q.check(peer, &headers(&[]), "token=x"),
            Err(Refused::BadToken)
        );
        assert!(!q.is_open());
        assert!(GatewayAuth::new(None, false).unwrap().is_open());
        assert!(!GatewayAuth::new(None, true).unwrap().is_open());
    }

    #[test]
    fn the_allow_list_believes_forwarded_addresses_only_from_trusted_proxies() {
        let auth = GatewayAuth::new(
            Some(&AuthConfig {
                allow: vec!["196.201.214.0/24".into()],
                trusted_proxies: vec!["10.0.0.1".into()],
                ..AuthConfig::default()
            }),
            false,
        )
        .unwrap();
        let forwarded = headers(&[("x-forwarded-for", "196.201.214.9, 10.0.0.1")]);
        assert_eq!(auth.check(ip("196.201.214.7"), &headers(&[]), ""), Ok(()));
        assert_eq!(auth.check(ip("10.0.0.1"), &forwarded, ""), Ok(()));
        // A forged header from anyone else is ignored: the connection's address counts.
        assert_eq!(
            auth.check(ip("198.51.100.1"), &forwarded, ""),
            Err(Refused::Address)
        );
        // From the proxy, the client is the last untrusted address.
        let spoofed = headers(&[("x-forwarded-for", "196.201.214.9, 198.51.100.1")]);
        assert_eq!(
            auth.check(ip("10.0.0.1"), &spoofed, ""),
            Err(Refused::Address)
        );
    }

    #[test]
    fn configuration_mistakes_are_named() {
        let bad = |c: AuthConfig| GatewayAuth::new(Some(&c), false).unwrap_err();
        assert!(
            bad(AuthConfig {
                allow: vec!["not-an-ip".into()],
                ..AuthConfig::default()
            })
            .contains("not-an-ip")
        );
        assert!(
            bad(AuthConfig {
                token_header: Some("X-T".into()),
                token: Some("short".into()),
                ..AuthConfig::default()
            })
            .contains("16")
        );
        assert!(
            bad(AuthConfig {
                token: Some("s3cret-s3cret-s3cret".into()),
                ..AuthConfig::default()
            })
            .contains("token_header")
        );
    }
}
