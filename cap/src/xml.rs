//! A bounded XML reader: an alert's bytes to a small tree of elements,
//! each with its local name, resolved namespace, text, children and the
//! line it starts on, for [`crate::read`] to check against CAP.
//!
//! Refuses, as [`CapError::Xml`] naming the line: bytes that are not
//! UTF-8, an encoding declaration other than UTF-8, characters XML 1.0
//! forbids, any DOCTYPE, any entity reference other than XML's five and
//! character references, nesting deeper than [`MAX_DEPTH`], more than
//! [`MAX_ELEMENTS`] elements, text beside child elements, content after
//! the root, and what quick-xml finds not well-formed. Input larger than
//! [`MAX_BYTES`] is [`CapError::TooLarge`] before anything is parsed.
//!
//! Never expands an entity, never resolves anything outside the bytes it
//! is given, never knows CAP's elements. Memory stays within a small
//! multiple of the input (the tree holds text and names copied out of
//! it); time is linear in the input.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::{CapError, MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS};

/// Most attributes read on one element (CAP's elements have none; the
/// root carries namespace declarations, a signature a few more).
const MAX_ATTRIBUTES: usize = 32;

/// One element as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// The namespace URI its name resolves to; `None` when unbound.
    pub namespace: Option<String>,
    /// The local name (without prefix).
    pub name: String,
    /// The 1-based line of its `<`.
    pub line: u32,
    /// Its character data with references resolved, as written (only
    /// whitespace when it has children).
    pub text: String,
    pub children: Vec<Element>,
    /// Its attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
}

/// An attribute's name: which namespace (`None`: unprefixed) and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub namespace: Option<String>,
    pub name: String,
}

/// The root element of `bytes`, read within the bounds above.
pub(crate) fn read(bytes: &[u8]) -> Result<Element, CapError> {
    if bytes.len() > MAX_BYTES {
        return Err(CapError::TooLarge {
            size: bytes.len(),
            max: MAX_BYTES,
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to();
            return Err(xml_error(
                line_of(bytes, at),
                format!(
                    "byte {at} is not UTF-8 (0x{:02X}); CAP alerts are read in UTF-8 only",
                    bytes[at]
                ),
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_characters(text)?;
    Tree::new(text).read()
}

/// The 1-based line of byte `offset` of `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> u32 {
    let newlines = bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

fn xml_error(line: u32, problem: impl Into<String>) -> CapError {
    CapError::Xml {
        line,
        problem: problem.into(),
    }
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production; Rust
/// strings already exclude surrogates).
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Refuses the first character XML 1.0 forbids anywhere in a document.
fn check_characters(text: &str) -> Result<(), CapError> {
    match text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        None => Ok(()),
        Some((at, c)) => Err(xml_error(
            line_of(text.as_bytes(), at),
            format!("character U+{:04X} is not allowed in XML", u32::from(c)),
        )),
    }
}

/// An element being read: what it will become, and whether non-whitespace
/// text has been seen in it (and where).
struct Open {
    element: Element,
    text_line: Option<u32>,
}

/// The reading of one document.
struct Tree<'i> {
    text: &'i str,
    reader: NsReader<&'i [u8]>,
    /// Byte offset and line of the last position a line was asked for
    /// (positions asked for only grow, so counting is linear overall).
    line_at: (usize, u32),
    open: Vec<Open>,
    root: Option<Element>,
    elements: usize,
    /// Whether anything (but whitespace) came before: an XML declaration
    /// must be first.
    started: bool,
}

impl<'i> Tree<'i> {
    fn new(text: &'i str) -> Tree<'i> {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_dangling_amp = false;
        config.allow_unmatched_ends = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Tree {
            text,
            reader,
            line_at: (0, 1),
            open: Vec::new(),
            root: None,
            elements: 0,
            started: false,
        }
    }

    /// The 1-based line of byte `offset`.
    fn line(&mut self, offset: u64) -> u32 {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
        let (from, line) = self.line_at;
        if offset < from {
            return line_of(self.text.as_bytes(), offset);
        }
        let more = self.text.as_bytes()[from..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let line = line.saturating_add(u32::try_from(more).unwrap_or(u32::MAX));
        self.line_at = (offset, line);
        line
    }

    fn read(mut self) -> Result<Element, CapError> {
        loop {
            let before = self.reader.buffer_position();
            let (namespace, event) = match self.reader.read_resolved_event() {
                Ok((ns, event)) => (namespace_of(ns), event),
                Err(e) => {
                    let line = self.line(self.reader.error_position());
                    return Err(xml_error(line, format!("not well-formed XML: {e}")));
                }
            };
            match event {
                Event::Decl(decl) => {
                    let line = self.line(before);
                    if self.started {
                        return Err(xml_error(line, "the XML declaration must come first"));
                    }
                    check_declaration(&decl, line)?;
                }
                Event::DocType(_) => {
                    let line = self.line(before);
                    return Err(xml_error(
                        line,
                        "DOCTYPE is not allowed: CAP alerts need none and entity declarations could expand or reach outside",
                    ));
                }
                Event::Start(start) | Event::Empty(start) if self.root.is_some() => {
                    let line = self.line(before);
                    let name = start.name().0.to_string();
                    return Err(xml_error(
                        line,
                        format!("<{name}> after the root element: a document has one root"),
                    ));
                }
                Event::Start(start) => {
                    let element = self.element(&start, namespace, before)?;
                    self.open.push(Open {
                        element,
                        text_line: None,
                    });
                }
                Event::Empty(start) => {
                    let element = self.element(&start, namespace, before)?;
                    self.close(element);
                }
                Event::End(_) => {
                    // quick-xml has checked that the name matches.
                    let Some(open) = self.open.pop() else {
                        let line = self.line(before);
                        return Err(xml_error(line, "a closing tag with no element open"));
                    };
                    self.close(open.element);
                }
                Event::Text(text) => self.text(&text.xml10_content(), before)?,
                Event::CData(data) => self.text(&data.xml10_content(), before)?,
                Event::GeneralRef(reference) => {
                    let line = self.line(before);
                    let c = resolve_reference(&reference, line)?;
                    self.text(c.encode_utf8(&mut [0; 4]), before)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
            self.started = true;
        }
        if let Some(open) = self.open.last() {
            let (name, line) = (open.element.name.clone(), open.element.line);
            return Err(xml_error(line, format!("<{name}> is never closed")));
        }
        match self.root {
            Some(root) => Ok(root),
            None => {
                let line = self.line(u64::MAX);
                Err(xml_error(line, "no root element: the document is empty"))
            }
        }
    }

    /// A new element from its start tag, within the depth and count bounds.
    fn element(
        &mut self,
        start: &quick_xml::events::BytesStart<'_>,
        namespace: Result<Option<String>, String>,
        at: u64,
    ) -> Result<Element, CapError> {
        let line = self.line(at);
        let namespace = namespace.map_err(|problem| xml_error(line, problem))?;
        let name = start.local_name().as_ref().to_string();
        if self.open.len() >= MAX_DEPTH {
            return Err(xml_error(
                line,
                format!("<{name}> is nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(xml_error(line, format!("more than {MAX_ELEMENTS} elements")));
        }
        if let Some(Open {
            element: parent,
            text_line: Some(text_line),
        }) = self.open.last()
        {
            return Err(mixed(&parent.name, *text_line));
        }
        if start.attributes().with_checks(false).count() > MAX_ATTRIBUTES {
            return Err(xml_error(
                line,
                format!("<{name}> has more than {MAX_ATTRIBUTES} attributes"),
            ));
        }
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| xml_error(line, format!("not well-formed XML: <{name}>: {e}")))?;
            if attribute.key.as_namespace_binding().is_none() {
                let (namespace, local) = self.reader.resolver().resolve_attribute(attribute.key);
                let namespace = namespace_of(namespace).map_err(|problem| xml_error(line, problem))?;
                attributes.push(Attribute {
                    namespace,
                    name: local.as_ref().to_string(),
                });
            }
        }
        Ok(Element {
            namespace,
            name,
            line,
            text: String::new(),
            children: Vec::new(),
            attributes,
        })
    }

    /// `element` is complete: a child of the open one, or the root.
    fn close(&mut self, element: Element) {
        match self.open.last_mut() {
            Some(parent) => parent.element.children.push(element),
            None => self.root = Some(element),
        }
    }

    /// Character data at byte `at`: part of the open element's text, or
    /// whitespace between elements.
    fn text(&mut self, text: &str, at: u64) -> Result<(), CapError> {
        let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
        let leading = text.len() - text.trim_start_matches(is_space).len();
        if leading == text.len() {
            if let Some(open) = self.open.last_mut() {
                open.element.text.push_str(text);
            }
            return Ok(());
        }
        let line = self.line(at + leading as u64);
        let Some(open) = self.open.last_mut() else {
            let where_ = if self.root.is_some() { "after" } else { "before" };
            return Err(xml_error(line, format!("text {where_} the root element")));
        };
        if let Some(child) = open.element.children.first() {
            let (name, child) = (&open.element.name, &child.name);
            return Err(xml_error(
                line,
                format!("<{name}> holds elements (<{child}>) and text beside them; CAP allows no mixed content"),
            ));
        }
        open.text_line.get_or_insert(line);
        open.element.text.push_str(text);
        Ok(())
    }
}

/// An element holding text met a child element.
fn mixed(name: &str, text_line: u32) -> CapError {
    xml_error(
        text_line,
        format!("<{name}> holds text and elements beside it; CAP allows no mixed content"),
    )
}

/// The namespace a start tag resolved to, or why it did not.
fn namespace_of(ns: ResolveResult<'_>) -> Result<Option<String>, String> {
    match ns {
        ResolveResult::Bound(ns) => Ok(Some(ns.0.to_string())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(format!("namespace prefix {prefix}: is not declared")),
    }
}

/// Only XML 1.0 in UTF-8.
fn check_declaration(decl: &quick_xml::events::BytesDecl<'_>, line: u32) -> Result<(), CapError> {
    match decl.version() {
        Ok(version) if version == "1.0" => {}
        Ok(version) => return Err(xml_error(line, format!("XML version {version}: only 1.0 is read"))),
        Err(e) => return Err(xml_error(line, format!("not well-formed XML declaration: {e}"))),
    }
    match decl.encoding() {
        None => Ok(()),
        Some(Ok(encoding)) if encoding.eq_ignore_ascii_case("UTF-8") => Ok(()),
        Some(Ok(encoding)) => Err(xml_error(
            line,
            format!("the declared encoding is {encoding}; CAP alerts are read in UTF-8 only"),
        )),
        Some(Err(e)) => Err(xml_error(line, format!("not well-formed XML declaration: {e}"))),
    }
}

/// The character `&name;` stands for: XML's five predefined entities and
/// character references only (there are no others without a DTD).
fn resolve_reference(reference: &quick_xml::events::BytesRef<'_>, line: u32) -> Result<char, CapError> {
    let name: &str = reference;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(_) => Err(xml_error(line, format!("&{name}; is a character XML does not allow"))),
            Err(e) => Err(xml_error(line, format!("&{name}; is not a character reference: {e}"))),
        };
    }
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(xml_error(
            line,
            format!(
                "entity reference &{name}; is not allowed: only &lt; &gt; &amp; &apos; &quot; and character references"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_carry_namespace_line_and_text() {
        let text = "\u{feff}<?xml version=\"1.0\"?>\n<!-- a comment -->\n<p:root xmlns:p=\"urn:a\" xmlns=\"urn:b\">\n  <child>one &amp; <![CDATA[<two>]]>&#x4E09;</child>\r\n  <p:other\n    xmlns:q=\"urn:q\" q:x=\"1\"/>\n</p:root>\n";
        let root = read(text.as_bytes()).unwrap();
        assert_eq!(
            (root.namespace.as_deref(), root.name.as_str(), root.line),
            (Some("urn:a"), "root", 3)
        );
        let [child, other] = &root.children[..] else {
            panic!("{root:?}")
        };
        assert_eq!(
            (child.namespace.as_deref(), child.name.as_str(), child.line),
            (Some("urn:b"), "child", 4)
        );
        assert_eq!(child.text, "one & <two>三");
        assert_eq!((other.namespace.as_deref(), other.line), (Some("urn:a"), 5));
        assert_eq!(
            other.attributes,
            [Attribute {
                namespace: Some("urn:q".to_string()),
                name: "x".to_string()
            }]
        );
    }

    #[test]
    fn line_ends_are_normalised_in_text() {
        let root = read(b"<r>a\r\nb\rc</r>").unwrap();
        assert_eq!(root.text, "a\nb\nc");
    }

    #[test]
    fn lines_count_from_one_also_after_an_error_earlier_in_the_text() {
        let mut tree = Tree::new("a\nb\nc\n");
        assert_eq!(tree.line(4), 3);
        assert_eq!(tree.line(0), 1);
        assert_eq!(tree.line(2), 2);
        assert_eq!(tree.line(u64::MAX), 4);
    }
}
