//! Reading a note's markdown: title, tags, wiki-links, plain text for search, snippets, and the
//! link rewriting a rename needs. Pure functions over `&str`; no file system, no database.
//!
//! Links and inline tags are never taken from code (fenced blocks, inline code) or frontmatter;
//! see [`code`] for the exact approximation of CommonMark used.

mod code;
pub mod frontmatter;
pub mod links;
pub mod tags;
pub mod text;

pub use frontmatter::Frontmatter;
pub use links::{LinkResolver, WikiLink, resolve_link, rewrite_links, wiki_links};
pub use tags::normalize_tag;
pub use text::{SNIPPET_CHARS, plain_text, snippet};

/// Everything the index needs from one note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedNote {
    pub title: String,
    /// Frontmatter tags first, then inline tags; lowercase, deduplicated, in order of appearance.
    pub tags: Vec<String>,
    /// Every wiki-link and embed, in order, duplicates kept.
    pub links: Vec<WikiLink>,
    pub plain_text: String,
}

/// Parses a note; `file_stem` (the file name without `.md`) is the title of last resort.
pub fn parse(text: &str, file_stem: &str) -> ParsedNote {
    let front = frontmatter::parse(text);
    let masked = code::mask(text);
    let spans = links::scan(text, &masked);
    let title = front
        .title
        .clone()
        .or_else(|| first_heading(text, &masked))
        .unwrap_or_else(|| file_stem.to_owned());
    let tags = collect_tags(front.tags, &masked, &spans);
    ParsedNote {
        title,
        tags,
        links: spans.into_iter().map(|s| s.link).collect(),
        plain_text: plain_text(text),
    }
}

/// The title alone: frontmatter `title`, else the first `# ` heading, else `file_stem`.
pub fn title(text: &str, file_stem: &str) -> String {
    frontmatter::parse(text)
        .title
        .or_else(|| first_heading(text, &code::mask(text)))
        .unwrap_or_else(|| file_stem.to_owned())
}

/// The tags alone (frontmatter and inline), normalised and deduplicated.
pub fn tags(text: &str) -> Vec<String> {
    let masked = code::mask(text);
    let spans = links::scan(text, &masked);
    collect_tags(frontmatter::parse(text).tags, &masked, &spans)
}

fn collect_tags(mut tags: Vec<String>, masked: &str, spans: &[links::LinkSpan]) -> Vec<String> {
    // Wiki-link text is not prose: `[[Note #draft]]` is a link, not a tag.
    let mut prose = masked.as_bytes().to_vec();
    for span in spans {
        for b in &mut prose[span.range.clone()] {
            *b = b' ';
        }
    }
    let prose = String::from_utf8_lossy(&prose);
    for tag in tags::inline_tags(&prose) {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// The first level-1 ATX heading outside code and frontmatter (text taken from the original).
fn first_heading(text: &str, masked: &str) -> Option<String> {
    let mut offset = 0;
    for line in masked.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent <= 3 && line[indent..].starts_with("# ") {
            let original = &text[offset + indent + 2..offset + line.len()];
            let heading = original.trim().trim_end_matches('#').trim_end();
            if !heading.is_empty() {
                return Some(heading.to_owned());
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_precedence() {
        assert_eq!(title("---\ntitle: Front\n---\n# Heading\n", "stem"), "Front");
        assert_eq!(title("intro\n# Heading #\n# Second", "stem"), "Heading");
        assert_eq!(title("## Sub only\n#tag\n", "stem"), "stem");
        assert_eq!(title("```\n# In code\n```\n", "stem"), "stem");
        assert_eq!(title("#   \n# Real\n", "stem"), "Real");
        assert_eq!(title("---\ntitle:\n---\n   # Indented\n", "stem"), "Indented");
    }

    #[test]
    fn parse_collects_everything() {
        let text = "---\ntags: [Project, shared]\n---\n# Plan\n\nWork on [[Roadmap#Q1|the roadmap]] \
                    with #project and #Team/Alpha.\n\n```\n#notatag [[NotALink]]\n```\n\
                    `#nope` ![[diagram.png]] [[Page #inlink]] #shared\n";
        let parsed = parse(text, "Plan");
        assert_eq!(parsed.title, "Plan");
        assert_eq!(parsed.tags, ["project", "shared", "team/alpha"]);
        let targets: Vec<_> = parsed.links.iter().map(|l| l.target.as_str()).collect();
        assert_eq!(targets, ["Roadmap", "diagram.png", "Page"]);
        assert!(parsed.links[1].embed);
        assert!(parsed.plain_text.contains("Work on the roadmap with #project"));
        assert!(!parsed.plain_text.contains("tags:"));
        assert_eq!(tags(text), parsed.tags);
    }

    #[test]
    fn empty_note() {
        let parsed = parse("", "Empty");
        assert_eq!(parsed.title, "Empty");
        assert!(parsed.tags.is_empty() && parsed.links.is_empty() && parsed.plain_text.is_empty());
    }
}
