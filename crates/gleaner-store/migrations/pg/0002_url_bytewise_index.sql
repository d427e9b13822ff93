-- Byte-order index on articles.url, for the prefix lookup of a row stored under its address
-- plus tracking parameters (`…?utm_source=rss`, src/pg.rs find_existing): a range over the
-- database's own collation is not a prefix range unless that collation is C.
CREATE INDEX IF NOT EXISTS articles_url_bytes ON articles ((url COLLATE "C"));
