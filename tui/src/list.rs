//! A cursor over a list and the first row shown: the state every list of
//! the console keeps, so drawing needs no state of its own.
//!
//! Keys move the cursor; after each event the app calls
//! [`Scroll::follow`] with the list's length and the rows its pane shows
//! (from the layout of the current terminal size), which moves the window
//! just enough to keep the cursor in view.

use crossterm::event::KeyCode;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    pub cursor: usize,
    /// Index of the first row shown.
    pub offset: usize,
}

impl Scroll {
    /// Moves the cursor for a navigation key (arrows, hjkl's j/k, paging,
    /// g/G, Home/End). Returns false if the key is not one of them.
    pub fn key(&mut self, code: KeyCode, len: usize, page: usize) -> bool {
        let last = len.saturating_sub(1);
        let page = page.max(1);
        self.cursor = match code {
            KeyCode::Up | KeyCode::Char('k') => self.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.cursor + 1,
            KeyCode::PageUp => self.cursor.saturating_sub(page),
            KeyCode::PageDown => self.cursor + page,
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            _ => return false,
        }
        .min(last);
        true
    }

    /// Clamps the cursor to `len` rows and moves the window of `height`
    /// rows so the cursor is inside it.
    pub fn follow(&mut self, len: usize, height: usize) {
        self.cursor = self.cursor.min(len.saturating_sub(1));
        let height = height.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + height {
            self.offset = self.cursor + 1 - height;
        }
        // Never leave empty rows at the bottom when the list could fill them.
        self.offset = self.offset.min(len.saturating_sub(height));
    }

    /// The rows shown: `offset..offset + height`, clipped to `len`.
    pub fn window(&self, len: usize, height: usize) -> std::ops::Range<usize> {
        let start = self.offset.min(len);
        start..(start + height).min(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_cursor() {
        let mut s = Scroll::default();
        for _ in 0..12 {
            s.key(KeyCode::Down, 20, 5);
            s.follow(20, 5);
        }
        assert_eq!((s.cursor, s.offset), (12, 8));
        s.key(KeyCode::Up, 20, 5);
        s.follow(20, 5);
        assert_eq!((s.cursor, s.offset), (11, 8));
        s.key(KeyCode::End, 20, 5);
        s.follow(20, 5);
        assert_eq!((s.cursor, s.offset), (19, 15));
        assert_eq!(s.window(20, 5), 15..20);
        s.follow(3, 5);
        assert_eq!((s.cursor, s.offset), (2, 0));
    }
}
