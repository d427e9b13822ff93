-- gleaner schema, version 1.
--
-- This file is applied once, in one transaction, to a database whose `PRAGMA user_version`
-- is 0; afterwards user_version is 1. Never edit it once released: a change to the schema is
-- a new file (0002_….sql) appended to the list in src/schema.rs.
--
-- Conventions, for everyone who reads this database with plain SQL:
--   * times are RFC 3339 UTC text with whole seconds and a `Z`, e.g. '2022-01-20T08:30:00Z',
--     so that text order is time order and `substr(published_at, 1, 7)` is the month;
--   * entity offsets (`mentions.start`, `mentions."end"`) count Unicode characters in
--     `articles.body`, 0-based and end-exclusive: `substr(body, start + 1, "end" - start)`
--     is the mention's text;
--   * kinds are lowercase words: sources.kind in (blogger, feed, sitemap, page), entities.kind
--     in (person, location, organization, group, date, money, percent).

-- The configured sources (a Blogger blog, a feed, a sitemap, a single page).
CREATE TABLE sources (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('blogger', 'feed', 'sitemap', 'page')),
    url               TEXT NOT NULL UNIQUE,
    name              TEXT,
    -- newest `updated` time seen in the source's feed (the next run asks for updated-min)
    last_updated_seen TEXT,
    -- when a run last read the source
    last_run_at       TEXT,
    -- when the source first appeared in the database
    created_at        TEXT NOT NULL
);

-- One row per article. The same post reached through several addresses (`?m=1`, a Blogger
-- country host, the feed, the page) is one row: the store finds it by canonical URL, by URL
-- and by Blogger post id before it inserts.
CREATE TABLE articles (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- the address it was last read from
    url             TEXT NOT NULL UNIQUE,
    -- the canonical address (for Blogger: no `?m=1`, `.blogspot.com` host)
    canonical_url   TEXT,
    source_id       INTEGER REFERENCES sources (id) ON DELETE SET NULL,
    blogger_post_id TEXT,
    title           TEXT NOT NULL,
    author          TEXT,
    -- first publication and last update, as the page or feed gives them
    published_at    TEXT,
    updated_at      TEXT,
    -- when gleaner fetched the version stored
    fetched_at      TEXT,
    -- ISO 639-1 code, when known
    language        TEXT,
    -- the cleaned text, paragraphs separated by a blank line
    body            TEXT NOT NULL,
    word_count      INTEGER NOT NULL DEFAULT 0 CHECK (word_count >= 0),
    -- NULL when unknown (which is not zero)
    comments_count  INTEGER CHECK (comments_count >= 0),
    -- hex digest of the normalised title and body: a different hash means a changed article
    content_hash    TEXT NOT NULL,
    -- when gleaner first stored the article, and when it last stored a changed version
    stored_at       TEXT NOT NULL,
    changed_at      TEXT NOT NULL
);
CREATE INDEX articles_canonical_url ON articles (canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX articles_blogger_post_id ON articles (blogger_post_id) WHERE blogger_post_id IS NOT NULL;
CREATE INDEX articles_published_at ON articles (published_at);
CREATE INDEX articles_source_id ON articles (source_id);
CREATE INDEX articles_author ON articles (author COLLATE NOCASE);

-- The post's labels (Blogger labels, feed categories), `position` keeping the page order.
CREATE TABLE article_labels (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (article_id, label)
) WITHOUT ROWID;
CREATE INDEX article_labels_label ON article_labels (label COLLATE NOCASE, article_id);

-- Distinct entities: one row per (kind, canonical name), with counters so that "most
-- mentioned" needs no scan of `mentions`: gleaner-store adds to `mention_count` and
-- `article_count` when it writes an article's mentions, and the trigger `mentions_count_delete`
-- below subtracts whenever mentions are deleted (an article replaced, or deleted by hand).
-- An entity whose last mention went away stays, with zero counts.
CREATE TABLE entities (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('person', 'location', 'organization', 'group', 'date', 'money', 'percent')),
    name          TEXT NOT NULL,
    mention_count INTEGER NOT NULL DEFAULT 0,
    article_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (kind, name)
);
CREATE INDEX entities_name ON entities (name COLLATE NOCASE);
-- No index on the counters on purpose: they change with every mention written, and an
-- index would have to follow each change; the "most mentioned" list reads the whole (small)
-- table instead.

-- Surface forms seen for an entity ("Putin" for "Vladimir Putin"), so that a search for the
-- short form finds the entity. Only grows.
CREATE TABLE entity_aliases (
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    alias     TEXT NOT NULL,
    PRIMARY KEY (entity_id, alias)
) WITHOUT ROWID;
CREATE INDEX entity_aliases_alias ON entity_aliases (alias COLLATE NOCASE);

-- Each mention of an entity in an article body: `text` is the body's own words,
-- `substr(body, start + 1, "end" - start)`. Written only by gleaner-store (see the counters
-- on `entities`); deleting is safe.
CREATE TABLE mentions (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    entity_id  INTEGER NOT NULL REFERENCES entities (id),
    start      INTEGER NOT NULL CHECK (start >= 0),
    "end"      INTEGER NOT NULL CHECK ("end" >= start),
    text       TEXT NOT NULL,
    PRIMARY KEY (article_id, start, "end", entity_id)
) WITHOUT ROWID;
CREATE INDEX mentions_entity ON mentions (entity_id, article_id);

CREATE TRIGGER mentions_count_delete AFTER DELETE ON mentions BEGIN
    UPDATE entities
       SET mention_count = mention_count - 1,
           article_count = article_count - NOT EXISTS (
               SELECT 1 FROM mentions
                WHERE entity_id = old.entity_id AND article_id = old.article_id)
     WHERE id = old.entity_id;
END;

-- Full-text index over title and body (porter stemming over unicode61 tokens). It stores
-- no text of its own (external content: the `articles` table) and is kept in step with
-- `articles` by the three triggers below, never by hand. Query it with
--   SELECT a.id, a.title FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
--    WHERE articles_fts MATCH 'nuclear' ORDER BY bm25(articles_fts);
CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title,
    body,
    content = 'articles',
    content_rowid = 'id',
    tokenize = 'porter unicode61'
);

-- Let the index gather up to 8 MiB of new terms before it writes them out (the default is
-- 1 MiB): a batch of articles becomes one segment, not several to be merged later.
INSERT INTO articles_fts (articles_fts, rank) VALUES ('hashsize', 8388608);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;

-- One row per `gleaner run` (or scrape). A run that was killed stays 'running'.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ok', 'partial', 'interrupted', 'failed')),
    discovered   INTEGER NOT NULL DEFAULT 0,  -- URLs discovered
    fetched      INTEGER NOT NULL DEFAULT 0,  -- pages fetched (200)
    not_modified INTEGER NOT NULL DEFAULT 0,  -- 304 answers
    stored       INTEGER NOT NULL DEFAULT 0,  -- new articles
    updated      INTEGER NOT NULL DEFAULT 0,  -- changed articles
    unchanged    INTEGER NOT NULL DEFAULT 0,  -- articles seen and left alone
    skipped      INTEGER NOT NULL DEFAULT 0,  -- skipped on purpose (robots, content type, …)
    failed       INTEGER NOT NULL DEFAULT 0   -- failed
);

-- Per-URL state for conditional GET (ETag, Last-Modified) and retry back-off.
CREATE TABLE fetch_state (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    last_status   INTEGER,          -- NULL after a transport error
    failures      INTEGER NOT NULL DEFAULT 0,  -- consecutive
    last_error    TEXT,
    next_retry_at TEXT,             -- do not retry before
    fetched_at    TEXT
) WITHOUT ROWID;

-- For plain-SQL users: each article's entities with the number of mentions.
CREATE VIEW article_entities (article_id, kind, name, mentions) AS
SELECT m.article_id, e.kind, e.name, count(*)
  FROM mentions m
  JOIN entities e ON e.id = m.entity_id
 GROUP BY m.article_id, m.entity_id;

-- For plain-SQL users: pairs of entities mentioned in the same articles, and in how many.
-- Both orders of a pair are listed, so `WHERE name_a = 'Vladimir Putin'` finds every partner.
CREATE VIEW entity_cooccurrence (kind_a, name_a, kind_b, name_b, articles) AS
WITH pairs (article_id, entity_id) AS (
    SELECT DISTINCT article_id, entity_id FROM mentions
)
SELECT ea.kind, ea.name, eb.kind, eb.name, count(*)
  FROM pairs pa
  JOIN pairs pb ON pb.article_id = pa.article_id AND pb.entity_id <> pa.entity_id
  JOIN entities ea ON ea.id = pa.entity_id
  JOIN entities eb ON eb.id = pb.entity_id
 GROUP BY pa.entity_id, pb.entity_id;
