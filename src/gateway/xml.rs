//! XML replies of voice gateways, written with quick-xml: every text and attribute escaped,
//! characters XML 1.0 cannot carry dropped, never a string concatenated with user data.

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

pub(crate) type Xml = Writer<Vec<u8>>;

/// `<?xml version="1.0" encoding="UTF-8"?><Response>…</Response>`, the body written by `body`.
pub(crate) fn response(body: impl FnOnce(&mut Xml) -> io::Result<()>) -> String {
    let mut w = Writer::new(Vec::with_capacity(512));
    let written = w
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|_| {
            w.create_element("Response")
                .write_inner_content(body)
                .map(|_| ())
        });
    // Writing into a Vec cannot fail.
    written.expect("XML written in memory");
    String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8")
}

/// `s` without the characters XML 1.0 forbids (controls other than tab and line breaks).
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}

/// An element with escaped text content.
pub(crate) fn text_element(
    w: &mut Xml,
    name: &str,
    attributes: &[(&str, &str)],
    text: &str,
) -> io::Result<()> {
    let mut e = w.create_element(name);
    for (k, v) in attributes {
        e = e.with_attribute((*k, clean(v).as_ref()));
    }
    e.write_text_content(BytesText::new(&clean(text)))?;
    Ok(())
}

/// An empty element (`<Play url="…"/>`).
pub(crate) fn empty_element(
    w: &mut Xml,
    name: &str,
    attributes: &[(&str, &str)],
) -> io::Result<()> {
    let mut e = w.create_element(name);
    for (k, v) in attributes {
        e = e.with_attribute((*k, clean(v).as_ref()));
    }
    e.write_empty()?;
    Ok(())
}

/// The query that tells Sauti which prompt a callback answers.
pub(crate) fn callback_query(asking: &str, turn: u32) -> String {
    let mut q = form_urlencoded(&[("step", asking)]);
    q.push_str("&n=");
    q.push_str(&turn.to_string());
    q
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    serde_html_form::to_string(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped_and_stripped() {
        let xml = response(|w| {
            text_element(
                w,
                "Say",
                &[("voice", "a\"b<c>&")],
                "<b>Tom & \"Jerry\"\u{1}</b>",
            )?;
            empty_element(w, "Play", &[("url", "https://x/?a=1&b='2'")])
        });
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say voice=\"a&quot;b&lt;c&gt;&amp;\">&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;</Say><Play url=\"https://x/?a=1&amp;b=&apos;2&apos;\"/></Response>"
        );
        assert_eq!(callback_query("a b&c", 3), "step=a+b%26c&n=3");
    }
}
