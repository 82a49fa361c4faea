-- 0005_restriction_backfill_factor_failures: links restricted before 0004
-- held back the default actions, and get them (0004 left them with none);
-- factors count wrong codes in a row, and when the last one came, so that
-- an authenticator can be locked after too many.

UPDATE links SET restrictions = '["email_change","mfa_change","password_change","payment","phone_change"]'
	WHERE restricted_until > 0 AND restrictions IS NULL;

ALTER TABLE factors ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE factors ADD COLUMN failed_at INTEGER NOT NULL DEFAULT 0;
