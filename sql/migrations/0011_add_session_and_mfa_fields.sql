-- z4j v1 schema, part 11: what sign-in needs beyond the v1 tables.
--
-- sessions.remember_me: a remember-me session lives 30 days and is exempt from the idle timeout; the row must
-- say which kind it is (its expires_at alone cannot, because the absolute lifetime is a setting that changes).
-- users.mfa_last_time_step: the TOTP time step of the last accepted code. A code is refused when its step is
-- not newer, so a code seen over a shoulder or in a proxy log cannot be replayed within its 90-second window.
alter table sessions add column remember_me boolean not null default false;
alter table users add column mfa_last_time_step bigint;
