//! The lint that keeps `compat=expand` honest: an expand file may only add things.

/// Returns a short description of each statement that is not additive.
///
/// Comments, string literals and dollar-quoted bodies are ignored, so a word inside a comment or
/// a default value never trips the lint.
pub fn non_additive_statements(sql: &str) -> Vec<String> {
    strip_comments_and_literals(sql)
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .filter_map(|s| classify(&s).map(|what| format!("{what}: {}", shorten(&s))))
        .collect()
}

fn classify(statement: &str) -> Option<&'static str> {
    let words: Vec<&str> = statement.split(' ').collect();
    let has = |w: &str| words.contains(&w);
    let has_pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    if has("DROP") {
        return Some("DROP");
    }
    if has("TRUNCATE") {
        return Some("TRUNCATE");
    }
    if has_pair("DELETE", "FROM") {
        return Some("DELETE");
    }
    if has("RENAME") {
        return Some("RENAME");
    }
    let is_alter = words.first() == Some(&"ALTER");
    if is_alter && (has("TYPE") || has_pair("SET", "DATA")) {
        return Some("ALTER ... TYPE");
    }
    if is_alter && statement.contains("SET NOT NULL") {
        return Some("SET NOT NULL");
    }
    if is_alter && has("ADD") && statement.contains("NOT NULL") && !has("DEFAULT") {
        return Some("new NOT NULL column without a DEFAULT");
    }
    None
}

fn shorten(statement: &str) -> String {
    if statement.len() <= 60 {
        return statement.to_owned();
    }
    let mut end = 60;
    while !statement.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &statement[..end])
}

/// Replaces comments, quoted strings and `$tag$...$tag$` bodies with spaces.
fn strip_comments_and_literals(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '$' {
            let tag_end = chars[i + 1..].iter().position(|&ch| ch == '$').map(|p| i + 1 + p);
            let tag: Option<String> = tag_end
                .filter(|&end| chars[i + 1..end].iter().all(|ch| ch.is_alphanumeric() || *ch == '_'))
                .map(|end| chars[i..=end].iter().collect());
            match tag {
                Some(tag) => {
                    let body_start = i + tag.chars().count();
                    let rest: String = chars[body_start..].iter().collect();
                    let skip = rest.find(&tag).map_or(rest.len(), |p| p + tag.len());
                    i = body_start + rest[..skip].chars().count();
                    out.push(' ');
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additive_statements_pass() {
        let sql = "-- we DROP nothing here\nCREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT DEFAULT 'drop me');\n\
                   ALTER TABLE t ADD COLUMN n INT NOT NULL DEFAULT 0;\nCREATE INDEX i ON t (id);\n\
                   CREATE TYPE mood AS ENUM ('sad', 'ok');\nINSERT INTO t (id) VALUES (1);\n\
                   CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; DROP TABLE x; $$ LANGUAGE sql;";
        assert_eq!(non_additive_statements(sql), Vec::<String>::new());
    }

    #[test]
    fn destructive_statements_are_found() {
        for sql in [
            "DROP TABLE t",
            "ALTER TABLE t DROP COLUMN c",
            "ALTER TABLE t RENAME COLUMN a TO b",
            "ALTER TABLE t RENAME TO u",
            "ALTER TABLE t ALTER COLUMN c TYPE BIGINT",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL",
            "ALTER TABLE t ADD COLUMN c INT NOT NULL",
            "TRUNCATE t",
            "DELETE FROM t",
            "drop index i",
        ] {
            assert_eq!(non_additive_statements(sql).len(), 1, "{sql}");
        }
    }
}
