//! `GET /audio/<lang>/<file>`: a recorded prompt as gateways fetch it, with its content type,
//! byte ranges (`Range: bytes=…`, 206/416), a validator (`ETag`, 304) and cache headers.
//! Only files the catalogue found are served; a path from the request never reaches the disk.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderValue,
    IF_NONE_MATCH, RANGE,
};
use hyper::{HeaderMap, Response, StatusCode};

use super::AudioCatalogue;

type Reply = Response<Full<Bytes>>;

fn plain(status: StatusCode, body: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A byte range of a `len`-byte file, from a `Range` header; `Err` when it cannot be met.
fn range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None); // another unit: the whole file
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: the whole file, as RFC 9110 allows
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.checked_sub(1).ok_or(())?)
        }
        (s, "") => (s.parse().map_err(|_| ())?, len.checked_sub(1).ok_or(())?),
        (s, e) => {
            let (s, e): (u64, u64) = (s.parse().map_err(|_| ())?, e.parse().map_err(|_| ())?);
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Serves `file` (`fr/incident.wav`) from `catalogue`.
pub async fn serve(
    catalogue: &AudioCatalogue,
    file: &str,
    headers: &HeaderMap,
    head: bool,
) -> Reply {
    let Some((path, mime)) = catalogue.served(file) else {
        return plain(StatusCode::NOT_FOUND, "no such recording\n");
    };
    let data = match tokio::fs::read(&path).await {
        Ok(d) => Bytes::from(d),
        Err(e) => {
            tracing::warn!(file = %file.escape_debug(), error = %e, "recording unreadable");
            return plain(StatusCode::NOT_FOUND, "no such recording\n");
        }
    };
    let len = data.len() as u64;
    let etag = format!("\"{:016x}\"", crate::hash::fnv1a(&data));
    let mut r = Response::new(Full::new(Bytes::new()));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // Prompts change only when re-recorded: gateways may cache them for a day.
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return r;
    }
    let wanted = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| range(v, len));
    let (status, body) = match wanted {
        Some(Err(())) => {
            let mut r = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            return r;
        }
        Some(Ok(Some((start, end)))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            (
                StatusCode::PARTIAL_CONTENT,
                data.slice(start as usize..=end as usize),
            )
        }
        _ => (StatusCode::OK, data),
    };
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    if !head {
        *r.body_mut() = Full::new(body);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(range("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(range("bytes=990-2000", 1000), Ok(Some((990, 999))));
        assert_eq!(range("bytes=-5000", 1000), Ok(Some((0, 999))));
        assert_eq!(range("bytes=1000-", 1000), Err(()));
        assert_eq!(range("bytes=5-2", 1000), Err(()));
        assert_eq!(range("bytes=a-b", 1000), Err(()));
        assert_eq!(range("bytes=-0", 1000), Err(()));
        assert_eq!(range("items=0-1", 1000), Ok(None));
        assert_eq!(range("bytes=0-1,5-6", 1000), Ok(None));
    }
}
