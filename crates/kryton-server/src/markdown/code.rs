//! Finding the parts of a note that are code (and frontmatter), so links and tags are never
//! taken from them and renames never rewrite them.
//!
//! The result is a *masked* copy of the text: same length in bytes, with every masked byte
//! replaced by a space (newlines kept), so offsets found in the mask are offsets in the original.
//!
//! Approximations, on purpose: fenced blocks (```` ``` ```` and `~~~`, up to three spaces of
//! indent, unclosed fences run to the end as in CommonMark) and inline code spans (a run of N
//! backticks closed by the next run of exactly N on the same line). Indented code blocks are not
//! masked, because nested list items in real notes are indented too.

/// A fence opener or closer: its character and run length, when `line` is one.
pub(crate) fn fence(line: &str) -> Option<(char, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let marker = rest.chars().next()?;
    if marker != '`' && marker != '~' {
        return None;
    }
    let run = rest.len() - rest.trim_start_matches(marker).len();
    if run < 3 {
        return None;
    }
    if marker == '`' && rest[run..].contains('`') {
        return None;
    }
    Some((marker, run))
}

/// Whether `line` closes a fence opened with `open`.
pub(crate) fn closes(line: &str, open: (char, usize)) -> bool {
    match fence(line) {
        Some((marker, run)) => {
            let rest = line.trim_start_matches(' ');
            marker == open.0 && run >= open.1 && rest[run..].trim().is_empty()
        }
        None => false,
    }
}

/// Byte ranges of inline code spans in one line (offsets relative to the line).
///
/// A run of N backticks opens a span closed by the next run of exactly N. Each run's next run of
/// the same length is found first in one right-to-left pass, so a line of runs that never close
/// (`` ` `` `` ``` ``` …) costs linear time instead of one scan to the end of the line per run.
fn inline_code_spans(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    // Maximal runs of backticks: (start, length).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            runs.push((start, i - start));
        } else {
            i += 1;
        }
    }
    // For each run, the index of the next run of the same length.
    let mut next_same = vec![None; runs.len()];
    let mut last_seen: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (r, &(_, len)) in runs.iter().enumerate().rev() {
        next_same[r] = last_seen.insert(len, r);
    }
    let mut spans = Vec::new();
    let mut r = 0;
    while r < runs.len() {
        match next_same[r] {
            Some(close) => {
                let (start, _) = runs[r];
                let (close_start, close_len) = runs[close];
                spans.push((start, close_start + close_len));
                r = close + 1;
            }
            None => r += 1,
        }
    }
    spans
}

/// The length in bytes of the frontmatter block (`---` … `---` or `...` at the very start,
/// a byte-order mark allowed), or 0 when there is none.
pub(crate) fn frontmatter_len(text: &str) -> usize {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lines = text[start..].split_inclusive('\n');
    let Some(first) = lines.next() else {
        return 0;
    };
    if first.trim_end() != "---" {
        return 0;
    }
    let mut offset = start + first.len();
    for line in lines {
        offset += line.len();
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            return offset;
        }
    }
    0
}

/// The text with frontmatter, fenced code and inline code blanked out.
pub(crate) fn mask(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let blank = |bytes: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut bytes[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let front = frontmatter_len(text);
    blank(&mut bytes, 0, front);
    let mut offset = front;
    let mut open: Option<(char, usize)> = None;
    for line in text[front..].split_inclusive('\n') {
        let end = offset + line.len();
        match open {
            Some(fence_open) => {
                blank(&mut bytes, offset, end);
                if closes(line, fence_open) {
                    open = None;
                }
            }
            None => {
                if let Some(opened) = fence(line) {
                    blank(&mut bytes, offset, end);
                    open = Some(opened);
                } else {
                    for (from, to) in inline_code_spans(line) {
                        blank(&mut bytes, offset + from, offset + to);
                    }
                }
            }
        }
        offset = end;
    }
    // Only ASCII-delimited, char-aligned ranges were blanked, so this never loses anything.
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_fenced_blocks_and_inline_code_keeping_length() {
        let text = "a `#x` b\n```rust\n[[In]] #in\n```\nafter #out\n";
        let masked = mask(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("#x"));
        assert!(!masked.contains("[[In]]"));
        assert!(masked.contains("after #out"));
        assert_eq!(masked.matches('\n').count(), text.matches('\n').count());
    }

    #[test]
    fn fence_rules() {
        assert_eq!(fence("```"), Some(('`', 3)));
        assert_eq!(fence("   ~~~~ python"), Some(('~', 4)));
        assert_eq!(fence("    ```"), None);
        assert_eq!(fence("``"), None);
        assert_eq!(fence("``` a`b"), None);
        assert!(closes("````\n", ('`', 3)));
        assert!(!closes("~~~\n", ('`', 3)));
        assert!(!closes("``` rust\n", ('`', 3)));
        assert!(!closes("``\n", ('`', 3)));
    }

    #[test]
    fn unclosed_fence_runs_to_end_and_tilde_does_not_close_backticks() {
        let masked = mask("x\n```\n[[A]]\n~~~\n[[B]]\n");
        assert!(!masked.contains("[[A]]"));
        assert!(!masked.contains("[[B]]"));
    }

    #[test]
    fn double_backtick_spans_and_unmatched_backticks() {
        let masked = mask("``a ` [[X]]`` [[Y]] ` [[Z]]");
        assert!(!masked.contains("[[X]]"));
        assert!(masked.contains("[[Y]]"));
        assert!(masked.contains("[[Z]]"));
    }

    #[test]
    fn frontmatter_detection() {
        assert_eq!(frontmatter_len("---\ntitle: x\n---\nbody"), 17);
        assert_eq!(frontmatter_len("---\r\ntitle: x\r\n...\r\nbody"), 20);
        assert_eq!(frontmatter_len("\u{feff}---\na: b\n---\n"), 16);
        assert_eq!(frontmatter_len("---\nno end"), 0);
        assert_eq!(frontmatter_len("text\n---\na\n---\n"), 0);
        assert!(!mask("---\ntags: [[X]]\n---\n").contains("[[X]]"));
    }

    #[test]
    fn multibyte_text_in_code_stays_valid() {
        let masked = mask("`éü` ok ```\n日本\n");
        assert_eq!(masked.len(), "`éü` ok ```\n日本\n".len());
        assert!(masked.contains("ok"));
    }
}
