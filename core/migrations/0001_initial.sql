-- Portable SQL: runs on SQLite and PostgreSQL alike. Statements are split on ';'.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    collection TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    filename TEXT NOT NULL,
    title TEXT,
    media_type TEXT,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    tags TEXT NOT NULL,
    reference TEXT,
    status TEXT NOT NULL,
    failure_reason TEXT,
    failure_detail TEXT,
    page_count INTEGER,
    word_count INTEGER,
    table_count INTEGER,
    chunk_count INTEGER,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX documents_by_key ON documents (owner, collection, name);
CREATE INDEX documents_by_sha ON documents (sha256);
CREATE INDEX documents_by_status ON documents (status);
CREATE INDEX documents_by_reference ON documents (collection, reference);

CREATE TABLE document_tags (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (document_id, tag)
);
CREATE INDEX document_tags_by_tag ON document_tags (tag);

CREATE TABLE assignments (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    PRIMARY KEY (document_id, principal)
);
CREATE INDEX assignments_by_principal ON assignments (principal);

CREATE TABLE pages (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page_number INTEGER NOT NULL,
    elements TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (document_id, page_number)
);

CREATE TABLE chunks (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    breadcrumb TEXT NOT NULL,
    token_count INTEGER NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id, chunk_index);

-- The keyword index's persistent form: analysed terms per chunk, written in the
-- same transaction as the chunk rows, plus a change log readers replay.
CREATE TABLE keyword_terms (
    chunk_id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    terms TEXT NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX keyword_terms_by_document ON keyword_terms (document_id);

CREATE TABLE keyword_changes (
    seq INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    op TEXT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    worker_id TEXT,
    lease_until DOUBLE PRECISION,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_by_status ON jobs (status, created_at);
CREATE INDEX jobs_by_document ON jobs (document_id)
