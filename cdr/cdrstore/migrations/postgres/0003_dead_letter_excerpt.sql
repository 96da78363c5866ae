-- Dead letters keep an excerpt of what was received (the first 4 KiB,
-- cdr.MaxDeadLetterExcerpt) with the SHA-256 and size of the whole, never
-- the whole: a sender with valid credentials could otherwise grow the
-- database by whatever garbage it posts (issue 11, item 6). Rows stored
-- before keep their raw as it was (cut at 1 MiB then), without a hash.
ALTER TABLE cdr_dead_letters ADD COLUMN raw_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE cdr_dead_letters ADD COLUMN raw_size BIGINT NOT NULL DEFAULT 0;
