//! Plain text for the search index, and highlighted snippets for search results.

use super::code::{closes, fence, frontmatter_len};

/// About how many characters a snippet shows.
pub const SNIPPET_CHARS: usize = 160;
/// How much context a snippet keeps before the first match.
const SNIPPET_LEAD: usize = 60;

/// The note's text with frontmatter and markup stripped lightly: heading, quote and list markers,
/// fence lines, emphasis marks and backticks go; link texts (wiki-link alias or target, markdown
/// link text) stay and URLs go; code content stays (people search for it).
pub fn plain_text(text: &str) -> String {
    let body = &text[frontmatter_len(text)..];
    let mut lines: Vec<String> = Vec::new();
    let mut open: Option<(char, usize)> = None;
    for line in body.lines() {
        if let Some(opened) = open {
            if closes(line, opened) {
                open = None;
            } else {
                lines.push(line.to_owned());
            }
            continue;
        }
        if let Some(opened) = fence(line) {
            open = Some(opened);
            continue;
        }
        let stripped = strip_inline(strip_block_markers(line));
        lines.push(stripped.trim().to_owned());
    }
    let mut out = String::new();
    let mut blank_run = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&line);
    }
    out
}

fn strip_block_markers(line: &str) -> &str {
    let mut rest = line.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('>') {
            rest = r.trim_start();
            continue;
        }
        break;
    }
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    if (1..=6).contains(&hashes) && rest[hashes..].starts_with(' ') {
        return rest[hashes..].trim().trim_end_matches('#').trim_end();
    }
    let trimmed = rest.trim();
    if trimmed.len() >= 3
        && (trimmed.chars().all(|c| c == '-' || c == ' ')
            || trimmed.chars().all(|c| c == '*' || c == ' ')
            || trimmed.chars().all(|c| c == '_' || c == ' '))
    {
        return "";
    }
    for marker in ["- ", "* ", "+ "] {
        if let Some(r) = rest.strip_prefix(marker) {
            rest = r;
            break;
        }
    }
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && (rest[digits..].starts_with(". ") || rest[digits..].starts_with(") ")) {
        rest = &rest[digits + 2..];
    }
    for task in ["[ ] ", "[x] ", "[X] "] {
        if let Some(r) = rest.strip_prefix(task) {
            rest = r;
            break;
        }
    }
    rest
}

/// The next occurrence of a needle at or after a position, for positions that only grow: each
/// search starts where the last one stopped, so all the searches on one line cost linear time
/// together (a line of 300,000 `[` no longer searches the rest of the line for `]]` 300,000 times).
struct Forward<'n> {
    needle: &'n str,
    /// Where the last search started, and what it found (`None`: no occurrence from there on).
    searched_from: usize,
    found: Option<usize>,
    searched: bool,
}

impl<'n> Forward<'n> {
    fn new(needle: &'n str) -> Self {
        Forward {
            needle,
            searched_from: 0,
            found: None,
            searched: false,
        }
    }

    /// The first occurrence of the needle starting at or after `pos` (positions never decrease).
    fn at_or_after(&mut self, hay: &str, pos: usize) -> Option<usize> {
        if self.searched && pos >= self.searched_from {
            match self.found {
                None => return None,
                Some(found) if found >= pos => return Some(found),
                Some(_) => {}
            }
        }
        self.searched = true;
        self.searched_from = pos;
        self.found = hay.get(pos..).and_then(|rest| rest.find(self.needle)).map(|i| pos + i);
        self.found
    }
}

/// Replaces `[[T#h|a]]` by `a` (else `T h`), `[text](url)` and `![alt](url)` by the text, and
/// drops `**`, `~~`, `==`, `*` and backticks. Linear in the line's length.
fn strip_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut closes = Forward::new("]]");
    let mut brackets = Forward::new("]");
    let mut parens = Forward::new(")");
    let mut pos = 0;
    while pos < line.len() {
        let rest = &line[pos..];
        let embed = rest.starts_with("![[");
        if (embed || rest.starts_with("[["))
            && let Some(close) = closes.at_or_after(line, pos)
        {
            let inner = &line[pos + if embed { 3 } else { 2 }..close];
            let shown = match inner.split_once('|') {
                Some((_, alias)) => alias.trim().to_owned(),
                None => inner.replace('#', " ").trim().to_owned(),
            };
            out.push_str(&shown);
            pos = close + 2;
            continue;
        }
        let image = rest.starts_with("![");
        if image || rest.starts_with('[') {
            // `[text](url)`: the first `]` after the bracket, then `(`, then the first `)`.
            let text_start = pos + if image { 2 } else { 1 };
            if let Some(close) = brackets.at_or_after(line, text_start)
                && line[close + 1..].starts_with('(')
                && let Some(end) = parens.at_or_after(line, close + 2)
            {
                out.push_str(&line[text_start..close]);
                pos = end + 1;
                continue;
            }
        }
        let mut stripped = false;
        for mark in ["**", "~~", "==", "`", "*"] {
            if rest.starts_with(mark) {
                pos += mark.len();
                stripped = true;
                break;
            }
        }
        if stripped {
            continue;
        }
        // Copy up to the next byte that can start markup in one go.
        let plain = rest
            .char_indices()
            .skip(1)
            .find(|&(_, c)| matches!(c, '[' | '!' | '*' | '~' | '=' | '`'))
            .map_or(rest.len(), |(i, _)| i);
        out.push_str(&rest[..plain]);
        pos += plain;
    }
    out
}

/// About [`SNIPPET_CHARS`] characters of `text` around the first match of any query term
/// (case-insensitive), every match wrapped in `<mark>`…`</mark>` and everything else
/// HTML-escaped, with `…` where the text was cut. Without a match: the start of the text.
pub fn snippet<T: AsRef<str>>(text: &str, query_terms: &[T]) -> String {
    let chars = collapse_whitespace(text);
    let lower: Vec<char> = chars.iter().map(|c| lower_char(*c)).collect();
    let mut terms: Vec<Vec<char>> = query_terms
        .iter()
        .map(|t| t.as_ref().trim().chars().map(lower_char).collect::<Vec<char>>())
        .filter(|t| !t.is_empty())
        .collect();
    terms.sort_by_key(|t| std::cmp::Reverse(t.len()));
    terms.dedup();
    let match_at = |i: usize, limit: usize| -> Option<usize> {
        terms
            .iter()
            .find(|t| i + t.len() <= limit && lower[i..i + t.len()] == t[..])
            .map(Vec::len)
    };
    let first = (0..lower.len()).find(|&i| match_at(i, lower.len()).is_some());
    let len = chars.len();
    let mut start = first.map_or(0, |m| m.saturating_sub(SNIPPET_LEAD));
    let mut end = (start + SNIPPET_CHARS).min(len);
    if end - start < SNIPPET_CHARS {
        start = end.saturating_sub(SNIPPET_CHARS);
    }
    // Cut at word boundaries when one is near, never past the first match.
    if start > 0 {
        let limit = first.unwrap_or(len).min(start + 15);
        if let Some(space) = (start..limit).find(|&i| chars[i] == ' ') {
            start = space + 1;
        }
    }
    if end < len
        && let Some(space) = (end.saturating_sub(15)..end).rev().find(|&i| chars[i] == ' ')
        && first.is_none_or(|m| space > m)
    {
        end = space;
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut i = start;
    while i < end {
        if let Some(n) = match_at(i, end) {
            out.push_str("<mark>");
            chars[i..i + n].iter().for_each(|c| escape_into(&mut out, *c));
            out.push_str("</mark>");
            i += n;
        } else {
            escape_into(&mut out, chars[i]);
            i += 1;
        }
    }
    if end < len {
        out.push('…');
    }
    out
}

fn collapse_whitespace(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_whitespace() {
            if out.last() != Some(&' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One-to-one lowercase (the first char of the mapping), so match offsets stay char offsets.
fn lower_char(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_strips_markup_lightly() {
        let text = "---\ntitle: T\ntags: [x]\n---\n# Heading ##\n\n> quoted **bold** and *it*\n\
                    - item with [[Target|alias]] and [[Other#Sec]]\n1. step [link](http://x.y) \
                    ![alt](i.png)\n- [ ] task ~~gone~~ ==hl== `code`\n\n\n---\n```rust\nlet x = 1;\n```\n";
        assert_eq!(
            plain_text(text),
            "Heading\n\nquoted bold and it\nitem with alias and Other Sec\nstep link alt\n\
             task gone hl code\n\nlet x = 1;"
        );
    }

    #[test]
    fn plain_text_keeps_underscores_and_unmatched_brackets() {
        assert_eq!(
            plain_text("snake_case [not a link] a < b"),
            "snake_case [not a link] a < b"
        );
    }

    #[test]
    fn snippet_marks_and_escapes() {
        let s = snippet("Use <b>Rust</b> & rust tools", &["rust"]);
        assert_eq!(
            s,
            "Use &lt;b&gt;<mark>Rust</mark>&lt;/b&gt; &amp; <mark>rust</mark> tools"
        );
    }

    #[test]
    fn snippet_windows_around_first_match() {
        let before = "alpha ".repeat(40);
        let after = " omega".repeat(40);
        let text = format!("{before}needle{after}");
        let s = snippet(&text, &["NEEDLE"]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        let visible = s.replace("<mark>", "").replace("</mark>", "");
        let n = visible.chars().count();
        assert!((140..=SNIPPET_CHARS + 2).contains(&n), "{n}: {visible}");
        let lead = visible.find("needle").unwrap_or(0);
        assert!(lead > 30, "context before the match");
    }

    #[test]
    fn snippet_without_match_or_terms_is_the_start() {
        assert_eq!(snippet("short text", &["zzz"]), "short text");
        let empty: [&str; 0] = [];
        assert_eq!(snippet("a\n\n  b", &empty), "a b");
        assert_eq!(snippet("", &["x"]), "");
        let long = "word ".repeat(100);
        let s = snippet(&long, &[""]);
        assert!(s.ends_with('…') && !s.starts_with('…'));
    }

    #[test]
    fn snippet_prefers_longest_term_and_handles_unicode() {
        assert_eq!(
            snippet("Notes about notebooks", &["note", "notebook"]),
            "<mark>Note</mark>s about <mark>notebook</mark>s"
        );
        assert_eq!(snippet("ÄPFEL und Birnen", &["äpfel"]), "<mark>ÄPFEL</mark> und Birnen");
    }
}
