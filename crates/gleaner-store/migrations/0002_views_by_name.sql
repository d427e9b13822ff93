-- gleaner schema, version 2: the plain-SQL views answer a filter on an entity quickly.
--
-- Applied once, in one transaction, to a database at version 1; no table changes, no data
-- touched. The views keep their names, columns and meaning; only the way SQLite reads them
-- changes. In version 1 they grouped by entity id, so `WHERE name = …` on either view was
-- applied after every mention of the database had been grouped (the co-occurrence of one
-- name took minutes on 100,000 articles). Grouped by kind and name instead (the same groups:
-- (kind, name) is unique), a filter on kind and name reaches the entities table first and
-- the mentions through their entity index.

DROP VIEW article_entities;

-- For plain-SQL users: each article's entities with the number of mentions. Filter on
-- `article_id`, or on `kind` and `name` (or `name` alone), and only those rows are read.
CREATE VIEW article_entities (article_id, kind, name, mentions) AS
SELECT m.article_id, e.kind, e.name, count(*)
  FROM entities e
  JOIN mentions m ON m.entity_id = e.id
 GROUP BY m.article_id, e.kind, e.name;

DROP VIEW entity_cooccurrence;

-- For plain-SQL users: pairs of entities mentioned in the same articles, and in how many.
-- Both orders of a pair are listed, so `WHERE name_a = 'Vladimir Putin'` finds every partner,
-- reading only the articles that mention him. (The CROSS JOINs fix that order: the named
-- entity, its mentions, their articles' other mentions.)
CREATE VIEW entity_cooccurrence (kind_a, name_a, kind_b, name_b, articles) AS
SELECT ea.kind, ea.name, eb.kind, eb.name, count(DISTINCT ma.article_id)
  FROM entities ea
 CROSS JOIN mentions ma ON ma.entity_id = ea.id
 CROSS JOIN mentions mb ON mb.article_id = ma.article_id AND mb.entity_id <> ma.entity_id
 CROSS JOIN entities eb ON eb.id = mb.entity_id
 GROUP BY ea.kind, ea.name, eb.kind, eb.name;
