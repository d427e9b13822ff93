-- gleaner schema, version 5: feed posts with no page of their own, found by their text.
--
-- A feed item with no link of its own is stored under an address made from its id (the feed's
-- address and `#item-` with 16 hex digits). A feed that gives such items a new random or
-- time-based id on every read would have every post stored again on every run: such a post
-- whose address is new is looked up by its content hash and published time among the rows of
-- such items (the only rows in this index), then checked for the same feed, source and title.
CREATE INDEX articles_feed_item_text ON articles (content_hash, published_at)
    WHERE url GLOB '*#item-*';
