-- The turn lease of a chat session: one turn at a time per session, whichever API process it
-- reaches. A turn claims it by writing its holder and an expiry, renews it while it runs and
-- clears it when done; a lease past its expiry (its process died) may be claimed by the next turn.
ALTER TABLE chat_sessions ADD COLUMN turn_holder TEXT;
ALTER TABLE chat_sessions ADD COLUMN turn_expires_at TEXT;
