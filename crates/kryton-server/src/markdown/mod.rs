//! Reading a note's markdown: title, tags, wiki-links, plain text for search, snippets, and the
//! link rewriting a rename needs. Pure functions over `&str`; no file system, no database.
//!
//! Links and inline tags are never taken from code (fenced blocks, inline code) or frontmatter;
//! see [`code`] for the exact approximation of CommonMark used.

use std::collections::HashSet;

mod code;
pub mod frontmatter;
pub mod links;
pub mod tags;
pub mod text;

pub use frontmatter::Frontmatter;
pub use links::{LinkResolver, WikiLink, link_name_key, note_name_key, resolve_link, rewrite_links, wiki_links};
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
    // A set beside the list keeps de-duplication linear (150,000 inline tags in one note).
    let mut seen: HashSet<String> = tags.iter().cloned().collect();
    for tag in tags::inline_tags(&prose) {
        if seen.insert(tag.clone()) {
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

/// Inputs built to make a scanner do quadratic work, each around 1 MB (the body limit is 2 MB).
/// Each must parse in a time proportional to its size; the guard below is only a hang guard, set
/// far above the linear cost (about 2 s for the worst of these in an unoptimised test build, with
/// other tests sharing the cores) and far below what the quadratic scans they replace took on
/// 1 MB (from minutes for 150,000 tags to hours for a line of `[`).
#[cfg(test)]
mod pathological {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const SIZE: usize = 1 << 20;
    const GUARD: Duration = Duration::from_secs(60);

    fn repeat(unit: &str) -> String {
        unit.repeat(SIZE / unit.len())
    }

    /// Runs `work` on its own thread; fails if it has not finished within the guard.
    fn finishes<T: Send + 'static>(name: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(work());
        });
        match rx.recv_timeout(GUARD) {
            Ok(value) => value,
            Err(_) => panic!("{name}: still parsing after {GUARD:?}"),
        }
    }

    /// Everything a write and a rename do with a note's text.
    fn everything(text: String) -> (ParsedNote, usize) {
        let parsed = parse(&text, "stem");
        let (_, rewritten) = rewrite_links(&text, "a.md", "b.md");
        assert_eq!(title(&text, "stem"), parsed.title);
        (parsed, rewritten)
    }

    fn check(name: &str, text: String) -> (ParsedNote, usize) {
        assert!(text.len() > SIZE / 2, "{name}: input too small");
        finishes(name, move || everything(text))
    }

    #[test]
    fn only_brackets() {
        for unit in [
            "[", "[[", "![[", "]]", "[[a", "[[a|", "[a](", "[](", "![", "[[a]", "[[a]]",
        ] {
            let (parsed, _) = check(unit, repeat(unit));
            if unit != "[[a]]" {
                assert!(parsed.links.is_empty(), "{unit}");
            }
        }
        let (parsed, rewritten) = check("[[a]]", repeat("[[a]]"));
        assert_eq!(parsed.links.len(), SIZE / 5);
        assert_eq!(rewritten, SIZE / 5);
    }

    #[test]
    fn only_hashes() {
        for unit in ["#", "# ", "#a#", "## x\n", "#\n"] {
            let (parsed, _) = check(unit, repeat(unit));
            assert!(parsed.tags.len() <= 1, "{unit}");
        }
    }

    #[test]
    fn one_hundred_fifty_thousand_inline_tags() {
        let text: String = (0..150_000).map(|i| format!("#t{i} ")).collect();
        let (parsed, _) = check("distinct tags", text);
        assert_eq!(parsed.tags.len(), 150_000);
        assert_eq!(parsed.tags[149_999], "t149999");
        let (parsed, _) = check("repeated tags", repeat("#same #Same "));
        assert_eq!(parsed.tags, ["same"]);
    }

    #[test]
    fn frontmatter_with_many_tags() {
        let flow: Vec<String> = (0..120_000).map(|i| format!("t{i}")).collect();
        let (parsed, _) = check("flow list", format!("---\ntags: [{}]\n---\n", flow.join(", ")));
        assert_eq!(parsed.tags.len(), 120_000);
        let block: String = (0..100_000).map(|i| format!("  - t{i}\n")).collect();
        let (parsed, _) = check("block list", format!("---\ntitle: x\ntags:\n{block}---\n#t5\n"));
        assert_eq!(parsed.tags.len(), 100_000);
        assert_eq!(parsed.title, "x");
        check("unclosed frontmatter", format!("---\n{}", repeat("a: b\n")));
    }

    #[test]
    fn deeply_nested_lists_and_quotes() {
        let mut nested = String::new();
        let mut depth = 0;
        while nested.len() < SIZE {
            nested.push_str(&" ".repeat(depth % 4096));
            nested.push_str("- [[x]] #t\n");
            depth += 1;
        }
        let (parsed, _) = check("indented lists", nested);
        assert_eq!(parsed.tags, ["t"]);
        check("one-line list", repeat("- "));
        check("one-line quote", repeat("> "));
        check("quote lines", repeat("> > > > - [ ] x\n"));
    }

    #[test]
    fn long_code_spans_and_backticks() {
        // Runs of growing length never close: each would scan the rest of the line.
        let mut runs = String::new();
        let mut k = 1;
        while runs.len() < SIZE {
            runs.push_str(&"`".repeat(k % 2000 + 1));
            runs.push_str(" [[x]] ");
            k += 1;
        }
        check("unclosed runs", runs);
        let (parsed, _) = check("one long span", format!("`{}`", repeat("[[x]] #t ")));
        assert!(parsed.links.is_empty() && parsed.tags.is_empty());
        check("only backticks", repeat("`"));
        check("alternating", repeat("` `` "));
        check("fences", repeat("```\n"));
        check("emphasis", repeat("*"));
    }

    #[test]
    fn long_lines_of_links() {
        let (parsed, _) = check("links", repeat("[[Note#h|alias]] "));
        assert_eq!(parsed.links.len(), SIZE / 17);
        let (parsed, _) = check("unclosed then one close", format!("{}]]", repeat("[[a ")));
        assert_eq!(parsed.links.len(), 1);
    }
}
