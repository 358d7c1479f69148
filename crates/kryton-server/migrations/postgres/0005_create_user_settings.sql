-- kryton:compat=expand
-- Per-user settings of the web client (theme, starred notes, editor preferences): string values by
-- key, owned by one user and removed with them.
CREATE TABLE user_settings (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
