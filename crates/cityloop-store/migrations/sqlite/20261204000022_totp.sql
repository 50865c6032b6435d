-- Optional second factor for sign-in (docs/api.md#two-step-sign-in): a time-based one-time password
-- (RFC 6238). `totp_pending` holds a secret being set up until a code from it is confirmed; the last
-- time step accepted is kept so that a code is never taken twice.
alter table users add column totp_secret text;
alter table users add column totp_pending text;
alter table users add column totp_last_step bigint;
