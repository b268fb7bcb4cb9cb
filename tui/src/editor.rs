//! A small text editor for prompts and the order instruction: one or
//! several lines, a cursor, Chinese input.
//!
//! Terminal input methods hand the console finished characters (one key
//! event per character, or a bracketed paste), so typing Chinese is
//! inserting characters; what needs care is the cursor, which moves by
//! characters but is drawn at a display column (a CJK character is two
//! columns wide). [`Editor::cursor`] gives that column; the screen draws
//! from the editor's state alone, so an editor renders the same every time.
//!
//! Why not a textarea crate: the one for ratatui 0.30 keeps its scroll
//! position in cells it updates while rendering, so a frame would depend on
//! the frame before. This one has no hidden state.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use liandong_control::text::width;

/// Most characters an editor holds; typing or pasting past it is ignored.
/// The node has its own, smaller limits and says so when refusing.
pub const MAX_CHARS: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    /// Never empty: an empty editor has one empty line.
    lines: Vec<String>,
    /// Cursor line.
    row: usize,
    /// Cursor position in characters (not bytes, not columns) in its line.
    col: usize,
    /// Enter inserts a line break; otherwise the owner handles Enter.
    multiline: bool,
    /// Characters held, line breaks included (checked against [`MAX_CHARS`]).
    count: usize,
}

impl Editor {
    /// One line: Enter is left to the caller (to submit).
    pub fn single_line() -> Editor {
        Editor {
            lines: vec![String::new()],
            row: 0,
            col: 0,
            multiline: false,
            count: 0,
        }
    }

    /// Several lines: Enter breaks the line.
    pub fn multi_line() -> Editor {
        Editor {
            multiline: true,
            ..Editor::single_line()
        }
    }

    /// The text, lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// True if there is nothing but white space.
    pub fn is_blank(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    /// Cursor as (line, display column).
    pub fn cursor(&self) -> (usize, usize) {
        let line = &self.lines[self.row];
        let before: String = line.chars().take(self.col).collect();
        (self.row, width(&before))
    }

    fn byte_at(&self, col: usize) -> usize {
        let line = &self.lines[self.row];
        line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
    }

    fn line_chars(&self) -> usize {
        self.lines[self.row].chars().count()
    }

    /// Inserts one character at the cursor (a line break in a multi-line
    /// editor for `\n`; a space in a single-line one).
    pub fn insert(&mut self, c: char) {
        if self.count >= MAX_CHARS || c == '\r' {
            return;
        }
        if c == '\n' {
            if self.multiline {
                let at = self.byte_at(self.col);
                let rest = self.lines[self.row].split_off(at);
                self.lines.insert(self.row + 1, rest);
                self.row += 1;
                self.col = 0;
                self.count += 1;
                return;
            }
            return self.insert(' ');
        }
        if c.is_control() {
            return;
        }
        let at = self.byte_at(self.col);
        self.lines[self.row].insert(at, c);
        self.col += 1;
        self.count += 1;
    }

    /// Inserts pasted (or IME-committed) text.
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars() {
            self.insert(c);
        }
    }

    /// Applies an editing key. Returns false for keys an editor does not
    /// use (Tab, Esc, Enter in a single-line editor, function keys), which
    /// the caller then handles.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                // Clear the line before the cursor, as shells do.
                let at = self.byte_at(self.col);
                self.lines[self.row].replace_range(..at, "");
                self.count -= self.col;
                self.col = 0;
            }
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => return false,
            KeyCode::Char(c) => self.insert(c),
            KeyCode::Enter if self.multiline => self.insert('\n'),
            KeyCode::Backspace => {
                if self.col > 0 {
                    self.col -= 1;
                    let at = self.byte_at(self.col);
                    self.lines[self.row].remove(at);
                    self.count -= 1;
                } else if self.row > 0 {
                    let line = self.lines.remove(self.row);
                    self.row -= 1;
                    self.col = self.line_chars();
                    self.lines[self.row].push_str(&line);
                    self.count -= 1;
                }
            }
            KeyCode::Delete => {
                if self.col < self.line_chars() {
                    let at = self.byte_at(self.col);
                    self.lines[self.row].remove(at);
                    self.count -= 1;
                } else if self.row + 1 < self.lines.len() {
                    let next = self.lines.remove(self.row + 1);
                    self.lines[self.row].push_str(&next);
                    self.count -= 1;
                }
            }
            KeyCode::Left => {
                if self.col > 0 {
                    self.col -= 1;
                } else if self.row > 0 {
                    self.row -= 1;
                    self.col = self.line_chars();
                }
            }
            KeyCode::Right => {
                if self.col < self.line_chars() {
                    self.col += 1;
                } else if self.row + 1 < self.lines.len() {
                    self.row += 1;
                    self.col = 0;
                }
            }
            KeyCode::Up if self.multiline && self.row > 0 => {
                self.row -= 1;
                self.col = self.col.min(self.line_chars());
            }
            KeyCode::Down if self.multiline && self.row + 1 < self.lines.len() => {
                self.row += 1;
                self.col = self.col.min(self.line_chars());
            }
            KeyCode::Up | KeyCode::Down if self.multiline => {}
            KeyCode::Home => self.col = 0,
            KeyCode::End => self.col = self.line_chars(),
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::from(code)
    }

    #[test]
    fn chinese_text_moves_the_cursor_two_columns_a_character() {
        let mut e = Editor::multi_line();
        e.insert_str("启动防汛");
        assert_eq!(e.cursor(), (0, 8));
        e.handle_key(key(KeyCode::Left));
        assert_eq!(e.cursor(), (0, 6));
        e.handle_key(key(KeyCode::Backspace));
        assert_eq!(e.text(), "启动汛");
        e.handle_key(key(KeyCode::End));
        e.handle_key(key(KeyCode::Enter));
        e.insert_str("预案 plan");
        assert_eq!(e.text(), "启动汛\n预案 plan");
        assert_eq!(e.cursor(), (1, 9));
        e.handle_key(key(KeyCode::Up));
        assert_eq!(e.cursor(), (0, 6));
        e.handle_key(key(KeyCode::Home));
        e.handle_key(key(KeyCode::Backspace));
        assert_eq!(e.lines().len(), 2);
        e.handle_key(key(KeyCode::Down));
        e.handle_key(key(KeyCode::Home));
        e.handle_key(key(KeyCode::Backspace));
        assert_eq!(e.text(), "启动汛预案 plan");
    }

    #[test]
    fn a_single_line_editor_leaves_enter_to_its_owner() {
        let mut e = Editor::single_line();
        assert!(!e.handle_key(key(KeyCode::Enter)));
        e.insert_str("一\n二");
        assert_eq!(e.text(), "一 二");
        assert!(!e.is_blank());
        assert!(!e.handle_key(key(KeyCode::Tab)));
    }

    #[test]
    fn size_is_bounded() {
        let mut e = Editor::multi_line();
        e.insert_str(&"字\n".repeat(MAX_CHARS));
        assert_eq!(e.text().chars().count(), MAX_CHARS);
        // Deleting makes room again, line breaks included.
        e.handle_key(key(KeyCode::Backspace));
        e.handle_key(key(KeyCode::Backspace));
        e.insert_str("ab");
        assert_eq!(e.text().chars().count(), MAX_CHARS);
        assert!(e.text().ends_with("ab"));
    }
}
