#!/bin/bash
# paths.sh DB > paths.txt: 550 distinct search and entity paths of a store_bench database
# (200 terms from the commonest to rare words, every other one also with an entity filter;
# 250 entities, the 150 most mentioned and every 100th of the next 10,000), shuffled.
# Terms and names of store_bench databases are ASCII letters and spaces.
set -euo pipefail
sqlite3 -readonly "$1" "
CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, articles_fts, 'row');
CREATE TEMP TABLE t AS SELECT term, row_number() OVER () AS i FROM (
    SELECT term FROM (SELECT term, row_number() OVER (ORDER BY doc DESC, term) AS r
                        FROM temp.vocab WHERE length(term) > 2)
     WHERE (r <= 3000 AND r % 20 = 0) OR (r > 3000 AND r % 400 = 0) LIMIT 200);
CREATE TEMP TABLE e AS SELECT kind, name, row_number() OVER () AS i FROM (
    SELECT kind, name FROM (SELECT kind, name, row_number() OVER (ORDER BY article_count DESC, id) AS r
                              FROM entities)
     WHERE r <= 150 OR (r <= 10150 AND r % 100 = 0));
SELECT p FROM (
    SELECT '/?q=' || term AS p FROM t
    UNION SELECT '/?q=' || t.term || '&entity=' || replace(e.name, ' ', '+')
      FROM t JOIN e ON e.i = 1 + (t.i - 1) % (SELECT count(*) FROM e) WHERE t.i % 2 = 1
    UNION SELECT '/entities/' || kind || '/' || replace(name, ' ', '%20') FROM e)
 ORDER BY (abs(random()) % 1000000);"
