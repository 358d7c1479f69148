-- kryton:compat=expand
-- Sharing between users: a share gives one user read or read-write access to a note or a folder
-- (recursively, notes created in it later included) of another user's vault; an access request
-- asks an owner for such a share. Both are removed with either user. Paths are vault-relative, as
-- the notes index stores them; a rename or folder move updates them.
CREATE TABLE shares (
    id TEXT PRIMARY KEY,
    owner_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    is_folder BOOLEAN NOT NULL,
    shared_with_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'readwrite')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (owner_user_id, path, shared_with_user_id)
);
CREATE INDEX shares_recipient ON shares (shared_with_user_id);

CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    requester_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    owner_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note_path TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (requester_user_id, owner_user_id, note_path)
);
CREATE INDEX access_requests_owner ON access_requests (owner_user_id, status);
