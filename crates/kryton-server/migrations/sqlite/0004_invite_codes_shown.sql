-- kryton:compat=expand
-- An unused invite's code stays readable so an admin can copy it again from the list (as the
-- original Kryton shows it); it is cleared when the invite is used. Older invites keep NULL: their
-- codes were only ever stored as hashes.
ALTER TABLE invites ADD COLUMN code TEXT;
