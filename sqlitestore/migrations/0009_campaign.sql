-- 0009_campaign: failures for names that are not accounts. A network's list
-- marks a user whose latest failure from it was a campaign failure
-- (storage.Failure.Campaign), so that such names are counted apart; and the
-- campaign list, the names that are not accounts failing from anywhere,
-- is one more network's list, under the reserved key storage.CampaignKey
-- ('*'), which no network's key is. Existing rows were failures of
-- accounts as far as anyone knew.

ALTER TABLE network_failures ADD COLUMN campaign INTEGER NOT NULL DEFAULT 0;
