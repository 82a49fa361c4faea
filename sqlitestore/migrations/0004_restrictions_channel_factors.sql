-- 0004_restrictions_channel_factors: a link names the actions its
-- restriction holds back, a challenge the channel its code went out on, and
-- users may have second factors.

-- The held-back actions: a JSON array, sorted, without repeats; NULL for
-- none, which existing links get.
ALTER TABLE links ADD COLUMN restrictions TEXT;

-- The channel of the current code ("email", "sms", "totp"); '' before the
-- first send, which existing challenges get.
ALTER TABLE challenges ADD COLUMN channel TEXT NOT NULL DEFAULT '';

-- One factor per user and kind. secret is kept as the engine gives it
-- (sealed); NULL for an empty one.
CREATE TABLE factors (
	user_id    TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	secret     BLOB,
	confirmed  INTEGER NOT NULL,
	last_step  INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, kind)
) STRICT, WITHOUT ROWID;
