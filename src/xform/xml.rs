//! Writing XForms and OpenRosa instances with quick-xml: element names made valid, text that
//! any XML parser reads back exactly (forbidden characters dropped, carriage returns kept).

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

/// An indented document being written in memory.
pub type Xml = Writer<Vec<u8>>;

/// A whole document: the XML declaration, then what `body` writes.
pub fn document(body: impl FnOnce(&mut Xml) -> io::Result<()>) -> String {
    let mut w = Writer::new_with_indent(Vec::with_capacity(16 * 1024), b' ', 2);
    let written = w
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| body(&mut w));
    // Writing into a Vec cannot fail.
    written.expect("XML written in memory");
    let mut xml = String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8");
    xml.push('\n');
    xml
}

/// Text content as an event: `& < > " '` escaped, characters XML 1.0 cannot carry dropped, and
/// `\r` written as a reference, since a parser turns a literal one into `\n`.
pub fn text(s: &str) -> BytesText<'static> {
    let clean = clean(s);
    let escaped = quick_xml::escape::partial_escape(clean.as_ref());
    let escaped = if escaped.contains('\r') {
        Cow::Owned(escaped.replace('\r', "&#13;"))
    } else {
        escaped
    };
    BytesText::from_escaped(escaped.into_owned())
}

/// `s` without the characters XML 1.0 forbids (controls other than tab and line breaks).
fn clean(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}

/// An attribute value, escaped: `'` is left as it is (XPath in a `relevant` stays readable);
/// tabs and line breaks become references, which attribute normalisation would turn to spaces.
fn attribute_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for c in clean(v).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// `<name attrs…>`, with attribute values cleaned of characters XML cannot carry.
pub fn start<'a>(name: &'a str, attributes: &[(&str, &str)]) -> BytesStart<'a> {
    let mut e = BytesStart::new(name);
    for (k, v) in attributes {
        e.push_attribute(Attribute {
            key: QName(k),
            value: Cow::Owned(attribute_value(v)),
        });
    }
    e
}

/// `<name attrs…>` … `</name>`, the content written by `inner`.
pub fn element(
    w: &mut Xml,
    name: &str,
    attributes: &[(&str, &str)],
    inner: impl FnOnce(&mut Xml) -> io::Result<()>,
) -> io::Result<()> {
    w.write_event(Event::Start(start(name, attributes)))?;
    inner(w)?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// `<name attrs…>text</name>`, or `<name attrs…/>` for an empty text.
pub fn text_element(
    w: &mut Xml,
    name: &str,
    attributes: &[(&str, &str)],
    content: &str,
) -> io::Result<()> {
    if content.is_empty() {
        return empty(w, name, attributes);
    }
    w.write_event(Event::Start(start(name, attributes)))?;
    w.write_event(Event::Text(text(content)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// `<name attrs…/>`.
pub fn empty(w: &mut Xml, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
    w.write_event(Event::Empty(start(name, attributes)))
}

/// An element inside text (`…: <output value="/data/people"/>?`): written without the
/// indentation that would otherwise change the text around it.
pub fn inline_empty(w: &mut Xml, name: &str, attributes: &[(&str, &str)]) -> io::Result<()> {
    w.write_event(Event::Text(BytesText::new("")))?;
    empty(w, name, attributes)?;
    w.write_event(Event::Text(BytesText::new("")))
}

/// The element name of an answer field: the step id, which flows already restrict to an ASCII
/// letter followed by letters, digits, `-` and `_`. Anything else (a record not made by this
/// build) is made a valid XML name so that the document stays well-formed.
pub fn element_name(id: &str) -> Cow<'_, str> {
    let valid_rest = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut chars = id.chars();
    match chars.next() {
        Some(c) if (c.is_ascii_alphabetic() || c == '_') && chars.all(valid_rest) => {
            Cow::Borrowed(id)
        }
        _ => {
            let mut name: String = id
                .chars()
                .map(|c| if valid_rest(c) { c } else { '_' })
                .collect();
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                name.insert(0, '_');
            }
            Cow::Owned(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(s: &str) -> String {
        let mut w = Writer::new(Vec::new());
        w.write_event(Event::Text(text(s))).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn text_escapes_markup_keeps_carriage_returns_and_drops_what_xml_cannot_carry() {
        assert_eq!(written("a<b>&\"c'"), "a&lt;b&gt;&amp;\"c'");
        assert_eq!(written("ok\u{1}\tline\r\n"), "ok\tline&#13;\n");
        assert_eq!(written("plain éɛ 🙂 *"), "plain éɛ 🙂 *");
    }

    #[test]
    fn attributes_keep_apostrophes_and_escape_the_rest() {
        let mut w = Writer::new(Vec::new());
        empty(
            &mut w,
            "bind",
            &[("relevant", "/a = 'x' and . < 3 & \"q\"\n\u{1}")],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            "<bind relevant=\"/a = 'x' and . &lt; 3 &amp; &quot;q&quot;&#10;\"/>"
        );
    }

    #[test]
    fn element_names_stay_valid() {
        assert_eq!(element_name("incident_other"), "incident_other");
        assert_eq!(element_name("9lives"), "_9lives");
        assert_eq!(element_name("a b"), "a_b");
        assert_eq!(element_name(""), "_");
    }
}
