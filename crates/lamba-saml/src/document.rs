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
}

/// Parses `xml` strictly, after the size and DTD checks.
pub fn parse(xml: &str) -> Result<Document, DocumentError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(DocumentError::TooLarge);
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
