-- 0006_challenge_known_device: a challenge records whether its attempt came
-- from one of the user's known devices, so that wrong codes on challenges of
-- unknown devices are limited apart from those on the owner's devices.
-- Existing challenges (open for an hour at most) count as unknown devices'.

ALTER TABLE challenges ADD COLUMN known_device INTEGER NOT NULL DEFAULT 0;
