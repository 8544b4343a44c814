-- The document as users describe it (a description, a document type such as "Clinical Trial
-- Protocol", free-form metadata, a title of their own, an expiry, access policies) and the extraction figures a listing shows.
ALTER TABLE documents ADD COLUMN description TEXT;
ALTER TABLE documents ADD COLUMN document_type TEXT;
ALTER TABLE documents ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE documents ADD COLUMN custom_title TEXT;
ALTER TABLE documents ADD COLUMN expires_at TEXT;
ALTER TABLE documents ADD COLUMN policies TEXT NOT NULL DEFAULT '[]';
-- Part of a public_content document's public URL, drawn anew each time the policy is set, so a URL
-- that leaked before the file was made private again stays dead.
ALTER TABLE documents ADD COLUMN public_nonce TEXT;
ALTER TABLE documents ADD COLUMN image_count INTEGER;
ALTER TABLE documents ADD COLUMN processed_at TEXT;
-- Top-level scalar metadata fields, one row each, so `metadata.<field>=value` filters use an
-- index on both engines (the JSON itself stays in documents.metadata, as the user sent it).
CREATE TABLE document_metadata (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (document_id, field)
);
CREATE INDEX document_metadata_by_value ON document_metadata (field, value);
-- Lookups by display name (GET /v1/files/by-name/...) and the expiry sweeper's scan.
CREATE INDEX documents_by_filename ON documents (filename);
CREATE INDEX documents_by_expiry ON documents (expires_at);
