-- kryton:compat=expand
-- Account security: what a session list shows (device, address, last use), TOTP second factors with
-- their single-use backup codes, and the short-lived state between the two steps of a sign-in (a
-- password accepted, a second factor awaited). All new columns are nullable and all tables new, so
-- a server of the previous release runs unchanged on this schema.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip_address TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;

-- One TOTP secret per account (RFC 6238, base32). enabled stays false until the user proved, with
-- one code, that their authenticator holds it. last_step is the last 30-second step accepted: a
-- code is never accepted twice.
CREATE TABLE two_factor (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER,
    created_at INTEGER NOT NULL,
    enabled_at INTEGER
);

-- Backup codes, stored as the SHA-256 of a random 64-bit code; each one works once.
CREATE TABLE two_factor_backup_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX two_factor_backup_codes_user ON two_factor_backup_codes (user_id);

-- A password accepted, the second factor awaited: the token's hash, a few minutes of life and a
-- count of wrong codes. Never a session.
CREATE TABLE two_factor_challenges (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX two_factor_challenges_user ON two_factor_challenges (user_id);
