-- gleaner PostgreSQL schema, version 3: feed posts with no page of their own, found by their
-- text (SQLite migration 5): rows stored under a feed item's own address (`…#item-` and 16
-- hex digits), by content hash and published time.
CREATE INDEX articles_feed_item_text ON articles (content_hash, published_at)
    WHERE url LIKE '%#item-%';
