//! The few frontmatter fields Kryton reads: `title` and `tags` (or `tag`).
//!
//! Not a YAML parser: top-level `key: value` lines, flow lists (`[a, b]`), comma or space
//! separated strings, and block lists (`- a` lines under an empty `tags:`). Anything else is
//! ignored, never an error: a note with odd frontmatter still opens.

use std::collections::HashSet;

use super::code::frontmatter_len;
use super::tags::normalize_tag;

/// The fields read from a note's frontmatter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontmatter {
    pub title: Option<String>,
    pub tags: Vec<String>,
}

/// The frontmatter's text (between the `---` lines), if the note has any.
pub(crate) fn block(text: &str) -> Option<&str> {
    let len = frontmatter_len(text);
    if len == 0 {
        return None;
    }
    let inner = text[..len].trim_start_matches('\u{feff}');
    let after_open = inner.split_once('\n').map(|(_, rest)| rest)?;
    let body_end = after_open.trim_end().rfind('\n').unwrap_or(0);
    Some(&after_open[..body_end])
}

/// Reads `title` and `tags` from the note's frontmatter (empty when there is none).
pub fn parse(text: &str) -> Frontmatter {
    let mut out = Frontmatter::default();
    let Some(yaml) = block(text) else {
        return out;
    };
    let mut tags = TagList::default();
    let mut in_tag_list = false;
    for line in yaml.lines() {
        let trimmed = line.trim();
        if in_tag_list {
            if let Some(item) = trimmed.strip_prefix('-') {
                tags.push(item);
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            in_tag_list = false;
        }
        if line.starts_with(char::is_whitespace) || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "title" => {
                let title = unquote(value).trim();
                if !title.is_empty() {
                    out.title = Some(title.to_owned());
                }
            }
            "tags" | "tag" => {
                if value.is_empty() {
                    in_tag_list = true;
                } else {
                    let list = value
                        .strip_prefix('[')
                        .and_then(|v| v.strip_suffix(']'))
                        .unwrap_or(value);
                    for item in list.split(',') {
                        for word in unquote(item.trim()).split_whitespace() {
                            tags.push(word);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out.tags = tags.tags;
    out
}

/// Tags in order of appearance, de-duplicated through a set (linear for thousands of tags).
#[derive(Default)]
struct TagList {
    tags: Vec<String>,
    seen: HashSet<String>,
}

impl TagList {
    fn push(&mut self, raw: &str) {
        let item = unquote(raw.trim()).trim();
        let item = item.strip_prefix('#').unwrap_or(item);
        if let Some(tag) = normalize_tag(item)
            && self.seen.insert(tag.clone())
        {
            self.tags.push(tag);
        }
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_plain_and_quoted() {
        assert_eq!(parse("---\ntitle: My Note\n---\n").title.as_deref(), Some("My Note"));
        assert_eq!(
            parse("---\ntitle: \"Quoted: yes\"\n---\n").title.as_deref(),
            Some("Quoted: yes")
        );
        assert_eq!(parse("---\ntitle: ''\n---\n").title, None);
        assert_eq!(parse("title: not frontmatter\n").title, None);
        assert_eq!(parse("---\n  title: nested\n---\n").title, None);
    }

    #[test]
    fn tags_in_every_form() {
        assert_eq!(parse("---\ntags: [a, B, \"c d\"]\n---\n").tags, ["a", "b", "c", "d"]);
        assert_eq!(parse("---\ntags: a, b\n---\n").tags, ["a", "b"]);
        assert_eq!(parse("---\ntags: a b #c\n---\n").tags, ["a", "b", "c"]);
        assert_eq!(
            parse("---\ntitle: x\ntags:\n  - One\n  - two/Sub\n- three\nother: 1\n- nope\n---\n").tags,
            ["one", "two/sub", "three"]
        );
        assert_eq!(parse("---\ntag: solo\n---\n").tags, ["solo"]);
        assert_eq!(parse("---\ntags: [a, a, 123, '']\n---\n").tags, ["a"]);
        assert_eq!(parse("---\ntags:\n---\n").tags, Vec::<String>::new());
    }

    #[test]
    fn block_extraction() {
        assert_eq!(block("---\na: 1\nb: 2\n---\nbody"), Some("a: 1\nb: 2"));
        assert_eq!(block("---\n---\nbody"), Some(""));
        assert_eq!(block("no frontmatter"), None);
    }
}
