-- How a page was read when it is worth saying (issue 17): its text came from OCR, or nothing was
-- found on it (a blank or unreadable scan). NULL for a page read from its text layer.
ALTER TABLE pages ADD COLUMN note TEXT;
