//! Tags: inline `#tag` and the normal form shared with frontmatter tags.
//!
//! An inline tag is a `#` at the start of a line or after whitespace, followed by letters,
//! digits, `_`, `-` or `/` (nesting: `#area/sub`). So `# Heading` (space), `##`, `&#123;`,
//! `http://x/#anchor` and `[[Note#heading]]` are not tags; code and frontmatter are masked before
//! scanning. Tags are lowercased; a tag needs at least one character that is not a digit, `-` or
//! `/`, so `#123` and `#2024-01` are not tags (issue numbers and dates), but `#2024_q1` is.

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '/'
}

/// The normal form of a tag (no `#`): lowercase, no trailing `/`; `None` when it is not a tag.
pub fn normalize_tag(raw: &str) -> Option<String> {
    let tag = raw.trim_end_matches('/');
    if tag.is_empty()
        || tag.starts_with('/')
        || tag.contains("//")
        || !tag.chars().all(is_tag_char)
        || tag.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '/')
    {
        return None;
    }
    Some(tag.to_lowercase())
}

/// Inline tags of masked text, in order of appearance, normalised, not deduplicated.
/// One pass: each `#` is looked at once, and a tag's body is never scanned again.
pub(crate) fn inline_tags(masked: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut from = 0;
    while let Some(found) = masked[from..].find('#') {
        let i = from + found;
        let rest = &masked[i + 1..];
        let len = rest.find(|ch: char| !is_tag_char(ch)).unwrap_or(rest.len());
        // A tag starts a line or follows whitespace (`x#no`, `&#123;` and `#a#b`'s `b` do not).
        if masked[..i].chars().next_back().is_none_or(char::is_whitespace)
            && let Some(tag) = normalize_tag(&rest[..len])
        {
            tags.push(tag);
        }
        from = i + 1 + len;
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form() {
        assert_eq!(normalize_tag("Work").as_deref(), Some("work"));
        assert_eq!(normalize_tag("a/B/").as_deref(), Some("a/b"));
        assert_eq!(normalize_tag("2024_q1").as_deref(), Some("2024_q1"));
        assert_eq!(normalize_tag("Ünïcode").as_deref(), Some("ünïcode"));
        for bad in ["", "/", "/a", "a//b", "123", "2024-01", "a b", "a.b", "a#b"] {
            assert_eq!(normalize_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn inline_rules() {
        let text = "#start mid #Mid.end (#paren) x#no &#123; http://h/#frag #123 \
                    #a/b/ #a#b ## # heading #-dash #ok_1";
        assert_eq!(inline_tags(text), ["start", "mid", "a/b", "a", "-dash", "ok_1"]);
    }

    #[test]
    fn tags_after_newlines_and_tabs() {
        assert_eq!(inline_tags("one\n#two\t#three"), ["two", "three"]);
    }
}
