-- 0003_link_hashes: a link keeps the device's recent hashes as its user saw
-- them (a JSON array; NULL for none), and a user's devices are read most
-- recently seen first, a bounded number of them, through an index.

ALTER TABLE links ADD COLUMN hashes TEXT;

CREATE INDEX links_user_last_seen ON links (user_id, last_seen DESC, device_id);
