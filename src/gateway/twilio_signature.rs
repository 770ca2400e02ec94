//! Twilio's request signature (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed by the
//! account's auth token, over the public URL followed by every POST parameter sorted by name
//! (and value), name and value concatenated without separators.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

fn mac(token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Sorted by name, then value; a repeated (name, value) pair counts once.
    sorted.sort_unstable();
    sorted.dedup();
    let mut mac = HmacSha1::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// The signature Twilio sends for a request to `url` with form `params`.
pub fn sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(token, url, params).finalize().into_bytes())
}

/// Whether `given` signs this request, in constant time. As Twilio's own libraries do, the URL
/// is also tried with its default port added or removed (Twilio is not consistent about it).
pub fn verify(token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let Ok(given) = STANDARD.decode(given.trim()) else {
        return false;
    };
    let mut ok = false;
    for candidate in port_variants(url) {
        // Every variant is checked: the time taken does not depend on which one matched.
        ok |= mac(token, &candidate, params).verify_slice(&given).is_ok();
    }
    ok
}

/// `url` as given, and with its default port toggled (`https://h/x` ↔ `https://h:443/x`).
fn port_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let (scheme, default) = if url.starts_with("https://") {
        ("https://", ":443")
    } else if url.starts_with("http://") {
        ("http://", ":80")
    } else {
        return out;
    };
    let rest = &url[scheme.len()..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    match host.strip_suffix(default) {
        Some(bare) => out.push(format!("{scheme}{bare}{tail}")),
        None if !host.contains(':') => out.push(format!("{scheme}{host}{default}{tail}")),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The vectors of twilio-python's own tests.
    #[test]
    fn official_vectors() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(verify(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // Signed with the port added: accepted for the URL without it.
        assert!(verify(
            "12345",
            url,
            &params,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(!verify(
            "12345",
            url,
            &params,
            "kvajT1Ptam85bY51eRf/AJRuM3x="
        ));
        assert!(!verify(
            "1234",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!verify("12345", url, &params, "not base64!"));
        let multi = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign("12345", url, &multi), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn default_ports_are_toggled() {
        assert_eq!(
            port_variants("https://h.example/x?a=1"),
            ["https://h.example/x?a=1", "https://h.example:443/x?a=1"]
        );
        assert_eq!(
            port_variants("http://h.example:80/x"),
            ["http://h.example:80/x", "http://h.example/x"]
        );
        assert_eq!(port_variants("https://h:8443/x"), ["https://h:8443/x"]);
    }
}
