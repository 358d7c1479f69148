//! The sample vault a new user starts with: a few linked notes, a daily note and two templates,
//! so the tree, graph, backlinks, tags and the template picker show something on the first day.
//! Written once, only into a vault without notes; the user may change or delete all of it.

use super::fs::{DAILY_FOLDER, DAILY_TEMPLATE, TEMPLATES_FOLDER, render_template};

/// The first note a new user sees.
pub const WELCOME_PATH: &str = "Welcome.md";
/// The sample project note (linked from the welcome note).
pub const PROJECT_PATH: &str = "Projects/First project.md";
/// The sample idea (linked from the project note).
pub const IDEA_PATH: &str = "Ideas/Small notes.md";

const WELCOME: &str = "# Welcome to Kryton\n\
\n\
Your notes are plain markdown files in your own vault. A few to start with:\n\
\n\
- [[First project]] shows how a project note can link to ideas and days.\n\
- [[Small notes]] is an idea, tagged so the tag browser has something to show.\n\
- Today's page lives in `Daily/`; the *Daily* template in `Templates/` shapes each new one.\n\
\n\
Link notes with double brackets, like [[Welcome]] (this very note), and tag them with a hash,\n\
like #getting-started. Rename a note and the links pointing to it follow; every save keeps the\n\
previous version in the history; deleted notes wait in the trash for 30 days.\n";

const PROJECT: &str = "# First project\n\
\n\
A project note gathers what belongs together. This one links back to [[Welcome]] and to the idea\n\
behind it: [[Small notes]].\n\
\n\
## Next steps\n\
\n\
- [ ] Rename this note to your own project\n\
- [ ] Write today's entry in the daily note\n\
- [ ] Start a meeting note from the *Meeting* template\n\
\n\
#project\n";

const IDEA: &str = "# Small notes\n\
\n\
One thought per note, linked generously, beats one long document: links are cheap, and the\n\
graph shows how thoughts connect. See [[First project]] for one that uses it.\n\
\n\
#idea\n";

const DAILY_TEMPLATE_TEXT: &str = "# {{date}}\n\
\n\
## Plan\n\
\n\
- [ ] \n\
\n\
## Notes\n\
\n\
#daily\n";

const MEETING_TEMPLATE_TEXT: &str = "# {{title}}\n\
\n\
Date: {{date}}\n\
\n\
## Attendees\n\
\n\
- \n\
\n\
## Agenda\n\
\n\
1. \n\
\n\
## Decisions and actions\n\
\n\
- [ ] \n\
\n\
#meeting\n";

/// `(path, content)` of every sample note, `today`'s daily note rendered from the sample template.
/// The first-run vault with `SAMPLE_VAULT=off`: one welcome note that links only to itself.
pub fn welcome_only() -> Vec<(String, String)> {
    vec![(WELCOME_PATH.to_owned(), WELCOME_ALONE.to_owned())]
}

const WELCOME_ALONE: &str = "# Welcome to Kryton\n\
\n\
Your notes are plain markdown files. Link them with double brackets, like [[Welcome]] \
(a link to this very note), and tag them with a hash, like #getting-started.\n";

pub fn notes(today: time::Date) -> Vec<(String, String)> {
    let day = format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day());
    let daily = format!(
        "{}Started with Kryton today: read [[Welcome]], then opened [[First project]].\n",
        render_template(DAILY_TEMPLATE_TEXT, &day, &day)
    );
    vec![
        (WELCOME_PATH.to_owned(), WELCOME.to_owned()),
        (PROJECT_PATH.to_owned(), PROJECT.to_owned()),
        (IDEA_PATH.to_owned(), IDEA.to_owned()),
        (format!("{DAILY_FOLDER}/{day}.md"), daily),
        (
            format!("{TEMPLATES_FOLDER}/{DAILY_TEMPLATE}.md"),
            DAILY_TEMPLATE_TEXT.to_owned(),
        ),
        (
            format!("{TEMPLATES_FOLDER}/Meeting.md"),
            MEETING_TEMPLATE_TEXT.to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markdown::{self, LinkResolver};

    #[test]
    fn every_sample_link_resolves_and_every_note_is_connected() {
        let today = time::macros::date!(2026 - 12 - 03);
        let notes = notes(today);
        let paths: Vec<&str> = notes.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"Daily/2026-12-03.md"));
        assert!(paths.contains(&"Templates/Daily.md") && paths.contains(&"Templates/Meeting.md"));
        let resolver = LinkResolver::new(&paths);
        let mut linked = std::collections::HashSet::new();
        for (path, text) in &notes {
            let parsed = markdown::parse(text, path);
            for link in parsed.links {
                let target = resolver.resolve(&link.target);
                assert!(target.is_some(), "{path}: [[{}]] resolves", link.target);
                linked.insert(*target.unwrap_or(&""));
                linked.insert(path.as_str());
            }
        }
        for path in [WELCOME_PATH, PROJECT_PATH, IDEA_PATH, "Daily/2026-12-03.md"] {
            assert!(linked.contains(path), "{path} is in the graph");
        }
        let welcome = markdown::parse(WELCOME, "Welcome");
        assert_eq!(welcome.title, "Welcome to Kryton");
        assert_eq!(welcome.tags, ["getting-started"]);
    }
}
