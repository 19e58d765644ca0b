//! The gate every untrusted SAML document passes before anything reads
//! it: a size limit, no DTD at all (so no entity, internal or external,
//! can be declared: XXE and billion-laughs need one), and a strict parse
//! that refuses what is not well-formed XML. libxml2 in its default
//! "recover" mode would guess at a broken document, and a guess that
//! differs from how the signature was checked is how signature wrapping
//! starts; a document that passes here parses the same way everywhere.

use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node};

/// The largest SAML document accepted, decoded. Real responses with a
/// certificate and a few dozen attributes are 10–30 KB.
pub const MAX_XML_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the SAML message is larger than {MAX_XML_BYTES} bytes")]
    TooLarge,
    #[error("the SAML message declares a DTD (DOCTYPE or ENTITY), which is never accepted")]
    Doctype,
    #[error("the SAML message is not well-formed XML")]
    Malformed,
    #[error("the SAML message must be UTF-8")]
    Encoding,
}

/// The `encoding` of the XML declaration, if the document starts with one
/// (after an optional UTF-8 byte order mark).
fn declared_encoding(xml: &str) -> Option<&str> {
    let declaration = xml.trim_start_matches('\u{feff}').strip_prefix("<?xml")?;
    let declaration = declaration.get(..declaration.find("?>")?)?;
    let after = declaration.get(declaration.find("encoding")? + "encoding".len()..)?;
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next()?;
    let value = after.get(1..)?;
    value.find(quote).and_then(|end| value.get(..end))
}

/// Parses `xml` strictly, after the size and DTD checks.
pub fn parse(xml: &str) -> Result<Document, DocumentError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(DocumentError::TooLarge);
    }
    // libxml2 detects UTF-16 (and honours an `encoding` declaration) on
    // its own, and a UTF-16 document is valid UTF-8 to Rust when its NULs
    // are kept: then the DTD search below would read "<\0!\0D..." and
    // miss. So the bytes must be what they look like: no NUL, and no
    // declared encoding but UTF-8.
    if xml.contains('\0') {
        return Err(DocumentError::Encoding);
    }
    if let Some(declared) = declared_encoding(xml)
        && !declared.eq_ignore_ascii_case("UTF-8")
    {
        return Err(DocumentError::Encoding);
    }
    // Anything that could open a DTD is refused outright, before libxml2
    // sees it; inside a comment or CDATA it is refused too (fail closed).
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(DocumentError::Doctype);
    }
    let options = ParserOptions {
        recover: false,
        no_net: true,
        no_def_dtd: true,
        ..ParserOptions::default()
    };
    Parser::default()
        .parse_string_with_options(xml, options)
        .map_err(|_| DocumentError::Malformed)
}

/// Whether `node` is the element `{namespace}name`.
pub(crate) fn is(node: &Node, namespace: &str, name: &str) -> bool {
    node.is_element_node()
        && node.get_name() == name
        && node
            .get_namespace()
            .is_some_and(|ns| ns.get_href() == namespace)
}

/// The child elements of `node` that are `{namespace}name`.
pub(crate) fn children(node: &Node, namespace: &str, name: &str) -> Vec<Node> {
    node.get_child_elements()
        .into_iter()
        .filter(|child| is(child, namespace, name))
        .collect()
}

/// Every element below `node` (itself included) that is `{namespace}name`.
pub(crate) fn descendants(node: &Node, namespace: &str, name: &str) -> Vec<Node> {
    let mut found = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(next) = stack.pop() {
        if is(&next, namespace, name) {
            found.push(next.clone());
        }
        stack.extend(next.get_child_elements());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dtd_is_refused_before_parsing() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(xxe).err(), Some(DocumentError::Doctype));
        let laughs = r#"<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>"#;
        assert_eq!(parse(laughs).err(), Some(DocumentError::Doctype));
    }

    #[test]
    fn utf16_and_other_declared_encodings_are_refused() {
        let doctype =
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE r [<!ENTITY x \"y\">]><r/>";
        let utf16: String = doctype.chars().flat_map(|c| ['\0', c]).collect();
        assert_eq!(parse(&utf16).err(), Some(DocumentError::Encoding));
        for declared in ["UTF-16", "utf-7", "ISO-8859-1"] {
            let xml = format!("<?xml version='1.0' encoding='{declared}'?><r/>");
            assert_eq!(
                parse(&xml).err(),
                Some(DocumentError::Encoding),
                "{declared}"
            );
        }
        assert!(parse("<?xml version=\"1.0\" encoding=\"utf-8\"?><r/>").is_ok());
        assert!(parse("\u{feff}<?xml version=\"1.0\"?><r/>").is_ok());
    }

    #[test]
    fn broken_xml_is_refused_not_recovered() {
        assert_eq!(parse("<a><b></a>").err(), Some(DocumentError::Malformed));
        assert_eq!(
            parse("<a>&undefined;</a>").err(),
            Some(DocumentError::Malformed)
        );
        assert_eq!(parse("").err(), Some(DocumentError::Malformed));
        assert!(parse("<a><b/></a>").is_ok());
    }

    #[test]
    fn a_large_document_is_refused_unread() {
        let big = format!("<a>{}</a>", "x".repeat(MAX_XML_BYTES));
        assert_eq!(parse(&big).err(), Some(DocumentError::TooLarge));
    }
}
