//! Why an alert was not read. Every message names what was wrong and
//! where, so the sending platform's operator can fix it.

/// An alert that was not read; nothing of it was used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// Larger than [`crate::MAX_BYTES`]: not read at all.
    #[error("the alert is {size} bytes; at most {max} are read")]
    TooLarge { size: usize, max: usize },
    /// Not well-formed XML, not UTF-8, or a construct refused outright (a
    /// DOCTYPE, an entity declaration or reference, nesting deeper than
    /// [`crate::MAX_DEPTH`], more than [`crate::MAX_ELEMENTS`] elements).
    #[error("line {line}: {problem}")]
    Xml { line: u32, problem: String },
    /// Well-formed, but not a valid CAP 1.2 alert: `element` is the local
    /// name of the element at fault (or the parent missing a child).
    #[error("line {line}: <{element}>: {problem}")]
    Invalid {
        line: u32,
        element: String,
        problem: String,
    },
}
