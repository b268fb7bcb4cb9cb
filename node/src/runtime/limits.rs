//! The bounds on what an operator may type, in one place: the longest
//! title and text, and the trimming and emptiness rules. A request that
//! breaks one is refused before the core sees it. (These belong in the
//! core, which would then apply them to every driver alike; until then
//! they stay here, together, so moving them is one cut.)

/// Longest texts an operator may enter, in characters.
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 8000;

/// A report's texts: the title trimmed and required, the title and the
/// place at most [`MAX_TITLE`], the detail at most [`MAX_TEXT`].
/// Returns the trimmed title (detail and place are kept as typed).
pub(super) fn report(title: String, detail: &str, place: &str) -> Result<String, String> {
    let title = title.trim().to_string();
    if title.is_empty() {
        return Err("a report needs a title".into());
    }
    check_len("title", &title, MAX_TITLE)?;
    check_len("detail", detail, MAX_TEXT)?;
    check_len("place", place, MAX_TITLE)?;
    Ok(title)
}

/// A required text (a reason, a message, an instruction): trimmed, not
/// empty, at most [`MAX_TEXT`].
pub(super) fn text(field: &str, value: String) -> Result<String, String> {
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(format!("the {field} must not be empty"));
    }
    check_len(field, &value, MAX_TEXT)?;
    Ok(value)
}

/// An optional text (a note, a closing summary): at most [`MAX_TEXT`]
/// as typed, then trimmed; it may be empty.
pub(super) fn text_or_empty(field: &str, value: String) -> Result<String, String> {
    check_len(field, &value, MAX_TEXT)?;
    Ok(value.trim().to_string())
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        return Err(format!("the {field} is {n} characters long; at most {max} are allowed"));
    }
    Ok(())
}
