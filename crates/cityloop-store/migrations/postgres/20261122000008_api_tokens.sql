-- Long-lived API tokens for other systems (a department's case system signs and answers its cases):
-- a login token with a label, listed and revoked by administrators.
alter table tokens add column label text;
