//! Secrets out of everything Sauti prints or stores about a delivery: URLs lose their
//! user-info, query values and `/key/<token>` segments; known secret strings become `***`.

/// What stands in for a secret.
pub const MASK: &str = "***";

/// Shorter "secrets" are not searched for in free text: they would mask ordinary words.
const SHORTEST_SECRET: usize = 4;

/// `url` with its user-info, every query value, its fragment and the segment after a `key`
/// segment (ODK Central's `/v1/key/<app-user-token>/...`) masked. Other text is unchanged.
pub fn url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let after = scheme_end + 3;
    let authority_end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    let authority = &url[after..authority_end];
    let mut out = url[..after].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let rest = &url[authority_end..];
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    out.push_str(&masked_path(path));
    if let Some(query) = query {
        out.push('?');
        out.push_str(&masked_query(query));
    }
    if fragment.is_some_and(|f| !f.is_empty()) {
        out.push('#');
        out.push_str(MASK);
    }
    out
}

fn masked_path(path: &str) -> String {
    let mut previous_was_key = false;
    path.split('/')
        .map(|segment| {
            let masked = if previous_was_key && !segment.is_empty() {
                MASK
            } else {
                segment
            };
            previous_was_key = segment.eq_ignore_ascii_case("key");
            masked
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every value masked, names kept (they tell an operator which parameter it was).
fn masked_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={MASK}"),
            None if pair.is_empty() => String::new(),
            None => MASK.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The secret parts of `url` (user-info password, query values, the `/key/<token>` segment),
/// percent-decoded too, to look for elsewhere in a message.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Vec::new();
    };
    let mut secrets: Vec<String> = Vec::new();
    if let Some(password) = parsed.password() {
        secrets.push(password.to_owned());
    }
    secrets.extend(parsed.query_pairs().map(|(_, v)| v.into_owned()));
    if let Some(segments) = parsed.path_segments() {
        let segments: Vec<&str> = segments.collect();
        for pair in segments.windows(2) {
            if pair[0].eq_ignore_ascii_case("key") {
                secrets.push(pair[1].to_owned());
            }
        }
    }
    let decoded: Vec<String> = secrets
        .iter()
        .filter_map(|s| {
            let d = percent_decode(s);
            (d != *s).then_some(d)
        })
        .collect();
    secrets.extend(decoded);
    secrets
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok();
        match (bytes[i], hex()) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Masks the secrets of one sink (or of anything) in messages about it.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.len() >= SHORTEST_SECRET)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `message` with every URL in it masked (see [`url`]) and every known secret replaced.
    pub fn text(&self, message: &str) -> String {
        let mut out = urls_masked(message);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Characters that end a URL quoted in prose or in an error (`for url (http://...)`).
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '<' | '>' | '`' | ',' | ';')
}

fn urls_masked(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(sep) = rest.find("://") {
        let scheme_start = rest[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[sep..].find(ends_url).map_or(rest.len(), |i| sep + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_user_info_is_masked() {
        assert_eq!(
            url("https://enum:s3cret@central.example.org/v1/projects/1/submission"),
            "https://***@central.example.org/v1/projects/1/submission"
        );
    }

    #[test]
    fn every_query_value_is_masked_and_the_names_kept() {
        assert_eq!(
            url("https://c.example.org/hook?token=abc&access_token=def&key=ghi&page=2&flag"),
            "https://c.example.org/hook?token=***&access_token=***&key=***&page=***&***"
        );
    }

    #[test]
    fn the_segment_after_key_is_masked() {
        assert_eq!(
            url("https://central.example.org/v1/key/Xa9$tok/projects/1/submission"),
            "https://central.example.org/v1/key/***/projects/1/submission"
        );
    }

    #[test]
    fn a_fragment_is_masked_and_a_plain_url_is_unchanged() {
        assert_eq!(
            url("https://c.example.org/cb#access_token=t0k"),
            "https://c.example.org/cb#***"
        );
        let plain = "http://127.0.0.1:8080/hooks/sauti";
        assert_eq!(url(plain), plain);
    }

    #[test]
    fn a_url_inside_an_error_message_is_masked() {
        let r = Redactor::default();
        assert_eq!(
            r.text("error sending request for url (http://u:p4ss@127.0.0.1:9/v1/key/T0KEN/projects/1/submission?x=1): connection refused"),
            "error sending request for url (http://***@127.0.0.1:9/v1/key/***/projects/1/submission?x=***): connection refused"
        );
    }

    #[test]
    fn a_known_secret_is_masked_wherever_it_appears() {
        let r = Redactor::new(["Bearer-t0ken-123".to_owned(), "ab".to_owned()]);
        assert_eq!(
            r.text("collector said: bad token Bearer-t0ken-123 (ab)"),
            "collector said: bad token *** (ab)"
        );
    }

    #[test]
    fn a_urls_secrets_are_found_decoded_too() {
        let secrets = url_secrets("https://u:p%40ss@c.example.org/v1/key/T0K0/x?token=q%2Bvw&n=1");
        for s in ["p%40ss", "p@ss", "T0K0", "q+vw"] {
            assert!(secrets.iter().any(|x| x == s), "{s} in {secrets:?}");
        }
        let r = Redactor::new(secrets);
        assert_eq!(r.text("refused p@ss and q+vw"), "refused *** and ***");
    }
}
