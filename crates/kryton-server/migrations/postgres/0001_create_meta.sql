-- kryton:compat=expand
-- Instance-wide facts: when this installation was created, and a stable id for it.
CREATE TABLE kryton_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO kryton_meta (key, value) VALUES
    ('instance_id', md5(random()::text || clock_timestamp()::text)),
    ('created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
