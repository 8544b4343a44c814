-- Enrichment by the configured LLM (issue 17): a synopsis, and document_type / description filled
-- when the owner gave none (enriched_fields names the ones enrichment wrote, so a retry may replace
-- its own values but never the owner's). enrichment_status: none (never asked) | pending | completed | failed.
ALTER TABLE documents ADD COLUMN file_synopsis TEXT;
ALTER TABLE documents ADD COLUMN enrichment_status TEXT NOT NULL DEFAULT 'none';
ALTER TABLE documents ADD COLUMN enrichment_reason TEXT;
ALTER TABLE documents ADD COLUMN enriched_at TEXT;
ALTER TABLE documents ADD COLUMN enrichment_options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE documents ADD COLUMN enriched_fields TEXT NOT NULL DEFAULT '[]';
-- Enrichment runs as its own kind of job, claimed by its own loop, so a slow model never holds indexing up.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'index';
CREATE INDEX jobs_by_kind ON jobs (kind, status, created_at);
-- Section and master summaries are chunks of kind `summary`, searchable beside the content's.
ALTER TABLE chunks ADD COLUMN kind TEXT NOT NULL DEFAULT 'content'
