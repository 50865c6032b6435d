-- Failed logins per username (existing or not, so that a lockout tells nothing about which exist):
-- how many since `first_at`, and until when the account is locked (docs/api.md#authentication).
create table login_failures (
    username text primary key,
    failures bigint not null,
    first_at bigint not null,
    locked_until bigint
);
