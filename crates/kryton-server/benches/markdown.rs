//! Markdown benchmark: parse time per MB for plain prose and for inputs built to make a scanner
//! quadratic (issue 19), each reported as a ratio to plain prose measured in the same run.
//!
//! In process, no server: `kryton::markdown::parse` (title, tags, links, search text: what a
//! write indexes) and `rewrite_links` (what a rename does to each linking note). Every input is
//! about `KRYTON_BENCH_MARKDOWN_MB` MB (default 1); each is parsed until 0.5 s have passed (at
//! least 3 times) and the median is reported. Linear parsing shows as a ratio that stays the
//! same when the size grows (try `KRYTON_BENCH_MARKDOWN_MB=2`); a quadratic scan's ratio grows
//! with the size. Run: `cargo bench -p kryton-server --bench markdown`. See docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use kryton::markdown;

const MIN_TIME: Duration = Duration::from_millis(500);
const MIN_RUNS: usize = 3;

fn repeat(unit: &str, size: usize) -> String {
    unit.repeat(size / unit.len())
}

/// Ordinary notes: headings, prose, a few links, tags and code, concatenated to `size`.
fn plain(size: usize) -> String {
    let words = [
        "alpha", "note", "server", "markdown", "index", "vault", "the", "and", "of", "links", "graph", "search",
        "quietly", "reads", "writes", "folder",
    ];
    let mut out = String::from("---\ntitle: Plain prose\ntags: [bench, prose]\n---\n");
    let mut i = 0usize;
    while out.len() < size {
        if i.is_multiple_of(40) {
            out.push_str(&format!("\n## Section {i}\n\n"));
        }
        for w in 0..12 {
            out.push_str(words[(i * 7 + w * 3) % words.len()]);
            out.push(' ');
        }
        match i % 10 {
            0 => out.push_str("see [[Other note|the other]] and #topic/sub "),
            3 => out.push_str("with `inline code` and a [link](https://example.org) "),
            6 => out.push_str("\n```rust\nlet x = [[not_a_link]];\n```\n"),
            _ => {}
        }
        out.push_str(".\n");
        i += 1;
    }
    out
}

fn inputs(size: usize) -> Vec<(&'static str, String)> {
    let mut runs = String::new();
    let mut k = 1;
    while runs.len() < size {
        runs.push_str(&"`".repeat(k % 2000 + 1));
        runs.push_str(" [[x]] ");
        k += 1;
    }
    let mut nested = String::new();
    let mut depth = 0;
    while nested.len() < size {
        nested.push_str(&" ".repeat(depth % 4096));
        nested.push_str("- [[x]] #t\n");
        depth += 1;
    }
    let tag_count = size / 8;
    vec![
        ("plain prose", plain(size)),
        ("only [", repeat("[", size)),
        ("only [[ (![[)", repeat("![[", size)),
        ("[a]( repeated", repeat("[a](", size)),
        ("only #", repeat("#", size)),
        ("distinct #tags", (0..tag_count).map(|i| format!("#t{i} ")).collect()),
        (
            "frontmatter tags",
            format!(
                "---\ntags: [{}]\n---\n",
                (0..tag_count).map(|i| format!("t{i}")).collect::<Vec<_>>().join(", ")
            ),
        ),
        ("nested lists", nested),
        ("backtick runs", runs),
        ("one code span", format!("`{}`", repeat("[[x]] #t ", size))),
        ("links", repeat("[[Note#h|alias]] ", size)),
    ]
}

/// Median time of `work` over at least MIN_RUNS runs and MIN_TIME.
fn measure(mut work: impl FnMut()) -> Duration {
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < MIN_RUNS || started.elapsed() < MIN_TIME {
        let t = Instant::now();
        work();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let mb: f64 = std::env::var("KRYTON_BENCH_MARKDOWN_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let size = (mb * 1_048_576.0) as usize;
    println!("markdown parse, inputs of about {mb} MB; ratios are to plain prose in this run\n");
    println!(
        "{:<20} {:>9} {:>12} {:>8} {:>14} {:>8}",
        "input", "MB", "parse ms/MB", "ratio", "rewrite ms/MB", "ratio"
    );
    let mut baseline: Option<(f64, f64)> = None;
    for (name, text) in inputs(size) {
        let megabytes = text.len() as f64 / 1_048_576.0;
        let parse = measure(|| {
            black_box(markdown::parse(black_box(&text), "bench"));
        });
        let rewrite = measure(|| {
            black_box(markdown::rewrite_links(black_box(&text), "Other note.md", "Moved.md"));
        });
        let parse_per_mb = parse.as_secs_f64() * 1000.0 / megabytes;
        let rewrite_per_mb = rewrite.as_secs_f64() * 1000.0 / megabytes;
        let (p0, r0) = *baseline.get_or_insert((parse_per_mb, rewrite_per_mb));
        println!(
            "{name:<20} {megabytes:>9.2} {parse_per_mb:>12.1} {:>8.2} {rewrite_per_mb:>14.1} {:>8.2}",
            parse_per_mb / p0,
            rewrite_per_mb / r0
        );
    }
}
