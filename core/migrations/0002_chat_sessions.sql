-- Chat sessions and their persisted history (messages, tool calls, tool results, citations, usage).
CREATE TABLE chat_sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT,
    model TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX chat_sessions_by_owner ON chat_sessions (owner, updated_at);
CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    status TEXT NOT NULL,
    tool_calls TEXT,
    tool_call_id TEXT,
    tool_name TEXT,
    tool_results TEXT,
    citations TEXT,
    usage TEXT,
    model TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX chat_messages_by_session ON chat_messages (session_id, seq);
