-- A blog's feed is read newest first, page by page, each page asking for the posts before the
-- oldest one of the page above it. A read that stops part-way (too many pages for one run, a
-- page that failed) is taken up by the next run where it stopped.
--   sweep_cursor      where the next page starts: '<order> <time or -> <offset>', e.g.
--                     'published 2023-01-02T08:00:01Z 0' (order: published | updated)
--   sweep_started_at  when the unfinished read began (its cut-off never passes this)
--   sweep_newest      newest `updated` it has seen so far
ALTER TABLE sources ADD COLUMN sweep_cursor TEXT;
ALTER TABLE sources ADD COLUMN sweep_started_at TEXT;
ALTER TABLE sources ADD COLUMN sweep_newest TEXT;

-- For a feed page whose validators are saved: the page that came after it when it was read
-- whole (NULL: it was the last). A page answered 304 goes on to that page.
CREATE TABLE listing_next (
    url      TEXT PRIMARY KEY,
    next_url TEXT
) WITHOUT ROWID;
