-- One counter that every change to who may see what (a document added, updated or
-- deleted, its tags, an assignment) bumps inside the same transaction, so a search
-- can keep a principal's resolved scope for as long as the counter stands still.
CREATE TABLE access_generation (
    id INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL
);
INSERT INTO access_generation (id, generation) VALUES (1, 0);
-- A user's search reads the documents it owns: owner + status, not a scan of every completed one.
CREATE INDEX documents_by_owner_status ON documents (owner, status);
