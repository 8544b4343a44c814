-- Vision transcription (issue 17): the PDF pages an upload asked a vision model to transcribe
-- ("all", or a list such as "1,3-5"; NULL: none), and after indexing the pages whose transcription
-- failed (a JSON list of {"page": n, "reason": "..."}), which kept their extracted text.
ALTER TABLE documents ADD COLUMN vision_pages TEXT;
ALTER TABLE documents ADD COLUMN vision_failed_pages TEXT NOT NULL DEFAULT '[]';
