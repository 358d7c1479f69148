//! Wiki-links: finding them, resolving them like Obsidian, and rewriting them on rename.

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use super::code::mask;

/// One `[[Target#heading|alias]]` (or `![[…]]` embed) as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WikiLink {
    /// As written, trimmed: `Folder/Note`, `Note.md`, `image.png`.
    pub target: String,
    pub heading: Option<String>,
    pub alias: Option<String>,
    pub embed: bool,
}

/// A link with where it sits in the text.
#[derive(Clone, Debug)]
pub(crate) struct LinkSpan {
    /// From `[[` (or `!`) to `]]` inclusive.
    pub range: Range<usize>,
    /// The trimmed target text.
    pub target: Range<usize>,
    pub link: WikiLink,
}

/// Links in `text`, found in `masked` (its code-masked copy; offsets are shared).
/// A link stays on one line; `[[#heading]]` (a link into the same note) is skipped.
pub(crate) fn scan(text: &str, masked: &str) -> Vec<LinkSpan> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = masked[from..].find("[[") {
        let open = from + found;
        let inner_start = open + 2;
        let rest = &masked[inner_start..];
        let Some(close) = rest.find("]]") else {
            break;
        };
        let inner_masked = &rest[..close];
        if let Some(nested) = inner_masked.rfind("[[") {
            // `[[a [[b]]`: the innermost opener is the link.
            from = inner_start + nested;
            continue;
        }
        let inner_end = inner_start + close;
        from = inner_end + 2;
        if inner_masked.contains('\n') || inner_masked.trim().is_empty() {
            continue;
        }
        let inner = &text[inner_start..inner_end];
        let (target_part, alias) = match inner.split_once('|') {
            Some((t, a)) => (t.strip_suffix('\\').unwrap_or(t), non_empty(a)),
            None => (inner, None),
        };
        let (target_raw, heading) = match target_part.split_once('#') {
            Some((t, h)) => (t, non_empty(h)),
            None => (target_part, None),
        };
        let target = target_raw.trim();
        if target.is_empty() {
            continue;
        }
        let lead = target_raw.len() - target_raw.trim_start().len();
        let target_start = inner_start + lead;
        let embed = open > 0 && masked.as_bytes()[open - 1] == b'!';
        out.push(LinkSpan {
            range: if embed { open - 1 } else { open }..inner_end + 2,
            target: target_start..target_start + target.len(),
            link: WikiLink {
                target: target.to_owned(),
                heading,
                alias,
                embed,
            },
        });
    }
    out
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The wiki-links of a note, in order (duplicates kept), outside code and frontmatter.
pub fn wiki_links(text: &str) -> Vec<WikiLink> {
    scan(text, &mask(text)).into_iter().map(|s| s.link).collect()
}

/// A link target's lookup key: trimmed, no leading `/`, `.md` appended, lowercase.
fn link_key(target: &str) -> String {
    let t = target.trim();
    let t = t.strip_prefix('/').unwrap_or(t).to_lowercase();
    if t.ends_with(".md") { t } else { format!("{t}.md") }
}

/// The name a link looks for: the last segment of its [`link_key`] without `.md`
/// (`[[Folder/My Note#x]]` -> `my note`). A link can only resolve to a note whose
/// [`note_name_key`] is the same, so the index finds a note's candidate backlinks, and a link's
/// candidate targets, by this key alone.
pub fn link_name_key(target: &str) -> String {
    name_of(&link_key(target))
}

/// The name a note answers to: the last segment of its lower-cased path without `.md`
/// (`Folder/My Note.md` -> `my note`), as [`LinkResolver`] sees it. Aliases from frontmatter,
/// once notes have them, are further names of the same note.
pub fn note_name_key(path: &str) -> String {
    name_of(&path.to_lowercase())
}

fn name_of(lower: &str) -> String {
    let last = lower.rsplit('/').next().unwrap_or(lower);
    last.strip_suffix(".md").unwrap_or(last).to_owned()
}

/// Resolves link targets against one user's note paths, like Obsidian: the exact path (with or
/// without `.md`, ignoring case; an exact-case match wins among case variants), then a unique
/// path ending (`[[Note]]` finds `any/folder/Note.md`, `[[b/Note]]` finds `a/b/Note.md`).
/// Ambiguous or missing targets resolve to nothing (the caller lists them as broken).
/// Build once per vault (cost: the notes' path lengths), then each resolution is a hash lookup,
/// so resolving every link of a vault costs the links plus the notes, not links times notes.
pub struct LinkResolver<'a, P> {
    notes: &'a [P],
    /// Lowercased full path -> notes (several only for case variants).
    by_path: HashMap<String, Vec<usize>>,
    /// Every lowercased path ending that starts a segment (`a/b/c.md` -> `b/c.md`, `c.md`) -> notes.
    by_ending: HashMap<String, Vec<usize>>,
}

impl<'a, P: AsRef<str>> LinkResolver<'a, P> {
    pub fn new(notes: &'a [P]) -> Self {
        let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_ending: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, note) in notes.iter().enumerate() {
            let lower = note.as_ref().to_lowercase();
            // Endings are cut from the lowercased whole path, so they match exactly what a
            // `lower.ends_with("/" + key)` test over every note would match.
            for (slash, _) in lower.match_indices('/') {
                by_ending.entry(lower[slash + 1..].to_owned()).or_default().push(i);
            }
            if !lower.contains('/') {
                by_ending.entry(lower.clone()).or_default().push(i);
            }
            by_path.entry(lower).or_default().push(i);
        }
        LinkResolver {
            notes,
            by_path,
            by_ending,
        }
    }

    /// The note `target` points to, if exactly one.
    pub fn resolve(&self, target: &str) -> Option<&'a P> {
        let key = link_key(target);
        if key == ".md" {
            return None;
        }
        if let Some(hits) = self.by_path.get(&key) {
            return self.pick(hits, target);
        }
        match self.by_ending.get(&key).map(Vec::as_slice) {
            Some([only]) => self.notes.get(*only),
            _ => None,
        }
    }

    /// One hit wins; among case variants of one path, the exact spelling wins.
    fn pick(&self, hits: &[usize], target: &str) -> Option<&'a P> {
        match hits {
            [only] => self.notes.get(*only),
            _ => {
                let t = target.trim();
                let t = t.strip_prefix('/').unwrap_or(t);
                hits.iter().filter_map(|i| self.notes.get(*i)).find(|n| {
                    let p = n.as_ref();
                    p == t || p.strip_suffix(".md") == Some(t)
                })
            }
        }
    }
}

/// One-off resolution; build a [`LinkResolver`] when resolving many links.
pub fn resolve_link<'a, P: AsRef<str>>(target: &str, notes: &'a [P]) -> Option<&'a P> {
    LinkResolver::new(notes).resolve(target)
}

/// Rewrites the links in `text` that name `old_path` so they name `new_path` (both note paths
/// with `.md`), keeping `#heading`, `|alias`, the `!` of embeds, and the style of each link:
/// a bare name stays a bare name (`[[Old]]` -> `[[New]]`), a path stays a path
/// (`[[folder/Old]]` -> `[[other/New]]`), a written `.md` or leading `/` stays. A link "names"
/// the old path when it is that path or a path ending of it (case-insensitive). Code and
/// frontmatter are left alone. Returns the new text and how many links changed.
///
/// Call it for notes whose links *resolved* to `old_path` (the index knows): this function sees
/// one text, not the vault, so it cannot tell an ambiguous `[[Old]]` from one meant for this note.
/// After a move to a folder where the bare name is no longer unique, re-resolve and report.
pub fn rewrite_links(text: &str, old_path: &str, new_path: &str) -> (String, usize) {
    let old_key = link_key(old_path);
    let new_path = new_path.strip_prefix('/').unwrap_or(new_path);
    let new_full = new_path.strip_suffix(".md").unwrap_or(new_path);
    let new_name = new_full.rsplit('/').next().unwrap_or(new_full);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut count = 0;
    for span in scan(text, &mask(text)) {
        let written = &text[span.target.clone()];
        let key = link_key(written);
        let names_old = key == old_key || old_key.ends_with(&format!("/{key}"));
        if !names_old {
            continue;
        }
        let body = written.strip_prefix('/').unwrap_or(written);
        let mut replacement = String::new();
        if written.starts_with('/') {
            replacement.push('/');
        }
        replacement.push_str(if body.contains('/') { new_full } else { new_name });
        if body.to_lowercase().ends_with(".md") {
            replacement.push_str(".md");
        }
        if replacement == written {
            continue;
        }
        out.push_str(&text[last..span.target.start]);
        out.push_str(&replacement);
        last = span.target.end;
        count += 1;
    }
    out.push_str(&text[last..]);
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &str, heading: Option<&str>, alias: Option<&str>, embed: bool) -> WikiLink {
        WikiLink {
            target: target.to_owned(),
            heading: heading.map(str::to_owned),
            alias: alias.map(str::to_owned),
            embed,
        }
    }

    #[test]
    fn finds_every_form() {
        let text = "[[A]] [[B|Bee]] [[C#Part]] [[D#Part|Dee]] ![[img.png]] ![[E#H|x]] \
                    [[ spaced | alias ]] [[F\\|table]] [[#self]] [[]] [[x\ny]]";
        assert_eq!(
            wiki_links(text),
            vec![
                link("A", None, None, false),
                link("B", None, Some("Bee"), false),
                link("C", Some("Part"), None, false),
                link("D", Some("Part"), Some("Dee"), false),
                link("img.png", None, None, true),
                link("E", Some("H"), Some("x"), true),
                link("spaced", None, Some("alias"), false),
                link("F", None, Some("table"), false),
            ]
        );
    }

    #[test]
    fn ignores_code_and_frontmatter() {
        let text = "---\nrelated: [[Front]]\n---\n`[[Inline]]`\n```\n[[Fenced]]\n```\n[[Real]]";
        assert_eq!(wiki_links(text), vec![link("Real", None, None, false)]);
    }

    #[test]
    fn nested_openers_take_the_innermost() {
        assert_eq!(wiki_links("[[a [[b]]"), vec![link("b", None, None, false)]);
        assert_eq!(wiki_links("[[unclosed"), vec![]);
    }

    #[test]
    fn resolves_like_obsidian() {
        let notes = [
            "Home.md",
            "Projects/Plan.md",
            "Archive/Plan.md",
            "Projects/Unique.md",
            "a/b/Deep.md",
            "Case.md",
            "case.md",
        ];
        let r = LinkResolver::new(&notes);
        assert_eq!(r.resolve("Home"), Some(&"Home.md"));
        assert_eq!(r.resolve("home.MD"), Some(&"Home.md"));
        assert_eq!(r.resolve("/Home"), Some(&"Home.md"));
        assert_eq!(r.resolve("projects/plan"), Some(&"Projects/Plan.md"));
        assert_eq!(r.resolve("Plan"), None, "ambiguous name");
        assert_eq!(r.resolve("Unique"), Some(&"Projects/Unique.md"));
        assert_eq!(r.resolve("b/Deep"), Some(&"a/b/Deep.md"));
        assert_eq!(r.resolve("Deep.md"), Some(&"a/b/Deep.md"));
        assert_eq!(r.resolve("Missing"), None);
        assert_eq!(r.resolve("Case"), Some(&"Case.md"));
        assert_eq!(r.resolve("case"), Some(&"case.md"));
        assert_eq!(r.resolve("CASE"), None);
        assert_eq!(r.resolve(""), None);
        assert_eq!(r.resolve("img.png"), None);
        assert_eq!(resolve_link("Unique", &notes), Some(&"Projects/Unique.md"));
        // Exact path beats a same-named note elsewhere.
        let notes = ["Note.md", "sub/Note.md"];
        assert_eq!(resolve_link("Note", &notes), Some(&"Note.md"));
        assert_eq!(resolve_link("sub/Note", &notes), Some(&"sub/Note.md"));
    }

    /// The resolver before the path-ending index: it scanned every note for each target with a
    /// `/`. Kept here only as the reference the indexed resolver must agree with.
    fn old_resolve<'a>(notes: &'a [String], target: &str) -> Option<&'a String> {
        let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, note) in notes.iter().enumerate() {
            let lower = note.to_lowercase();
            let name = lower.rsplit('/').next().unwrap_or(&lower).to_owned();
            by_name.entry(name).or_default().push(i);
            by_path.entry(lower).or_default().push(i);
        }
        let key = link_key(target);
        if key == ".md" {
            return None;
        }
        if let Some(hits) = by_path.get(&key) {
            return match hits.as_slice() {
                [only] => notes.get(*only),
                _ => {
                    let t = target.trim();
                    let t = t.strip_prefix('/').unwrap_or(t);
                    hits.iter()
                        .filter_map(|i| notes.get(*i))
                        .find(|p| p.as_str() == t || p.strip_suffix(".md") == Some(t))
                }
            };
        }
        let hits: Vec<usize> = if key.contains('/') {
            let suffix = format!("/{key}");
            notes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.to_lowercase().ends_with(&suffix))
                .map(|(i, _)| i)
                .collect()
        } else {
            by_name.get(&key).cloned().unwrap_or_default()
        };
        match hits.as_slice() {
            [only] => notes.get(*only),
            _ => None,
        }
    }

    /// A small deterministic generator (xorshift), so a failure names a reproducible vault.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
            items[self.below(items.len())]
        }
    }

    #[test]
    fn indexed_resolver_agrees_with_the_scanning_one() {
        // Names chosen to collide: case variants, final sigma (its lowercase depends on what
        // precedes it), dotted names, `.md` inside a name, spaces, the same name in many folders.
        let segments = [
            "Note",
            "note",
            "NOTE",
            "ΟΔΟΣ",
            "οδος",
            "Σ",
            "a",
            "A",
            "b",
            "x.md",
            "X.MD",
            "my note",
            "My Note ",
            "dots.in.name",
            "ß",
            "SS",
            "İ",
            "i",
            "nested",
            "Nested",
            "Plan",
            "plan.md",
        ];
        for seed in 1..=40u64 {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
            let mut notes: Vec<String> = Vec::new();
            for _ in 0..(20 + rng.below(60)) {
                let depth = rng.below(4);
                let mut path: Vec<&str> = (0..depth).map(|_| rng.pick(&segments)).collect();
                path.push(rng.pick(&segments));
                let mut path = path.join("/");
                if !path.ends_with(".md") || rng.below(3) == 0 {
                    path.push_str(".md");
                }
                if !notes.contains(&path) {
                    notes.push(path);
                }
            }
            let mut targets: Vec<String> = Vec::new();
            for note in &notes {
                let bare = note.strip_suffix(".md").unwrap_or(note);
                let parts: Vec<&str> = bare.split('/').collect();
                for from in 0..parts.len() {
                    let ending = parts[from..].join("/");
                    targets.push(ending.clone());
                    targets.push(format!("{ending}.md"));
                    targets.push(ending.to_uppercase());
                    targets.push(ending.to_lowercase());
                    targets.push(format!("/{ending}"));
                    targets.push(format!(" {ending} "));
                }
            }
            for _ in 0..200 {
                let depth = 1 + rng.below(3);
                let t: Vec<&str> = (0..depth).map(|_| rng.pick(&segments)).collect();
                targets.push(t.join("/"));
            }
            targets.extend(["", "/", ".md", "//", "a//b", "/a/", "img.png"].map(str::to_owned));
            let resolver = LinkResolver::new(&notes);
            for target in &targets {
                assert_eq!(
                    resolver.resolve(target),
                    old_resolve(&notes, target),
                    "seed {seed}, target {target:?}, notes {notes:?}"
                );
            }
        }
    }

    #[test]
    fn rewrites_names_and_paths_keeping_heading_alias_and_embed() {
        let text = "See [[Old]], [[folder/Old#Sec|the old one]], ![[Old]], [[old.md]], \
                    [[/folder/Old]], [[Other]], [[Older]].";
        let (out, n) = rewrite_links(text, "folder/Old.md", "elsewhere/New.md");
        assert_eq!(
            out,
            "See [[New]], [[elsewhere/New#Sec|the old one]], ![[New]], [[New.md]], \
             [[/elsewhere/New]], [[Other]], [[Older]]."
        );
        assert_eq!(n, 5);
    }

    #[test]
    fn rewrite_leaves_code_and_unchanged_names() {
        let text = "`[[Old]]`\n```\n[[Old]]\n```\n[[Old]] [[a/Old]]";
        let (out, n) = rewrite_links(text, "a/Old.md", "b/Old.md");
        assert_eq!(out, "`[[Old]]`\n```\n[[Old]]\n```\n[[Old]] [[b/Old]]");
        assert_eq!(n, 1);
        let (same, n) = rewrite_links("no links here", "a.md", "b.md");
        assert_eq!((same.as_str(), n), ("no links here", 0));
    }

    #[test]
    fn rewrite_handles_multibyte_text() {
        let (out, n) = rewrite_links("Über [[Alt]] — ok", "Alt.md", "Neu/Äpfel.md");
        assert_eq!(out, "Über [[Äpfel]] — ok");
        assert_eq!(n, 1);
    }
}
