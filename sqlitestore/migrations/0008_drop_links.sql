-- 0008_drop_links: the links live on in the profiles (devices, trust,
-- restrictions), user_hashes (the hashes) and devices.users (fan-in), which
-- 0007 built from them.

DROP TABLE links;
