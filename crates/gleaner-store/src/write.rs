//! Writing articles: the idempotent upsert.
//!
//! An article's identity is the address it was read from. It is looked up by that URL
//! first; that row is the article. Failing that, through its hints: the row at its canonical
//! URL, rows declaring the same canonical URL (or its own address as theirs), rows with its
//! Blogger post id on the same path; such a row is taken only when it is plausibly the same
//! article ([`crate::identity`]: same site, and the same post id, content hash, title and
//! opening, or a variant address such as `?m=1`). Otherwise the article is a new row under its
//! own URL, its canonical URL kept as data. A page fetched from its own address replaces the row
//! stored under it, whatever source listed it; content a feed supplies (a full-content entry)
//! replaces a stored row only when the feed is on the article's own site. Otherwise the row is
//! left as it was, reported [`UpsertOutcome::Kept`] (and its page's validators are not saved).
//! Found with the same content hash: left alone. Found with another hash: its fields (not its
//! address: a hint never moves a row) are replaced (optional metadata the new version lacks is kept), its labels and mentions
//! replaced; the full-text row follows by trigger. Not found: inserted.
//! A canonical URL that points at the site's home page from an article that is not the home
//! page is ignored (a template's mistake that would otherwise merge a whole site into a row).
//!
//! A batch ([`Store::upsert_articles`]) is written in few statements: the new rows in one
//! multi-row `INSERT` (so the full-text trigger indexes them in one go), their mentions in
//! inserts of up to 512 rows, each entity looked up (or created) once per transaction, and the
//! counters on `entities` raised once per entity just before the commit (see
//! [`MentionWriter`]). At 100,000 articles most of what remains is SQLite's own work: the
//! full-text index (tokenising, flushing and merging segments), the B-tree inserts, and the
//! WAL frames of the pages a batch dirties.

use std::collections::{HashMap, HashSet};

use gleaner_model::{Article, Entity, EntityKind};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::convert::{int, now_text, opt_time_text, url_path};
use crate::{Context, Origin, Result, Store, StoreError, UpsertOutcome, Upserted, identity};

impl Store {
    /// Insert or update one article (row, labels, mentions, FTS row) in one transaction,
    /// its content taken as supplied by its source ([`Origin::Feed`]).
    pub fn upsert_article(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
    ) -> Result<Upserted> {
        self.upsert_article_from(article, source_id, Origin::Feed)
    }

    /// [`Store::upsert_article`] for content from `origin` (a fetched page may replace the
    /// row at its own address whatever source listed it).
    pub fn upsert_article_from(
        &mut self,
        article: &Article,
        source_id: Option<i64>,
        origin: Origin,
    ) -> Result<Upserted> {
        without_fk_lookups(&mut self.conn, |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting an article transaction")?;
            let done = upsert_one(&tx, article, source_id, origin, &now_text())?;
            tx.commit()
                .with_context(|| format!("committing article {}", article.url))?;
            Ok(done)
        })
    }

    /// Upsert many articles in one transaction (each one whole or not at all).
    ///
    /// The batch is atomic: if one article fails, the transaction is rolled back, nothing of
    /// the batch is stored, and the error ([`StoreError::Article`]) names the article. A
    /// caller can then write the batch again one article at a time, or use
    /// [`Store::upsert_batch`], which keeps the good articles and reports each outcome.
    ///
    /// Each article's content is taken as supplied by its source ([`Origin::Feed`]); see
    /// [`Store::upsert_articles_from`].
    pub fn upsert_articles(&mut self, batch: &[(Article, Option<i64>)]) -> Result<Vec<Upserted>> {
        self.upsert_articles_from(batch, &[])
    }

    /// [`Store::upsert_articles`] with each article's [`Origin`] (`origins[i]` for
    /// `batch[i]`; [`Origin::Feed`] where `origins` is shorter).
    pub fn upsert_articles_from(
        &mut self,
        batch: &[(Article, Option<i64>)],
        origins: &[Origin],
    ) -> Result<Vec<Upserted>> {
        without_fk_lookups(&mut self.conn, |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting a batch transaction")?;
            let done = upsert_all(
                &tx,
                batch,
                origins,
                &now_text(),
                &mut KnownEntities::default(),
            )?;
            tx.commit().context("committing a batch")?;
            Ok(done)
        })
    }

    /// Write articles into one transaction in several steps ([`ArticleTransaction::upsert`])
    /// and commit them together ([`ArticleTransaction::commit`]): a caller can write a long
    /// transaction's articles as they come and drop each group once written, so what it holds
    /// does not grow with the transaction, while commits (each rewrites in the WAL every page
    /// it changed) stay rare.
    pub fn begin_articles(&mut self) -> ArticleTransaction<'_> {
        ArticleTransaction {
            store: self,
            open: false,
            known: KnownEntities::default(),
        }
    }

    /// Upsert many articles in one transaction, reporting each article's outcome.
    ///
    /// Each article is written in its own savepoint: one that fails is rolled back whole and
    /// its error is returned in its place; the others are committed. The outer error is for
    /// the transaction itself (could not begin or commit): then nothing of the batch is stored.
    ///
    /// Slower than [`Store::upsert_articles`] for many new articles: the full-text index
    /// writes its pending terms at every savepoint, so each article becomes a segment of its own.
    pub fn upsert_batch(
        &mut self,
        batch: &[(Article, Option<i64>)],
    ) -> Result<Vec<Result<Upserted>>> {
        let now = now_text();
        without_fk_lookups(&mut self.conn, |conn| {
            let mut tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting a batch transaction")?;
            let mut results = Vec::with_capacity(batch.len());
            for (article, source_id) in batch {
                let sp = tx.savepoint().context("starting an article savepoint")?;
                match upsert_one(&sp, article, *source_id, Origin::Feed, &now) {
                    Ok(done) => {
                        sp.commit().with_context(|| {
                            format!("releasing the savepoint of {}", article.url)
                        })?;
                        results.push(Ok(done));
                    }
                    Err(err) => {
                        tracing::debug!(url = %article.url, error = %err, "article rolled back");
                        // Dropping a savepoint rolls it back; finish() does so and reports errors.
                        sp.finish().with_context(|| {
                            format!("rolling back the savepoint of {}", article.url)
                        })?;
                        results.push(Err(err));
                    }
                }
            }
            tx.commit().context("committing a batch")?;
            Ok(results)
        })
    }
}

/// A transaction of articles written in steps (see [`Store::begin_articles`]). It begins
/// with the first write; dropped while open, it is rolled back.
pub struct ArticleTransaction<'c> {
    store: &'c mut Store,
    open: bool,
    /// Entities and aliases the open transaction has found or written.
    known: KnownEntities,
}

impl ArticleTransaction<'_> {
    /// Write `batch` (as [`Store::upsert_articles_from`] does) into the transaction, beginning
    /// one if none is open.
    ///
    /// The articles are checked first: when one is invalid, nothing is written, the error
    /// names it and the transaction stays as it was. Any other error rolls the whole
    /// transaction back, what earlier calls wrote into it included ([`Self::is_open`] is
    /// then `false`; the next call begins a new one). There is no savepoint per call: it
    /// would hold a copy of every page the call changes in memory, and make the full-text
    /// index write a segment per call.
    pub fn upsert(
        &mut self,
        batch: &[(Article, Option<i64>)],
        origins: &[Origin],
    ) -> Result<Vec<Upserted>> {
        validate_batch(batch)?;
        if !self.open {
            set_fk_lookups(&self.store.conn, false)?;
            if let Err(e) = self
                .store
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .context("starting a batch transaction")
            {
                restore_fk_lookups(&self.store.conn);
                return Err(e);
            }
            self.open = true;
        }
        let written = upsert_all(
            &self.store.conn,
            batch,
            origins,
            &now_text(),
            &mut self.known,
        );
        if written.is_err() {
            self.rollback();
        }
        written
    }

    /// Whether a transaction is open (begun and neither committed nor rolled back).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Commit what was written since the transaction began (nothing to do when none is
    /// open). On an error, the transaction is rolled back.
    pub fn commit(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        let committed = self
            .store
            .conn
            .execute_batch("COMMIT")
            .context("committing a batch");
        if committed.is_err() {
            self.rollback();
        }
        self.open = false;
        self.known.clear();
        restore_fk_lookups(&self.store.conn);
        committed
    }

    fn rollback(&mut self) {
        self.open = false;
        self.known.clear();
        // SQLite may have rolled it back itself (a full disk, an I/O error).
        if !self.store.conn.is_autocommit()
            && let Err(e) = self.store.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!("could not roll back a batch transaction: {e}");
        }
        restore_fk_lookups(&self.store.conn);
    }
}

impl Drop for ArticleTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            self.rollback();
        }
    }
}

/// Turn SQLite's foreign-key enforcement off (or back on) on the writer's connection.
///
/// With it on, every row inserted into `mentions`, `article_labels`, `entity_aliases` and
/// `articles` costs a lookup of its parent row (two per mention row: its article and its
/// entity), and every multi-row insert a statement journal: together a seventh of the
/// writer's instructions. The writer needs neither: every id it writes comes from the same
/// transaction (the article row it has just inserted or found, the entity it has just looked
/// up or created, under the write lock), and the source ids of a batch are checked once
/// ([`check_source`]). So its own transactions run without the lookups, and the setting is
/// back on as soon as they end, committed or not: other statements on the connection, and
/// every other connection, enforce the keys as before. (SQLite ignores the pragma inside a
/// transaction, so it is set before `BEGIN` and after `COMMIT`/`ROLLBACK`.)
fn set_fk_lookups(conn: &Connection, on: bool) -> Result<()> {
    conn.pragma_update(None, "foreign_keys", on)
        .context("setting foreign_keys for the writer")
}

/// [`set_fk_lookups`] back on, after a transaction ended; a failure is logged (the next
/// write sets it again, and it changes no data).
fn restore_fk_lookups(conn: &Connection) {
    if let Err(e) = set_fk_lookups(conn, true) {
        tracing::warn!("could not turn foreign keys back on: {e}");
    }
}

/// Run `write` (which begins and ends its own transaction on `conn`) with foreign-key
/// lookups off (see [`set_fk_lookups`]), turning them back on whatever it returns.
fn without_fk_lookups<T>(
    conn: &mut Connection,
    write: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    set_fk_lookups(conn, false)?;
    let done = write(conn);
    restore_fk_lookups(conn);
    done
}

/// With foreign keys off (see [`set_fk_lookups`]), the one parent the writer does not create
/// itself: the source an article is stored under must exist, as the foreign key on
/// `articles.source_id` would have demanded. `checked` holds the ids already found.
fn check_source(
    conn: &Connection,
    source_id: Option<i64>,
    checked: &mut HashSet<i64>,
) -> Result<()> {
    let Some(id) = source_id else {
        return Ok(());
    };
    if checked.contains(&id) {
        return Ok(());
    }
    let found: Option<i64> = conn
        .prepare_cached("SELECT id FROM sources WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
        .context("looking up an article's source")?;
    if found.is_none() {
        return Err(StoreError::sqlite(
            format!("storing an article under source {id}"),
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("FOREIGN KEY constraint failed: no source {id}")),
            ),
        ));
    }
    checked.insert(id);
    Ok(())
}

/// Write `batch` on `conn` (inside a transaction the caller commits). New
/// articles are held back and inserted together (see `PendingInserts`); the others are
/// written as they come.
fn upsert_all(
    conn: &Connection,
    batch: &[(Article, Option<i64>)],
    origins: &[Origin],
    now: &str,
    known: &mut KnownEntities,
) -> Result<Vec<Upserted>> {
    let mut done: Vec<Option<Upserted>> = vec![None; batch.len()];
    let mut pending = PendingInserts::default();
    // Entity ids, aliases and counter changes of the whole batch: the counters are
    // updated once per entity, just before the commit.
    let mut mentions = MentionWriter {
        known: std::mem::take(known),
        ..MentionWriter::default()
    };
    let mut sources = HashSet::new();
    for (index, (article, source_id)) in batch.iter().enumerate() {
        let keys = identity_keys(article);
        if keys.iter().any(|k| pending.keys.contains(k)) {
            // The same article twice in one batch: the first must be in the table first.
            pending.flush(conn, batch, &mut done, &mut mentions, now)?;
        }
        let wrap = |source| batch_error(batch, index, source);
        let origin = origins.get(index).copied().unwrap_or_default();
        match plan(conn, article, *source_id, origin).map_err(wrap)? {
            Plan::Unchanged(id) => {
                done[index] = Some(Upserted {
                    id,
                    outcome: UpsertOutcome::Unchanged,
                });
            }
            Plan::Kept(id) => {
                done[index] = Some(Upserted {
                    id,
                    outcome: UpsertOutcome::Kept,
                });
            }
            Plan::Update(id) => {
                check_source(conn, *source_id, &mut sources)
                    .and_then(|()| apply_update(conn, id, article, *source_id, now, &mut mentions))
                    .map_err(wrap)?;
                done[index] = Some(Upserted {
                    id,
                    outcome: UpsertOutcome::Updated,
                });
            }
            Plan::Insert => {
                check_source(conn, *source_id, &mut sources).map_err(wrap)?;
                pending.indices.push(index);
                pending.keys.extend(keys);
            }
        }
    }
    pending.flush(conn, batch, &mut done, &mut mentions, now)?;
    mentions.apply_counts(conn)?;
    *known = std::mem::take(&mut mentions.known);
    done.into_iter()
        .enumerate()
        .map(|(index, d)| {
            d.ok_or_else(|| StoreError::InvalidArticle {
                url: batch
                    .get(index)
                    .map(|(a, _)| a.url.clone())
                    .unwrap_or_default(),
                reason: "internal error: no outcome recorded".into(),
            })
        })
        .collect()
}

/// Refuse what the schema would accept but the contract forbids.
pub(crate) fn validate(article: &Article) -> Result<()> {
    let invalid = |reason: String| StoreError::InvalidArticle {
        url: article.url.clone(),
        reason,
    };
    if article.url.trim().is_empty() {
        return Err(invalid("empty URL".into()));
    }
    let body_chars = article.body.chars().count();
    for entity in &article.entities {
        if entity.start > entity.end || entity.end > body_chars {
            return Err(invalid(format!(
                "entity {:?} at {}..{} is outside the body ({body_chars} characters)",
                entity.text, entity.start, entity.end
            )));
        }
    }
    Ok(())
}

/// The canonical URL to key an article by, if it has a usable one.
///
/// A canonical URL pointing at a site's home page while the article is not the home page is
/// a page template's mistake (every post "canonical" to `/`); keying by it would merge all the
/// site's articles into one row, so it is neither used nor stored.
pub(crate) fn canonical_of(article: &Article) -> Option<&str> {
    let canonical = non_empty(article.canonical_url.as_deref())?;
    if url_path(canonical) == "/" && url_path(&article.url) != "/" {
        None
    } else {
        Some(canonical)
    }
}

/// An empty string is no value.
pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// What an upsert will do with an article, decided before anything is written.
enum Plan {
    /// Found with the same content hash.
    Unchanged(i64),
    /// Found with another content hash.
    Update(i64),
    /// Its address is another source's article, which it may not overwrite: left alone.
    Kept(i64),
    /// Not found.
    Insert,
}

/// Validate the article and find it (see [`crate::identity`]).
fn plan(
    conn: &Connection,
    article: &Article,
    source_id: Option<i64>,
    origin: Origin,
) -> Result<Plan> {
    validate(article)?;
    let Some(found) = find_existing(conn, article, source_id)? else {
        return Ok(Plan::Insert);
    };
    let own_page = origin == Origin::Page && found.exact;
    if !own_page && !found.own_post && !may_overwrite(conn, article, source_id)? {
        tracing::info!(
            url = %article.url,
            stored = %found.row.url,
            "an article from another source claims a stored article's address; \
             the stored one is kept"
        );
        return Ok(if found.exact {
            Plan::Kept(found.row.id)
        } else {
            // Reached only through a hint: it is stored under its own address.
            Plan::Insert
        });
    }
    Ok(if found.row.content_hash == article.content_hash {
        Plan::Unchanged(found.row.id)
    } else {
        Plan::Update(found.row.id)
    })
}

/// Whether `article`, from `source_id`, may replace the stored `row` when it is not the page
/// fetched from the row's own address (a page fetch always may, see [`plan`]).
///
/// Content a feed supplies replaces a row only when the feed's source is on the article's
/// own site (the site's own feed shows what the address holds), whoever stored the row: a
/// feed elsewhere that names a stored address as its item's link is not the page at that
/// address. Not even the source that stored the row (it may have stored it from the page).
/// An article with no source at all (written directly) may, unless it names an off-site one.
fn may_overwrite(conn: &Connection, article: &Article, source_id: Option<i64>) -> Result<bool> {
    let Some(claimant) = source_id else {
        return Ok(article
            .source
            .as_deref()
            .is_none_or(|s| identity::same_site(s, &article.url)));
    };
    let claimant_url: Option<String> = conn
        .prepare_cached("SELECT url FROM sources WHERE id = ?1")
        .and_then(|mut st| st.query_row([claimant], |r| r.get(0)).optional())
        .context("looking up an article's source")?;
    let claimant_url = claimant_url.or_else(|| article.source.clone());
    Ok(claimant_url.is_some_and(|s| identity::same_site(&s, &article.url)))
}

/// Replace a stored article's fields, labels and mentions.
///
/// The new mentions are in the table when it returns (a later delete must find them); their
/// counts wait in `mentions` for [`MentionWriter::apply_counts`].
fn apply_update<'a>(
    conn: &Connection,
    id: i64,
    article: &'a Article,
    source_id: Option<i64>,
    now: &str,
    mentions: &mut MentionWriter<'a>,
) -> Result<()> {
    let canonical = canonical_of(article);
    let post_id = non_empty(article.blogger_post_id.as_deref());
    update_row(conn, id, article, canonical, post_id, source_id, now)?;
    conn.prepare_cached("DELETE FROM article_labels WHERE article_id = ?1")
        .and_then(|mut st| st.execute([id]))
        .context("removing old labels")?;
    conn.prepare_cached("DELETE FROM mentions WHERE article_id = ?1")
        .and_then(|mut st| st.execute([id]))
        .context("removing old mentions")?;
    insert_labels(conn, id, &article.labels)?;
    mentions.add(conn, id, article, 0)?;
    mentions.write(conn).map_err(|(_, e)| e)
}

/// Write one article inside the caller's transaction or savepoint.
pub(crate) fn upsert_one(
    conn: &Connection,
    article: &Article,
    source_id: Option<i64>,
    origin: Origin,
    now: &str,
) -> Result<Upserted> {
    let mut mentions = MentionWriter::default();
    let plan = plan(conn, article, source_id, origin)?;
    if matches!(plan, Plan::Update(_) | Plan::Insert) {
        check_source(conn, source_id, &mut HashSet::new())?;
    }
    let done = match plan {
        Plan::Unchanged(id) => Upserted {
            id,
            outcome: UpsertOutcome::Unchanged,
        },
        Plan::Kept(id) => Upserted {
            id,
            outcome: UpsertOutcome::Kept,
        },
        Plan::Update(id) => {
            apply_update(conn, id, article, source_id, now, &mut mentions)?;
            Upserted {
                id,
                outcome: UpsertOutcome::Updated,
            }
        }
        Plan::Insert => {
            let canonical = canonical_of(article);
            let post_id = non_empty(article.blogger_post_id.as_deref());
            let id = insert_row(conn, article, canonical, post_id, source_id, now)?;
            insert_labels(conn, id, &article.labels)?;
            mentions.add(conn, id, article, 0)?;
            mentions.write(conn).map_err(|(_, e)| e)?;
            Upserted {
                id,
                outcome: UpsertOutcome::Inserted,
            }
        }
    };
    mentions.apply_counts(conn)?;
    Ok(done)
}

/// Every article of a batch checked before anything is written: the first invalid one's
/// error, naming it. Both backends call it.
pub(crate) fn validate_batch(batch: &[(Article, Option<i64>)]) -> Result<()> {
    for (index, (article, _)) in batch.iter().enumerate() {
        validate(article).map_err(|e| batch_error(batch, index, e))?;
    }
    Ok(())
}

pub(crate) fn batch_error(
    batch: &[(Article, Option<i64>)],
    index: usize,
    source: StoreError,
) -> StoreError {
    StoreError::Article {
        index,
        url: batch
            .get(index)
            .map(|(a, _)| a.url.clone())
            .unwrap_or_default(),
        source: Box::new(source),
    }
}

/// The addresses an article can be found by, as keys to notice the same article twice in
/// one batch: its URL, its canonical URL, its post id on its paths.
fn identity_keys(article: &Article) -> Vec<String> {
    let mut keys = vec![format!("u {}", article.url)];
    // Found by a row under its address on the other scheme or host name, too.
    keys.extend(
        identity::host_variants(&article.url)
            .into_iter()
            .map(|v| format!("u {v}")),
    );
    let canonical = canonical_of(article);
    if let Some(c) = canonical {
        keys.push(format!("u {c}"));
    }
    // A feed post without a page of its own is found by its feed, date and text, too.
    if let Some(base) = identity::feed_item_base(&article.url) {
        keys.push(format!(
            "f {base} {} {}",
            opt_time_text(article.published_at.as_ref()).unwrap_or_default(),
            article.content_hash
        ));
    }
    if let Some(post) = non_empty(article.blogger_post_id.as_deref()) {
        keys.push(format!("p {post} {}", url_path(&article.url)));
        if let Some(c) = canonical {
            keys.push(format!("p {post} {}", url_path(c)));
        }
    }
    keys
}

/// Rows per multi-row `INSERT` (16 parameters each, well under SQLite's 32,766).
const ROWS_PER_INSERT: usize = 500;
/// Mention rows queued before they are written, at most (plus one article's): the writer's
/// memory then does not grow with the number of mentions in a chunk of ROWS_PER_INSERT
/// articles.
const MENTIONS_HELD: usize = 4096;

/// New articles of a batch, inserted together.
///
/// The full-text index writes its pending terms to disk whenever a statement opens a
/// statement savepoint, which every statement with a trigger does. Inserting a batch's new
/// rows one by one, with their mentions in between, would therefore flush the index once
/// per article, leaving a segment per article to be merged again and again. One multi-row
/// `INSERT` lets the `articles_fts_insert` trigger index the whole batch in one go (one
/// segment), while the trigger stays the only thing that writes the index.
#[derive(Default)]
struct PendingInserts {
    /// Positions in the batch.
    indices: Vec<usize>,
    /// Their [`identity_keys`].
    keys: std::collections::HashSet<String>,
}

impl PendingInserts {
    fn flush<'a>(
        &mut self,
        conn: &Connection,
        batch: &'a [(Article, Option<i64>)],
        done: &mut [Option<Upserted>],
        mentions: &mut MentionWriter<'a>,
        now: &str,
    ) -> Result<()> {
        for chunk in self.indices.chunks(ROWS_PER_INSERT) {
            let ids = match insert_rows(conn, batch, chunk, now) {
                Ok(ids) => ids,
                Err(err) => {
                    // The statement left nothing behind: insert one by one to name the culprit.
                    tracing::debug!(error = %err, "multi-row insert failed; inserting one by one");
                    let mut ids = Vec::with_capacity(chunk.len());
                    for &index in chunk {
                        let (a, source_id) = &batch[index];
                        let canonical = canonical_of(a);
                        let post_id = non_empty(a.blogger_post_id.as_deref());
                        let id = insert_row(conn, a, canonical, post_id, *source_id, now)
                            .map_err(|e| batch_error(batch, index, e))?;
                        ids.push(id);
                    }
                    ids
                }
            };
            for (&index, id) in chunk.iter().zip(ids) {
                let article = &batch[index].0;
                insert_labels(conn, id, &article.labels)
                    .and_then(|()| mentions.add(conn, id, article, index))
                    .map_err(|e| batch_error(batch, index, e))?;
                done[index] = Some(Upserted {
                    id,
                    outcome: UpsertOutcome::Inserted,
                });
                // Written as they reach MENTIONS_HELD, in the same order as at the chunk's
                // end (so the same rows and ids): 500 articles' rows at once were ~3.7 MB.
                if mentions.rows.len() >= MENTIONS_HELD {
                    mentions
                        .write(conn)
                        .map_err(|(index, e)| batch_error(batch, index, e))?;
                }
            }
            // The mentions of all these articles in a few large inserts.
            mentions
                .write(conn)
                .map_err(|(index, e)| batch_error(batch, index, e))?;
        }
        self.indices.clear();
        self.keys.clear();
        Ok(())
    }
}

/// Insert the rows of `batch[i]` for each `i` in `indices` in one statement; their ids, in
/// the same order.
fn insert_rows(
    conn: &Connection,
    batch: &[(Article, Option<i64>)],
    indices: &[usize],
    now: &str,
) -> Result<Vec<i64>> {
    use rusqlite::types::Value;
    let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Text(s.to_string()));
    let mut sql = String::from(
        "INSERT INTO articles (url, canonical_url, source_id, blogger_post_id, title, author,
                               published_at, updated_at, fetched_at, language, body, word_count,
                               comments_count, content_hash, stored_at, changed_at) VALUES ",
    );
    let mut values: Vec<Value> = Vec::with_capacity(indices.len() * 16);
    for (n, &index) in indices.iter().enumerate() {
        let (a, source_id) = &batch[index];
        sql.push_str(if n == 0 { "(" } else { ", (" });
        sql.push_str(&["?"; 16].join(", "));
        sql.push(')');
        values.extend([
            Value::Text(a.url.clone()),
            text(canonical_of(a)),
            source_id.map_or(Value::Null, Value::Integer),
            text(non_empty(a.blogger_post_id.as_deref())),
            Value::Text(a.title.clone()),
            text(a.author.as_deref()),
            text(opt_time_text(a.published_at.as_ref()).as_deref()),
            text(opt_time_text(a.updated_at.as_ref()).as_deref()),
            text(opt_time_text(a.fetched_at.as_ref()).as_deref()),
            text(a.language.as_deref()),
            Value::Text(a.body.clone()),
            Value::Integer(i64::from(a.word_count)),
            a.comments_count
                .map_or(Value::Null, |c| Value::Integer(i64::from(c))),
            Value::Text(a.content_hash.clone()),
            Value::Text(now.to_string()),
            Value::Text(now.to_string()),
        ]);
    }
    sql.push_str(" RETURNING id, url");
    let mut st = conn.prepare(&sql).context("preparing a multi-row insert")?;
    let rows = st
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok((r.get::<_, String>(1)?, r.get::<_, i64>(0)?))
        })
        .context("inserting articles")?;
    // RETURNING promises no order: match the ids back by URL (unique in a pending set).
    let by_url: HashMap<String, i64> = rows
        .collect::<rusqlite::Result<_>>()
        .context("inserting articles")?;
    indices
        .iter()
        .map(|&index| {
            let url = &batch[index].0.url;
            by_url
                .get(url)
                .copied()
                .ok_or_else(|| StoreError::InvalidArticle {
                    url: url.clone(),
                    reason: "internal error: inserted row not returned".into(),
                })
        })
        .collect()
}

/// A stored row, as far as finding an article needs it.
struct StoredRow {
    id: i64,
    content_hash: String,
    url: String,
    canonical_url: Option<String>,
    post_id: Option<String>,
    title: String,
    /// The first [`identity::OPENING_CHARS`] characters of the body.
    opening: String,
    source_id: Option<i64>,
}

impl StoredRow {
    /// The columns [`StoredRow::read`] reads, in order.
    const COLUMNS: &'static str = "id, content_hash, url, canonical_url, blogger_post_id, title, \
                                   substr(body, 1, 200), source_id";

    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(StoredRow {
            id: r.get(0)?,
            content_hash: r.get(1)?,
            url: r.get(2)?,
            canonical_url: r.get(3)?,
            post_id: r.get(4)?,
            title: r.get(5)?,
            opening: r.get(6)?,
            source_id: r.get(7)?,
        })
    }

    fn shape(&self) -> identity::Shape<'_> {
        identity::Shape {
            url: &self.url,
            post_id: non_empty(self.post_id.as_deref()),
            content_hash: &self.content_hash,
            title: &self.title,
            opening: &self.opening,
        }
    }
}

/// The row an article was found as.
struct Found {
    row: StoredRow,
    /// Found by its own address (not through a canonical URL or post id).
    exact: bool,
    /// Found as the same Blogger post (post id and path) stored by the same source: the
    /// source's own post, whatever host it now links to.
    own_post: bool,
}

/// Rows looked at through one hint (a canonical URL many pages declare): a bound on the work
/// per article, whatever a site's templates do. Written into the SQL, not bound: SQLite
/// re-prepares a statement whenever a `LIMIT ?` parameter is bound again (it plans with the
/// bound limit), which cost two re-prepares of these statements for every article.
const MAX_CANDIDATES: i64 = 64;
/// [`MAX_CANDIDATES`] as a count.
const MAX_CANDIDATES_USIZE: usize = 64;

/// The row this article already is, if any.
///
/// Its own address first: that row is the article. Then the rows its hints lead to (the row
/// at its canonical URL, rows declaring the same canonical URL or its address as theirs, rows
/// with its Blogger post id on the same path), each taken only when
/// [`identity::same_article`] agrees.
fn find_existing(
    conn: &Connection,
    article: &Article,
    source_id: Option<i64>,
) -> Result<Option<Found>> {
    let url = article.url.as_str();
    let exact = conn
        .prepare_cached(&format!(
            "SELECT {} FROM articles WHERE url = ?1",
            StoredRow::COLUMNS
        ))
        .and_then(|mut st| st.query_row([url], StoredRow::read).optional())
        .context("looking the article up by URL")?;
    if let Some(row) = exact {
        return Ok(Some(Found {
            row,
            exact: true,
            own_post: false,
        }));
    }
    let new = identity::Shape {
        url,
        post_id: non_empty(article.blogger_post_id.as_deref()),
        content_hash: &article.content_hash,
        title: &article.title,
        opening: identity::opening(&article.body),
    };
    // A feed post with no page of its own under a new address (its feed gives it a new id
    // on every read): the row of the same feed and source published at the same moment (or
    // both undated) with the same title and text is this post
    // ([`identity::same_feed_post`]). Found through an index of such rows only (migration 5).
    if identity::feed_item_base(url).is_some() {
        let published = opt_time_text(article.published_at.as_ref());
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM articles INDEXED BY articles_feed_item_text \
                  WHERE content_hash = ?1 AND published_at IS ?2 AND url GLOB '*#item-*' \
                  ORDER BY id LIMIT {MAX_CANDIDATES}",
                StoredRow::COLUMNS
            ))
            .context("looking a feed post up by its date and text")?;
        let rows = st
            .query_map(params![article.content_hash, published], StoredRow::read)
            .context("looking a feed post up by its date and text")?;
        for row in rows {
            let row = row.context("reading an article row")?;
            if identity::same_feed_post(&new, source_id, &row.shape(), row.source_id) {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    let canonical = canonical_of(article).filter(|c| *c != url);
    let key = canonical.unwrap_or(url);
    // The rows its hints lead to, best first: the row at its canonical URL, then rows
    // declaring that canonical URL, then rows declaring its own address as theirs (each in
    // id order), at most MAX_CANDIDATES in all. Three index lookups in that order rather than
    // one `OR` query sorted by SQLite, which builds a temporary B-tree for the sort even
    // when, as for nearly every new article, nothing is found.
    let mut looked_at: Vec<i64> = Vec::new();
    let mut hints: Vec<(&str, &str)> = Vec::with_capacity(3);
    if canonical.is_some() {
        hints.push(("url", key));
    }
    hints.push(("canonical_url", key));
    if canonical.is_some() {
        hints.push(("canonical_url", url));
    }
    for (column, value) in hints {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM articles WHERE {column} = ?1 ORDER BY id LIMIT {MAX_CANDIDATES}",
                StoredRow::COLUMNS
            ))
            .context("looking the article up by canonical URL")?;
        let rows = st
            .query_map([value], StoredRow::read)
            .context("looking the article up by canonical URL")?;
        for row in rows {
            let row = row.context("reading an article row")?;
            if looked_at.contains(&row.id) {
                continue;
            }
            if looked_at.len() >= MAX_CANDIDATES_USIZE {
                break;
            }
            looked_at.push(row.id);
            if identity::same_article(&new, &row.shape()) {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    // A row stored under this address plus tracking parameters (`…?utm_source=rss`: kept
    // by gleaner before they were dropped from listed addresses) is this page.
    let sep = if url.contains('?') {
        ('&', '\'')
    } else {
        ('?', '@')
    };
    let (from, to) = (format!("{url}{}", sep.0), format!("{url}{}", sep.1));
    // Whether there is any first (one index seek): the ordered query below sorts with a
    // temporary B-tree, built even when it finds nothing.
    let any_tracked: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM articles WHERE url > ?1 AND url < ?2)")
        .and_then(|mut st| st.query_row(params![from, to], |r| r.get(0)))
        .context("looking the article up by a tracked address")?;
    if any_tracked {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM articles WHERE url > ?1 AND url < ?2 ORDER BY id LIMIT {MAX_CANDIDATES}",
                StoredRow::COLUMNS
            ))
            .context("looking the article up by a tracked address")?;
        for row in st
            .query_map(params![from, to], StoredRow::read)
            .context("looking the article up by a tracked address")?
        {
            let row = row.context("reading an article row")?;
            if identity::page_key(&row.url).is_some_and(|k| Some(k) == identity::page_key(url)) {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    // The same address on the other scheme or with(out) `www.`: one site read under two of
    // its host names.
    let variants = identity::host_variants(url);
    if !variants.is_empty() {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM articles WHERE url IN (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                  ORDER BY id LIMIT 1",
                StoredRow::COLUMNS
            ))
            .context("looking the article up on its other host names")?;
        let at = |i: usize| {
            variants
                .get(i)
                .or(variants.first())
                .map_or("", String::as_str)
        };
        if let Some(row) = st
            .query_row(
                params![at(0), at(1), at(2), at(3), at(4), at(5), at(6)],
                StoredRow::read,
            )
            .optional()
            .context("looking the article up on its other host names")?
        {
            return Ok(Some(Found {
                row,
                exact: false,
                own_post: false,
            }));
        }
    }
    // A post moved to a new address on its site (a permalink edited, the old one answering
    // 301): the row of the same site published at the same moment with the same title and
    // text, or the same whole text under an edited title, is this post
    // ([`identity::moved_post`]).
    if let Some(published) = opt_time_text(article.published_at.as_ref())
        && identity::feed_item_base(url).is_none()
    {
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {} FROM articles INDEXED BY articles_published_at \
                  WHERE published_at = ?1 ORDER BY id LIMIT {MAX_CANDIDATES}",
                StoredRow::COLUMNS
            ))
            .context("looking the article up by its publication time")?;
        let rows = st
            .query_map([published], StoredRow::read)
            .context("looking the article up by its publication time")?;
        for row in rows {
            let row = row.context("reading an article row")?;
            let moved = match identity::moved_post(&new, &row.shape()) {
                identity::Moved::Yes => true,
                identity::Moved::IfSameBody => {
                    let body: String = conn
                        .prepare_cached("SELECT body FROM articles WHERE id = ?1")
                        .and_then(|mut st| st.query_row([row.id], |r| r.get(0)))
                        .context("reading a stored body")?;
                    body == article.body
                }
                identity::Moved::No => false,
            };
            if moved {
                return Ok(Some(Found {
                    row,
                    exact: false,
                    own_post: false,
                }));
            }
        }
    }
    let Some(post_id) = new.post_id else {
        return Ok(None);
    };
    // Blogger post ids are one per post; the path check guards against two blogs' ids
    // colliding, the site check (for a row of another source) against a page that copies
    // another's id.
    let wanted = [url_path(key), url_path(url)];
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {} FROM articles WHERE blogger_post_id = ?1 ORDER BY id LIMIT {MAX_CANDIDATES}",
            StoredRow::COLUMNS
        ))
        .context("looking the article up by post id")?;
    let rows = st
        .query_map(params![post_id], StoredRow::read)
        .context("looking the article up by post id")?;
    for row in rows {
        let row = row.context("reading an article row")?;
        let same_path = wanted.contains(&url_path(&row.url))
            || row
                .canonical_url
                .as_deref()
                .is_some_and(|c| wanted.contains(&url_path(c)));
        // A blog moved to its own domain (or back) keeps its post ids and paths: the same
        // post id on the same path is the same post across hosts when the row came from the
        // same source. (A row with no source could be anyone's: the site check stands.)
        let own_post = source_id.is_some() && row.source_id == source_id;
        // A post whose permalink was edited keeps its id, in its own blog: the same post id
        // of the same source on the same site is the same post on another path.
        let moved = own_post && identity::same_site(url, &row.url);
        // The same blog under another host name (its blogspot address and its own domain,
        // configured twice or reached by a redirect): the same post id, path and text.
        let elsewhere = same_path && identity::same_post_elsewhere(&new, &row.shape());
        if (same_path || moved)
            && (own_post || elsewhere || identity::same_article(&new, &row.shape()))
        {
            return Ok(Some(Found {
                row,
                exact: false,
                own_post,
            }));
        }
    }
    Ok(None)
}

fn insert_row(
    conn: &Connection,
    a: &Article,
    canonical: Option<&str>,
    post_id: Option<&str>,
    source_id: Option<i64>,
    now: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO articles (url, canonical_url, source_id, blogger_post_id, title, author,
                               published_at, updated_at, fetched_at, language, body, word_count,
                               comments_count, content_hash, stored_at, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)
         RETURNING id",
    )
    .and_then(|mut st| {
        st.query_row(
            params![
                a.url,
                canonical,
                source_id,
                post_id,
                a.title,
                a.author,
                opt_time_text(a.published_at.as_ref()),
                opt_time_text(a.updated_at.as_ref()),
                opt_time_text(a.fetched_at.as_ref()),
                a.language,
                a.body,
                a.word_count,
                a.comments_count,
                a.content_hash,
                now,
            ],
            |r| r.get(0),
        )
    })
    .with_context(|| format!("inserting article {}", a.url))
}

fn update_row(
    conn: &Connection,
    id: i64,
    a: &Article,
    canonical: Option<&str>,
    post_id: Option<&str>,
    source_id: Option<i64>,
    now: &str,
) -> Result<()> {
    // `url` stays: the row was found by it, or through a hint (a canonical URL, a post id,
    // a title and opening), which may name the article but never moves its address. Optional
    // metadata the new version lacks (a page without author, a feed without comment count)
    // is kept. (?2, the address just read, is only in the error message.)
    conn.prepare_cached(
        "UPDATE articles SET
             canonical_url = coalesce(?3, canonical_url),
             source_id = coalesce(?4, source_id),
             blogger_post_id = coalesce(?5, blogger_post_id),
             title = ?6,
             author = coalesce(?7, author),
             published_at = coalesce(?8, published_at),
             updated_at = coalesce(?9, updated_at),
             fetched_at = coalesce(?10, fetched_at),
             language = coalesce(?11, language),
             body = ?12,
             word_count = ?13,
             comments_count = coalesce(?14, comments_count),
             content_hash = ?15,
             changed_at = ?16
         WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.execute(params![
            id,
            a.url,
            canonical,
            source_id,
            post_id,
            a.title,
            a.author,
            opt_time_text(a.published_at.as_ref()),
            opt_time_text(a.updated_at.as_ref()),
            opt_time_text(a.fetched_at.as_ref()),
            a.language,
            a.body,
            a.word_count,
            a.comments_count,
            a.content_hash,
            now,
        ])
    })
    .with_context(|| format!("updating article {}", a.url))?;
    Ok(())
}

fn insert_labels(conn: &Connection, article_id: i64, labels: &[String]) -> Result<()> {
    let mut st = conn
        .prepare_cached(
            "INSERT INTO article_labels (article_id, label, position) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .context("preparing the label insert")?;
    for (position, label) in labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        st.execute(params![article_id, label, int(position)])
            .with_context(|| format!("inserting label {label:?}"))?;
    }
    Ok(())
}

/// A mention row waiting to be inserted.
struct PendingMention<'a> {
    /// Who the row belongs to, for errors (the article's position in its batch).
    owner: usize,
    article_id: i64,
    entity_id: i64,
    start: i64,
    end: i64,
    text: &'a str,
}

/// Writes the mentions of a transaction's articles: finds or creates their entities
/// (each looked up once per transaction), records new surface forms as aliases, inserts the
/// mention rows in large multi-row statements, and adds to the counters on `entities` once
/// per entity.
///
/// Entity ids it has seen are valid only inside the transaction (or savepoint) it is used in:
/// one `MentionWriter` per transaction, dropped with it.
#[derive(Default)]
struct MentionWriter<'a> {
    /// Entities met so far, by kind and canonical name: their place in `entities`.
    ids: HashMap<(EntityKind, &'a str), usize>,
    /// Each entity met: its id and what to add to its counters.
    entities: Vec<EntityTally>,
    /// (entity id, alias) pairs already recorded.
    aliases: HashSet<(i64, &'a str)>,
    /// Mention rows not yet inserted.
    rows: Vec<PendingMention<'a>>,
    /// Calls of [`MentionWriter::add`] so far: an entity counts one more article the first
    /// time a call meets it.
    articles_added: u64,
    /// What earlier writes of the same transaction found or created.
    known: KnownEntities,
}

/// Entities and aliases known to be in the database inside one open transaction (found or
/// written by it), so that each group of a long transaction does not look them up again.
/// Cleared when the transaction ends: a rolled-back entity is gone, and after a commit
/// another connection may change the tables.
#[derive(Default)]
pub(crate) struct KnownEntities {
    ids: HashMap<EntityKind, HashMap<Box<str>, i64>>,
    aliases: HashMap<i64, HashSet<Box<str>>>,
}

impl KnownEntities {
    fn id(&self, kind: EntityKind, name: &str) -> Option<i64> {
        self.ids.get(&kind).and_then(|m| m.get(name)).copied()
    }

    fn remember(&mut self, kind: EntityKind, name: &str, id: i64) {
        self.ids.entry(kind).or_default().insert(name.into(), id);
    }

    fn has_alias(&self, id: i64, alias: &str) -> bool {
        self.aliases.get(&id).is_some_and(|s| s.contains(alias))
    }

    fn remember_alias(&mut self, id: i64, alias: &str) {
        self.aliases.entry(id).or_default().insert(alias.into());
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.aliases.clear();
    }
}

/// An entity met by a [`MentionWriter`], with what its mentions add to its counters.
struct EntityTally {
    id: i64,
    mentions: i64,
    articles: i64,
    /// The [`MentionWriter::articles_added`] of the last call that counted it.
    last_article: u64,
}

impl<'a> MentionWriter<'a> {
    /// Resolve the entities of `article` (stored as `article_id`) and queue its mentions.
    ///
    /// A mention given twice (same entity, same offsets) is kept once and counted once.
    /// Mentions come from the tagger in offset order, so a repeat is found among the few
    /// mentions at the same offsets; out of order, through a set of all the article's.
    fn add(
        &mut self,
        conn: &Connection,
        article_id: i64,
        article: &'a Article,
        owner: usize,
    ) -> Result<()> {
        self.articles_added += 1;
        let this_article = self.articles_added;
        let in_order = article
            .entities
            .windows(2)
            .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end));
        let mut seen: HashSet<(usize, usize, i64)> = HashSet::new();
        // Entity ids of the mentions at the current offsets (in order only).
        let mut at_offsets: Vec<i64> = Vec::new();
        let mut offsets = None;
        for entity in &article.entities {
            let slot = self.entity_slot(conn, entity)?;
            let Some(tally) = self.entities.get_mut(slot) else {
                continue;
            };
            let entity_id = tally.id;
            let repeated = if in_order {
                if offsets != Some((entity.start, entity.end)) {
                    offsets = Some((entity.start, entity.end));
                    at_offsets.clear();
                }
                let repeated = at_offsets.contains(&entity_id);
                if !repeated {
                    at_offsets.push(entity_id);
                }
                repeated
            } else {
                !seen.insert((entity.start, entity.end, entity_id))
            };
            if repeated {
                continue;
            }
            tally.mentions += 1;
            if tally.last_article != this_article {
                tally.last_article = this_article;
                tally.articles += 1;
            }
            self.rows.push(PendingMention {
                owner,
                article_id,
                entity_id,
                start: int(entity.start),
                end: int(entity.end),
                text: &entity.text,
            });
        }
        Ok(())
    }

    /// The place in `entities` of the entity a mention is of, creating the entity (and
    /// alias) as needed.
    fn entity_slot(&mut self, conn: &Connection, entity: &'a Entity) -> Result<usize> {
        let name = entity.name.trim();
        let name = if name.is_empty() {
            entity.text.trim()
        } else {
            name
        };
        let slot = match self.ids.get(&(entity.kind, name)) {
            Some(&slot) => slot,
            None => {
                let id = match self.known.id(entity.kind, name) {
                    Some(id) => id,
                    None => {
                        let id = find_or_create_entity(conn, entity.kind, name)?;
                        self.known.remember(entity.kind, name, id);
                        id
                    }
                };
                let slot = self.entities.len();
                self.entities.push(EntityTally {
                    id,
                    mentions: 0,
                    articles: 0,
                    last_article: 0,
                });
                self.ids.insert((entity.kind, name), slot);
                slot
            }
        };
        if entity.text != name && !entity.text.trim().is_empty() {
            let entity_id = self.entities.get(slot).map_or(0, |t| t.id);
            if self.aliases.insert((entity_id, &entity.text))
                && !self.known.has_alias(entity_id, &entity.text)
            {
                conn.prepare_cached(
                    "INSERT INTO entity_aliases (entity_id, alias) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )
                .and_then(|mut st| st.execute(params![entity_id, entity.text]))
                .with_context(|| format!("recording alias {:?}", entity.text))?;
                self.known.remember_alias(entity_id, &entity.text);
            }
        }
        Ok(slot)
    }

    /// Insert the queued mention rows. On failure, nothing of the failed statement is left
    /// and the error names the owner of a row that could not be written.
    fn write(&mut self, conn: &Connection) -> std::result::Result<(), (usize, StoreError)> {
        let rows = std::mem::take(&mut self.rows);
        let mut rest = &rows[..];
        while !rest.is_empty() {
            let n = MENTION_CHUNKS
                .into_iter()
                .find(|&n| n <= rest.len())
                .unwrap_or(1);
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            if let Err(err) = insert_mention_rows(conn, chunk) {
                // `OR FAIL` (see `mention_insert_sql`) leaves the rows before the failing one
                // in place and counts them in `changes()`: that row is the culprit. (The
                // caller rolls them back with the rest.) With nothing counted — the first row
                // failed, or a trigger's `RAISE(ABORT)` rolled the statement back — the rows
                // are tried again one by one: only the culprit's fail again.
                let inserted = usize::try_from(conn.changes()).unwrap_or(0);
                if let Some(row) = chunk.get(inserted).filter(|_| inserted > 0) {
                    return Err((row.owner, err));
                }
                let mut from = 0;
                while from < chunk.len() {
                    let owner = chunk[from].owner;
                    let to = chunk[from..]
                        .iter()
                        .position(|r| r.owner != owner)
                        .map_or(chunk.len(), |i| from + i);
                    for row in &chunk[from..to] {
                        if let Err(e) = insert_mention_rows(conn, std::slice::from_ref(row)) {
                            return Err((owner, e));
                        }
                    }
                    from = to;
                }
                let owner = chunk.first().map_or(0, |r| r.owner);
                return Err((owner, err));
            }
        }
        Ok(())
    }

    /// Add the counted mentions to the counters on `entities` (the trigger
    /// `mentions_count_delete` takes them down whenever mentions go, whoever deletes them).
    fn apply_counts(&mut self, conn: &Connection) -> Result<()> {
        let mut st = conn
            .prepare_cached(
                "UPDATE entities SET mention_count = mention_count + ?2,
                                     article_count = article_count + ?3
                  WHERE id = ?1",
            )
            .context("preparing the entity counter update")?;
        let mut counts: Vec<(i64, (i64, i64))> = self
            .entities
            .iter_mut()
            .filter(|t| t.mentions > 0)
            .map(|t| {
                let add = (t.mentions, t.articles);
                (t.mentions, t.articles) = (0, 0);
                (t.id, add)
            })
            .collect();
        // In id order: the entities table is then walked once, front to back.
        counts.sort_unstable_by_key(|&(id, _)| id);
        for (entity_id, (mentions, articles)) in counts {
            st.execute(params![entity_id, mentions, articles])
                .with_context(|| format!("counting mentions of entity {entity_id}"))?;
        }
        Ok(())
    }
}

/// The id of the entity `kind` `name`, created if there is none.
fn find_or_create_entity(conn: &Connection, kind: EntityKind, name: &str) -> Result<i64> {
    let kind = kind.as_str();
    let found: Option<i64> = conn
        .prepare_cached("SELECT id FROM entities WHERE kind = ?1 AND name = ?2")
        .and_then(|mut st| st.query_row(params![kind, name], |r| r.get(0)).optional())
        .with_context(|| format!("looking up entity {kind} {name:?}"))?;
    if let Some(id) = found {
        return Ok(id);
    }
    // Not `RETURNING id`: that makes SQLite build a temporary table per statement.
    conn.prepare_cached("INSERT INTO entities (kind, name) VALUES (?1, ?2)")
        .and_then(|mut st| st.execute(params![kind, name]))
        .with_context(|| format!("creating entity {kind} {name:?}"))?;
    Ok(conn.last_insert_rowid())
}

/// Row counts of the multi-row mention inserts: a batch's mentions go in statements of 512
/// rows (2,560 parameters), the rest in smaller ones; few statement shapes, all kept prepared.
const MENTION_CHUNKS: [usize; 6] = [512, 128, 32, 8, 2, 1];

/// Insert `rows` mention rows in one statement.
fn insert_mention_rows(conn: &Connection, rows: &[PendingMention<'_>]) -> Result<()> {
    let mut st = conn
        .prepare_cached(&mention_insert_sql(rows.len()))
        .context("preparing the mention insert")?;
    let bind = |st: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<usize> {
        for (i, row) in rows.iter().enumerate() {
            let at = i * 5;
            st.raw_bind_parameter(at + 1, row.article_id)?;
            st.raw_bind_parameter(at + 2, row.entity_id)?;
            st.raw_bind_parameter(at + 3, row.start)?;
            st.raw_bind_parameter(at + 4, row.end)?;
            st.raw_bind_parameter(at + 5, row.text)?;
        }
        st.raw_execute()
    };
    bind(&mut st).with_context(|| {
        let first = rows.first().map_or(0, |r| r.article_id);
        format!("inserting the mentions of article {first}")
    })?;
    Ok(())
}

/// `INSERT INTO mentions` of `rows` rows.
///
/// `OR FAIL`: a row that breaks a constraint stops the statement but does not undo the rows
/// before it. With the default (`ABORT`), SQLite must be able to undo the statement's rows, so
/// it copies every page the statement changes into a statement journal first (a twentieth
/// of the writer's instructions); a failed write is rolled back whole by its caller anyway
/// (the transaction, or the article's savepoint). No constraint can fail here in practice:
/// mentions are deduplicated per article and their offsets checked before anything is written.
fn mention_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        r#"INSERT OR FAIL INTO mentions (article_id, entity_id, start, "end", text) VALUES "#,
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?)"
        });
    }
    sql
}

#[cfg(test)]
mod tests {
    use gleaner_model::{Article, Entity, EntityKind};

    use crate::test_support::{hash, numbered_article, seed_article, tagged, temp_store};
    use crate::{ArticleKey, Origin, SearchQuery, StoreError, UpsertOutcome};

    fn count(store: &crate::Store, sql: &str) -> i64 {
        store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn search_ids(store: &crate::Store, terms: &str) -> Vec<i64> {
        let q = SearchQuery {
            terms: Some(terms.into()),
            ..SearchQuery::default()
        };
        store
            .search(&q)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    }

    #[test]
    fn same_article_three_times_is_one_unchanged_row() {
        let (_dir, _path, mut store) = temp_store();
        let article = seed_article();
        let first = store.upsert_article(&article, None).unwrap();
        assert_eq!(first.outcome, UpsertOutcome::Inserted);
        let changed_at: String = store
            .connection()
            .query_row("SELECT changed_at FROM articles", [], |r| r.get(0))
            .unwrap();
        for _ in 0..2 {
            let again = store.upsert_article(&article, None).unwrap();
            assert_eq!(
                again,
                crate::Upserted {
                    id: first.id,
                    outcome: UpsertOutcome::Unchanged
                }
            );
        }
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 1);
        assert_eq!(
            count(&store, "SELECT count(*) FROM mentions"),
            i64::try_from(article.entities.len()).unwrap()
        );
        assert_eq!(count(&store, "SELECT count(*) FROM article_labels"), 3);
        assert_eq!(count(&store, "SELECT count(*) FROM articles_fts"), 1);
        let still: String = store
            .connection()
            .query_row("SELECT changed_at FROM articles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(still, changed_at);
        // The batch path is idempotent too.
        let batch = vec![(article.clone(), None), (article, None)];
        let outcomes = store.upsert_articles(&batch).unwrap();
        assert!(
            outcomes
                .iter()
                .all(|u| u.outcome == UpsertOutcome::Unchanged && u.id == first.id)
        );
    }

    #[test]
    fn changed_body_updates_row_mentions_and_full_text() {
        let (_dir, _path, mut store) = temp_store();
        let old = seed_article();
        let id = store.upsert_article(&old, None).unwrap().id;
        assert_eq!(search_ids(&store, "nuclear"), vec![id]);

        let body = "Iranian President Ebrahim Raisi left Moscow; uranium talks with Vladimir Putin \
                    ended without an agreement.";
        let mut new = tagged(
            &old.url,
            &old.title,
            body,
            &[
                ("Ebrahim Raisi", EntityKind::Person, "Ebrahim Raisi"),
                ("Moscow", EntityKind::Location, "Moscow"),
                ("Vladimir Putin", EntityKind::Person, "Vladimir Putin"),
            ],
        );
        new.canonical_url = old.canonical_url.clone();
        new.labels = vec!["Diplomacy".into()];
        new.author = None; // a version without author keeps the stored one
        let up = store.upsert_article(&new, None).unwrap();
        assert_eq!(
            up,
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );

        let stored = store.article(ArticleKey::Id(id)).unwrap().unwrap();
        assert_eq!(stored.body, body);
        assert_eq!(stored.content_hash, hash(&old.title, body));
        assert_eq!(stored.labels, vec!["Diplomacy".to_string()]);
        assert_eq!(stored.entities, new.entities);
        assert_eq!(stored.author.as_deref(), Some("Staff Writer"));
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 1);
        assert_eq!(count(&store, "SELECT count(*) FROM mentions"), 3);
        // The full-text index follows: the new word is found, the old one is gone.
        assert_eq!(search_ids(&store, "uranium"), vec![id]);
        assert!(search_ids(&store, "nuclear").is_empty());
        assert!(search_ids(&store, "Lavrov").is_empty());
        // The FTS index agrees with its content table.
        store
            .connection()
            .execute(
                "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .unwrap();
        // The entity counters follow the replaced mentions.
        let (mentions, articles): (i64, i64) = store
            .connection()
            .query_row(
                "SELECT mention_count, article_count FROM entities WHERE name = 'Ebrahim Raisi'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((mentions, articles), (1, 1));
        let lavrov: i64 = store
            .connection()
            .query_row(
                "SELECT mention_count FROM entities WHERE name = 'Sergei Lavrov'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(lavrov, 0);
    }

    #[test]
    fn same_post_through_mobile_country_host_and_feed_is_one_row() {
        let (_dir, _path, mut store) = temp_store();
        let page = seed_article();
        let canonical = page.url.clone();

        // First seen as the mobile page: URL with ?m=1, canonical without.
        let mut mobile = page.clone();
        mobile.url = format!("{canonical}?m=1");
        let id = store.upsert_article(&mobile, None).unwrap().id;

        // The desktop page (its URL is the stored canonical URL).
        let mut desktop = page.clone();
        desktop.canonical_url = None;
        assert_eq!(store.upsert_article(&desktop, None).unwrap().id, id);

        // A country host with no canonical link, known only by its post id and path.
        let mut country = page.clone();
        country.url = canonical.replace(".blogspot.com", ".blogspot.co.uk");
        country.canonical_url = None;
        country.body.push_str("\n\nUpdated.");
        country.content_hash = hash(&country.title, &country.body);
        let up = store.upsert_article(&country, None).unwrap();
        assert_eq!((up.id, up.outcome), (id, UpsertOutcome::Updated));

        // The feed entry: another address again (http, feed query), same post id.
        let mut feed = country.clone();
        feed.url = canonical.replace("https://", "http://") + "?utm_source=feed";
        let up = store.upsert_article(&feed, None).unwrap();
        assert_eq!((up.id, up.outcome), (id, UpsertOutcome::Unchanged));

        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 1);
        let stored = store.article(ArticleKey::Url(&canonical)).unwrap().unwrap();
        assert_eq!(stored.id, Some(id));
        assert_eq!(stored.canonical_url.as_deref(), Some(canonical.as_str()));
        // A hint names the article but never moves its address: the row keeps the first.
        assert_eq!(row_of(&store, id).0, mobile.url);
    }

    #[test]
    fn same_post_twice_in_one_batch_is_one_row() {
        let (_dir, _path, mut store) = temp_store();
        let page = seed_article();
        let mut mobile = page.clone();
        mobile.url = format!("{}?m=1", page.url);
        let mut edited = page.clone();
        edited.url = page.url.replace(".blogspot.com", ".blogspot.de");
        edited.canonical_url = None;
        edited.body.push_str("\n\nEdited.");
        edited.content_hash = hash(&edited.title, &edited.body);
        let batch = vec![
            (numbered_article(1), None),
            (page.clone(), None),
            (numbered_article(2), None),
            (mobile, None),
            (edited, None),
            (numbered_article(1), None),
        ];
        let outcomes: Vec<_> = store.upsert_articles(&batch).unwrap();
        let kinds: Vec<_> = outcomes.iter().map(|u| u.outcome).collect();
        use UpsertOutcome::*;
        assert_eq!(
            kinds,
            vec![Inserted, Inserted, Inserted, Unchanged, Updated, Unchanged]
        );
        assert_eq!(outcomes[1].id, outcomes[3].id);
        assert_eq!(outcomes[1].id, outcomes[4].id);
        assert_eq!(outcomes[0].id, outcomes[5].id);
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 3);
        assert_eq!(search_ids(&store, "Edited"), vec![outcomes[1].id]);
        // Ids come back in batch order, each pointing at its own article.
        for (up, (article, _)) in outcomes.iter().zip(&batch).take(3) {
            let stored = store.article(ArticleKey::Id(up.id)).unwrap().unwrap();
            assert_eq!(stored.title, article.title);
        }
        // The savepoint path agrees.
        let (_dir2, _path2, mut other) = temp_store();
        let results = other.upsert_batch(&batch).unwrap();
        let kinds2: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().unwrap().outcome)
            .collect();
        assert_eq!(kinds2, kinds);
    }

    /// Groups written into one `ArticleTransaction` are committed together; an invalid
    /// article fails alone with nothing written; a transaction dropped open is rolled back.
    #[test]
    fn an_article_transaction_commits_its_groups_together() {
        let (_dir, path, mut store) = temp_store();
        let count = |path: &std::path::Path| -> i64 {
            crate::Store::open(path)
                .unwrap()
                .connection()
                .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
                .unwrap()
        };
        let group = |from: usize| -> Vec<(Article, Option<i64>)> {
            (from..from + 3)
                .map(|n| (numbered_article(n), None))
                .collect()
        };
        let mut tx = store.begin_articles();
        assert_eq!(tx.upsert(&group(0), &[]).unwrap().len(), 3);
        assert!(tx.is_open());
        let mut bad = group(3);
        bad[1].0.entities[0].end = 100_000;
        assert!(tx.upsert(&bad, &[]).is_err(), "an entity outside the body");
        assert!(
            tx.is_open(),
            "an invalid article leaves the transaction as it was"
        );
        tx.upsert(&group(6), &[]).unwrap();
        // Another connection sees nothing before the commit.
        assert_eq!(count(&path), 0);
        tx.commit().unwrap();
        assert!(!tx.is_open());
        assert_eq!(count(&path), 6);
        tx.upsert(&group(9), &[]).unwrap();
        drop(tx);
        assert_eq!(count(&path), 6, "dropped open: rolled back");
        assert_eq!(search_ids(&store, "Brussels").len(), 6);
    }

    #[test]
    fn a_large_batch_is_split_into_several_inserts() {
        let (_dir, _path, mut store) = temp_store();
        let batch: Vec<_> = (0..super::ROWS_PER_INSERT + 7)
            .map(|n| (numbered_article(n), None))
            .collect();
        let outcomes = store.upsert_articles(&batch).unwrap();
        assert!(
            outcomes
                .iter()
                .all(|u| u.outcome == UpsertOutcome::Inserted)
        );
        for (up, (article, _)) in outcomes.iter().zip(&batch) {
            let url: String = store
                .connection()
                .query_row("SELECT url FROM articles WHERE id = ?1", [up.id], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(url, article.url);
        }
        assert_eq!(search_ids(&store, "Brussels").len(), batch.len());
    }

    #[test]
    fn a_chunk_with_more_mentions_than_are_held_stores_them_all() {
        let (_dir, _path, mut store) = temp_store();
        // 10 mentions an article (the 5 repeated at other offsets): a chunk's rows pass
        // MENTIONS_HELD, so they are written in several goes within one chunk.
        let batch: Vec<_> = (0..super::ROWS_PER_INSERT)
            .map(|n| {
                let mut a = numbered_article(n);
                let again: Vec<_> = a
                    .entities
                    .iter()
                    .map(|e| Entity {
                        start: e.start + 1,
                        end: e.end + 1,
                        ..e.clone()
                    })
                    .collect();
                a.entities.extend(again);
                (a, None)
            })
            .collect();
        const { assert!(super::ROWS_PER_INSERT * 10 > super::MENTIONS_HELD) };
        let outcomes = store.upsert_articles(&batch).unwrap();
        let conn = store.connection();
        let total: i64 = conn
            .query_row("SELECT count(*) FROM mentions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(total, i64::try_from(batch.len() * 10).unwrap());
        for up in &outcomes {
            let n: i64 = conn
                .query_row(
                    "SELECT count(*) FROM mentions WHERE article_id = ?1",
                    [up.id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 10);
        }
        let (mentions, articles): (i64, i64) = conn
            .query_row(
                "SELECT mention_count, article_count FROM entities WHERE name = 'Vienna'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(mentions, i64::try_from(batch.len() * 2).unwrap());
        assert_eq!(articles, i64::try_from(batch.len()).unwrap());
    }

    #[test]
    fn a_canonical_url_pointing_at_the_home_page_is_ignored() {
        let (_dir, _path, mut store) = temp_store();
        let mut ids = Vec::new();
        for n in 0..3 {
            let mut a = numbered_article(n);
            a.canonical_url = Some("https://news.example.org/".into());
            let up = store.upsert_article(&a, None).unwrap();
            assert_eq!(up.outcome, UpsertOutcome::Inserted);
            ids.push(up.id);
        }
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 3);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM articles WHERE canonical_url IS NOT NULL"
            ),
            0
        );
        // The home page itself keeps its canonical URL.
        let mut home = numbered_article(9);
        home.url = "https://news.example.org/?m=1".into();
        home.canonical_url = Some("https://news.example.org/".into());
        store.upsert_article(&home, None).unwrap();
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM articles WHERE canonical_url IS NOT NULL"
            ),
            1
        );
    }

    #[test]
    fn same_post_id_on_another_path_is_another_article() {
        let (_dir, _path, mut store) = temp_store();
        let a = seed_article();
        let mut b = numbered_article(1);
        b.blogger_post_id = a.blogger_post_id.clone();
        let ia = store.upsert_article(&a, None).unwrap();
        let ib = store.upsert_article(&b, None).unwrap();
        assert_eq!(ib.outcome, UpsertOutcome::Inserted);
        assert_ne!(ia.id, ib.id);
    }

    /// `(url, title, body)` of a stored row.
    fn row_of(store: &crate::Store, id: i64) -> (String, String, String) {
        store
            .connection()
            .query_row(
                "SELECT url, title, body FROM articles WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    /// An article of its own at `url` (title and body unlike any other's).
    fn story(url: &str, title: &str) -> Article {
        let body = format!("{title}. This story was reported from {url} and nowhere else.");
        tagged(url, title, &body, &[])
    }

    #[test]
    fn a_page_declaring_another_pages_address_canonical_does_not_replace_it() {
        let (_dir, _path, mut store) = temp_store();
        let a_url = "https://news.example.org/2024/05/harbour-strike.html";
        let b_url = "https://news.example.org/2024/05/ferry-timetable.html";
        let mut a = story(a_url, "Harbour workers strike");
        a.canonical_url = Some(a_url.into());
        let ia = store.upsert_article(&a, None).unwrap();
        assert_eq!(ia.outcome, UpsertOutcome::Inserted);

        // B, another story, whose template names A as canonical.
        let mut b = story(b_url, "New ferry timetable");
        b.canonical_url = Some(a_url.into());
        let ib = store.upsert_article(&b, None).unwrap();
        assert_eq!(ib.outcome, UpsertOutcome::Inserted);
        assert_ne!(ib.id, ia.id);
        assert_eq!(
            row_of(&store, ia.id),
            (a_url.into(), a.title.clone(), a.body.clone())
        );
        assert_eq!(
            row_of(&store, ib.id),
            (b_url.into(), b.title.clone(), b.body.clone())
        );
        // The canonical URL is kept as data.
        let b_canonical: Option<String> = store
            .connection()
            .query_row(
                "SELECT canonical_url FROM articles WHERE id = ?1",
                [ib.id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b_canonical.as_deref(), Some(a_url));
        // B again is B, unchanged; A's next version still reaches A's row.
        assert_eq!(
            store.upsert_article(&b, None).unwrap(),
            crate::Upserted {
                id: ib.id,
                outcome: UpsertOutcome::Unchanged
            }
        );
        let mut a2 = story(a_url, "Harbour workers strike: talks resume");
        a2.canonical_url = Some(a_url.into());
        assert_eq!(
            store.upsert_article(&a2, None).unwrap(),
            crate::Upserted {
                id: ia.id,
                outcome: UpsertOutcome::Updated
            }
        );
        assert_eq!(row_of(&store, ib.id).1, b.title);
        assert_eq!(search_ids(&store, "ferry"), vec![ib.id]);

        // The other order: B first, then A (whose address B declared) is its own row too.
        let (_dir2, _path2, mut other) = temp_store();
        let ib = other.upsert_article(&b, None).unwrap();
        let ia = other.upsert_article(&a, None).unwrap();
        assert_eq!(ia.outcome, UpsertOutcome::Inserted);
        assert_ne!(ia.id, ib.id);
        assert_eq!(row_of(&other, ib.id).1, b.title);
        assert_eq!(row_of(&other, ia.id).1, a.title);
        // And in one batch, both orders.
        for batch in [
            vec![(a.clone(), None), (b.clone(), None)],
            vec![(b.clone(), None), (a.clone(), None)],
        ] {
            let (_d, _p, mut s) = temp_store();
            let ups = s.upsert_articles(&batch).unwrap();
            assert!(ups.iter().all(|u| u.outcome == UpsertOutcome::Inserted));
            assert_eq!(count(&s, "SELECT count(*) FROM articles"), 2);
        }
    }

    #[test]
    fn section_pages_declaring_one_canonical_are_one_row_each() {
        let section = "https://news.example.org/world";
        let stories: Vec<Article> = ["Floods in the north", "Election called", "Port reopens"]
            .iter()
            .enumerate()
            .map(|(n, title)| {
                let mut a = story(&format!("{section}/story-{n}.html"), title);
                a.canonical_url = Some(section.into());
                a
            })
            .collect();
        // One by one, and as one batch.
        let (_dir, _path, mut store) = temp_store();
        let ids: Vec<i64> = stories
            .iter()
            .map(|a| {
                let up = store.upsert_article(a, None).unwrap();
                assert_eq!(up.outcome, UpsertOutcome::Inserted);
                up.id
            })
            .collect();
        // The section page itself, then the stories again: nothing merges, nothing changes.
        let section_page = story(section, "World");
        assert_eq!(
            store.upsert_article(&section_page, None).unwrap().outcome,
            UpsertOutcome::Inserted
        );
        for (a, id) in stories.iter().zip(&ids) {
            assert_eq!(
                store.upsert_article(a, None).unwrap(),
                crate::Upserted {
                    id: *id,
                    outcome: UpsertOutcome::Unchanged
                }
            );
            assert_eq!(
                row_of(&store, *id),
                (a.url.clone(), a.title.clone(), a.body.clone())
            );
        }
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 4);

        let (_dir2, _path2, mut batch_store) = temp_store();
        let batch: Vec<_> = stories.iter().map(|a| (a.clone(), None)).collect();
        let ups = batch_store.upsert_articles(&batch).unwrap();
        assert!(ups.iter().all(|u| u.outcome == UpsertOutcome::Inserted));
        assert_eq!(count(&batch_store, "SELECT count(*) FROM articles"), 3);
    }

    #[test]
    fn a_page_fetched_through_an_off_site_source_replaces_the_row_and_a_feed_item_does_not() {
        use gleaner_model::SourceKind;
        let (_dir, path, mut store) = temp_store();
        let news = store
            .ensure_source(
                SourceKind::Feed,
                "https://feeds.bbci.co.uk/news/rss.xml",
                None,
            )
            .unwrap();
        let world = store
            .ensure_source(
                SourceKind::Feed,
                "https://feeds.bbci.co.uk/news/world/rss.xml",
                None,
            )
            .unwrap();
        let url = "https://www.bbc.co.uk/news/articles/c4g8l5x2yq3o";
        let first = story(url, "Harbour strike begins");
        let id = store
            .upsert_article_from(&first, Some(news), Origin::Page)
            .unwrap()
            .id;

        // Later only the world feed lists it; its page, fetched again, has changed.
        let fresh = story(url, "Harbour strike ends after talks");
        let up = store
            .upsert_articles_from(&[(fresh.clone(), Some(world))], &[Origin::Page])
            .unwrap();
        assert_eq!(
            up[0],
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );
        // The same text supplied by an off-site feed entry is not the page: kept, and said so.
        let mut feed_item = story(url, "Harbour strike: a feed's own summary");
        feed_item.source = Some("https://feeds.bbci.co.uk/news/world/rss.xml".into());
        let up = store.upsert_article(&feed_item, Some(world)).unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Kept);
        assert_eq!(up.id, id);

        // A row stored with no source (`gleaner scrape URL`) is no easier to overwrite.
        let lone = "https://www.bbc.co.uk/news/articles/c0000lone";
        let scraped = story(lone, "Lone page");
        let lone_id = store
            .upsert_article_from(&scraped, None, Origin::Page)
            .unwrap()
            .id;
        let claim = story(lone, "Off-site claim");
        let up = store.upsert_article(&claim, Some(world)).unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Kept);
        drop(store);

        let store = crate::Store::open(&path).unwrap();
        assert_eq!(row_of(&store, id), (url.into(), fresh.title, fresh.body));
        assert_eq!(
            row_of(&store, lone_id),
            (lone.into(), scraped.title, scraped.body)
        );
    }

    #[test]
    fn a_blogger_post_read_again_after_the_blog_moved_to_its_own_domain_is_one_row() {
        use gleaner_model::SourceKind;
        let (_dir, path, mut store) = temp_store();
        let feed = store
            .ensure_source(
                SourceKind::Feed,
                "https://foo.blogspot.com/feeds/posts/default",
                None,
            )
            .unwrap();
        let other = store
            .ensure_source(SourceKind::Feed, "https://copier.example/feed.xml", None)
            .unwrap();
        let mut old = story("https://foo.blogspot.com/2022/01/post.html", "Winter walk");
        old.blogger_post_id = Some("7311".into());
        let id = store
            .upsert_article_from(&old, Some(feed), Origin::Page)
            .unwrap()
            .id;

        // The blog now lives at blog.example.org; the feed links there, the post was edited.
        let mut moved = story(
            "https://blog.example.org/2022/01/post.html",
            "Winter walk, edited",
        );
        moved.blogger_post_id = Some("7311".into());
        let up = store
            .upsert_article_from(&moved, Some(feed), Origin::Page)
            .unwrap();
        assert_eq!(
            up,
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );
        // Another source's page copying the id and path is not that post.
        let mut copy = story(
            "https://copier.example/2022/01/post.html",
            "Winter walk, copied",
        );
        copy.blogger_post_id = Some("7311".into());
        let up = store
            .upsert_article_from(&copy, Some(other), Origin::Page)
            .unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Inserted);
        drop(store);

        let store = crate::Store::open(&path).unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 2);
        assert_eq!(row_of(&store, id).1, moved.title);
    }

    #[test]
    fn two_short_posts_with_one_title_under_a_section_canonical_stay_two_rows() {
        let (_dir, path, mut store) = temp_store();
        let section = "https://blog.example.org/open-thread/";
        let first_url = "https://blog.example.org/2024/05/01/open-thread";
        let mut first = tagged(first_url, "Open thread", "Talk about anything below.", &[]);
        first.canonical_url = Some(section.into());
        let first_id = store.upsert_article(&first, None).unwrap().id;

        let mut second = tagged(
            "https://blog.example.org/2024/05/08/open-thread",
            "Open thread",
            "Talk about anything below. Rules as usual.",
            &[],
        );
        second.canonical_url = Some(section.into());
        let up = store.upsert_article(&second, None).unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Inserted);
        assert_ne!(up.id, first_id);
        drop(store);

        let store = crate::Store::open(&path).unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 2);
        assert_eq!(
            row_of(&store, first_id),
            (first_url.into(), first.title, first.body)
        );
    }

    #[test]
    fn a_feed_item_from_another_source_cannot_overwrite_a_stored_article() {
        use gleaner_model::SourceKind;
        let (_dir, path, mut store) = temp_store();
        let site = store
            .ensure_source(SourceKind::Page, "https://news.example.org/", None)
            .unwrap();
        let aggregator = store
            .ensure_source(
                SourceKind::Feed,
                "https://aggregator.example/feed.xml",
                None,
            )
            .unwrap();
        let url = "https://news.example.org/2024/05/harbour-strike.html";
        let genuine = story(url, "Harbour workers strike");
        let id = store.upsert_article(&genuine, Some(site)).unwrap().id;

        // A full-content item of another site's feed names the stored address as its link.
        let mut claim = story(url, "Miracle cure found");
        claim.source = Some("https://aggregator.example/feed.xml".into());
        assert_eq!(
            store.upsert_article(&claim, Some(aggregator)).unwrap(),
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Kept
            }
        );
        // Through a batch, and through the savepoint path, the same.
        let ups = store
            .upsert_articles(&[(claim.clone(), Some(aggregator))])
            .unwrap();
        assert_eq!(ups[0].outcome, UpsertOutcome::Kept);
        let ups = store
            .upsert_batch(&[(claim.clone(), Some(aggregator))])
            .unwrap();
        assert_eq!(ups[0].as_ref().unwrap().outcome, UpsertOutcome::Kept);
        // Its canonical URL pointing there does not help it either: stored under its own address.
        let mut via_canonical = story("https://aggregator.example/items/77", "Miracle cure found");
        via_canonical.canonical_url = Some(url.into());
        let up = store
            .upsert_article(&via_canonical, Some(aggregator))
            .unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Inserted);
        assert_ne!(up.id, id);
        drop(store);

        let store = crate::Store::open(&path).unwrap();
        assert_eq!(
            row_of(&store, id),
            (url.into(), genuine.title.clone(), genuine.body.clone())
        );
        let owner: i64 = store
            .connection()
            .query_row("SELECT source_id FROM articles WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(owner, site);
        assert!(search_ids(&store, "miracle").iter().all(|&hit| hit != id));
        drop(store);

        // The site's own sitemap reads the page itself: its new version is the article's.
        let mut store = crate::Store::open(&path).unwrap();
        let sitemap = store
            .ensure_source(
                SourceKind::Sitemap,
                "https://www.news.example.org/sitemap.xml",
                None,
            )
            .unwrap();
        let newer = story(url, "Harbour workers strike: talks resume");
        assert_eq!(
            store.upsert_article(&newer, Some(sitemap)).unwrap(),
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );
        assert_eq!(row_of(&store, id).1, newer.title);
    }

    #[test]
    fn variants_of_one_page_still_merge() {
        let (_dir, _path, mut store) = temp_store();
        let url = "https://news.example.org/2024/05/harbour-strike.html";
        let mut page = story(url, "Harbour workers strike");
        page.canonical_url = Some(url.into());
        let id = store.upsert_article(&page, None).unwrap().id;

        // The feed's tracked link to it, text edited: the same article, updated.
        let mut tracked = story(
            &format!("{url}?utm_source=rss&utm_medium=feed"),
            "Harbour workers strike",
        );
        // (long enough an opening for a print copy to be known by title and opening)
        tracked.body = format!(
            "Dock workers walked out at dawn over pay and shifts, closing all four terminals \
             of the harbour; ferries ran, but container ships queued offshore while union and \
             port authority met for talks that went on late into the evening. {} Updated at noon.",
            tracked.body
        );
        tracked.content_hash = hash(&tracked.title, &tracked.body);
        tracked.canonical_url = Some(url.into());
        assert_eq!(
            store.upsert_article(&tracked, None).unwrap(),
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );
        // A print copy under another path: same title and opening, canonical to the page.
        let mut print = tracked.clone();
        print.url = "https://www.news.example.org/print/harbour-strike".into();
        print.body.push_str(" Printed.");
        print.content_hash = hash(&print.title, &print.body);
        assert_eq!(
            store.upsert_article(&print, None).unwrap(),
            crate::Upserted {
                id,
                outcome: UpsertOutcome::Updated
            }
        );
        // The mobile page of a post, with no canonical link, known by its post id.
        let mut post = seed_article();
        let post_id = store.upsert_article(&post, None).unwrap().id;
        post.url = format!("{}?m=1", post.url.replace(".blogspot.com", ".blogspot.fr"));
        post.canonical_url = None;
        post.body.push_str(" Edited.");
        post.content_hash = hash(&post.title, &post.body);
        assert_eq!(
            store.upsert_article(&post, None).unwrap(),
            crate::Upserted {
                id: post_id,
                outcome: UpsertOutcome::Updated
            }
        );
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 2);
    }

    #[test]
    fn a_page_on_another_site_copying_a_post_id_and_path_is_another_article() {
        let (_dir, _path, mut store) = temp_store();
        let post = seed_article();
        let id = store.upsert_article(&post, None).unwrap().id;
        let mut copy = story(
            &post.url.replace("example.blogspot.com", "copycat.example"),
            "Something else entirely",
        );
        copy.blogger_post_id = post.blogger_post_id.clone();
        copy.canonical_url = Some(post.url.clone());
        let up = store.upsert_article(&copy, None).unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Inserted);
        assert_ne!(up.id, id);
        assert_eq!(row_of(&store, id).1, post.title);
    }

    /// Make every mention whose text is `BOOM` fail, after the row and labels were written.
    fn arm_mention_bomb(store: &crate::Store) {
        store
            .connection()
            .execute_batch(
                "CREATE TEMP TRIGGER mention_bomb BEFORE INSERT ON main.mentions
                 WHEN new.text = 'BOOM' BEGIN SELECT RAISE(ABORT, 'forced failure'); END;",
            )
            .unwrap();
    }

    fn bomb_article() -> Article {
        let mut bad = tagged(
            "https://news.example.org/bomb.html",
            "Unique zeppelin headline",
            "Zeppelin news: Angela Merkel said BOOM in Berlin.",
            &[
                ("Angela Merkel", EntityKind::Person, "Angela Merkel"),
                ("BOOM", EntityKind::Organization, "BOOM"),
                ("Berlin", EntityKind::Location, "Berlin"),
            ],
        );
        bad.labels = vec!["Explosive".into()];
        bad
    }

    #[test]
    fn failed_article_in_batch_leaves_no_trace_and_others_commit() {
        let (_dir, path, mut store) = temp_store();
        arm_mention_bomb(&store);
        let batch = vec![
            (numbered_article(1), None),
            (bomb_article(), None),
            (numbered_article(2), None),
        ];
        let results = store.upsert_batch(&batch).unwrap();
        assert!(matches!(
            results[0],
            Ok(crate::Upserted {
                outcome: UpsertOutcome::Inserted,
                ..
            })
        ));
        let err = results[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("forced failure"), "{err}");
        assert!(matches!(
            results[2],
            Ok(crate::Upserted {
                outcome: UpsertOutcome::Inserted,
                ..
            })
        ));
        drop(store);

        // Seen from a fresh connection: two articles, nothing of the third.
        let store = crate::Store::open(&path).unwrap();
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 2);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM articles WHERE url LIKE '%bomb%'"
            ),
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM article_labels WHERE label = 'Explosive'"
            ),
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM entities WHERE name IN ('Angela Merkel', 'BOOM')"
            ),
            0
        );
        assert!(search_ids(&store, "zeppelin").is_empty());
        assert_eq!(search_ids(&store, "Brussels").len(), 2);
    }

    #[test]
    fn upsert_articles_is_all_or_nothing_and_names_the_failed_article() {
        let (_dir, _path, mut store) = temp_store();
        arm_mention_bomb(&store);
        let batch = vec![
            (numbered_article(7), None),
            (bomb_article(), None),
            (numbered_article(8), None),
        ];
        let err = store.upsert_articles(&batch).unwrap_err();
        match &err {
            StoreError::Article { index, url, .. } => {
                assert_eq!(
                    (*index, url.as_str()),
                    (1, "https://news.example.org/bomb.html")
                );
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("forced failure"), "{err}");
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM entities"), 0);
        // Written again one by one, the good ones are new and the bad one leaves nothing.
        for (article, source) in &batch {
            match store.upsert_article(article, *source) {
                Ok(up) => assert_eq!(up.outcome, UpsertOutcome::Inserted),
                Err(e) => assert!(e.to_string().contains("forced failure"), "{e}"),
            }
        }
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 2);
        assert!(search_ids(&store, "zeppelin").is_empty());
    }

    #[test]
    fn entity_offsets_outside_the_body_are_refused() {
        let (_dir, _path, mut store) = temp_store();
        let mut a = seed_article();
        a.entities[0].end = a.body.chars().count() + 1;
        let err = store.upsert_article(&a, None).unwrap_err();
        assert!(matches!(err, StoreError::InvalidArticle { .. }), "{err:?}");
        let mut b = seed_article();
        b.entities[0].start = b.entities[0].end + 1;
        assert!(matches!(
            store.upsert_article(&b, None),
            Err(StoreError::InvalidArticle { .. })
        ));
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 0);
    }

    #[test]
    fn entities_are_shared_by_kind_and_name_and_counted() {
        let (_dir, _path, mut store) = temp_store();
        for n in 0..3 {
            store.upsert_article(&numbered_article(n), None).unwrap();
        }
        store.upsert_article(&seed_article(), None).unwrap();
        // Many mentions (written in several chunks), one of them given twice.
        let body = "Tehran and Vienna. ".repeat(30);
        let mut many = tagged(
            "https://news.example.org/many.html",
            "Many",
            &body,
            &[
                ("Tehran", EntityKind::Location, "Tehran"),
                ("Vienna", EntityKind::Location, "Vienna"),
            ],
        );
        many.entities.push(many.entities[0].clone());
        let id = store.upsert_article(&many, None).unwrap().id;
        let sql = format!("SELECT count(*) FROM mentions WHERE article_id = {id}");
        assert_eq!(count(&store, &sql), 60);
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM entities WHERE name = 'Tehran'"
            ),
            1
        );
        let (m, a): (i64, i64) = store
            .connection()
            .query_row(
                "SELECT mention_count, article_count FROM entities WHERE name = 'Ebrahim Raisi'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((m, a), (3, 1));
        // The counters always agree with the mentions table.
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM entities e WHERE mention_count <>
                    (SELECT count(*) FROM mentions m WHERE m.entity_id = e.id)
                 OR article_count <>
                    (SELECT count(DISTINCT article_id) FROM mentions m WHERE m.entity_id = e.id)"
            ),
            0
        );
        // Short forms are kept as aliases of the full name.
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM entity_aliases al JOIN entities e ON e.id = al.entity_id
                  WHERE e.name = 'Vladimir Putin' AND al.alias = 'Putin'"
            ),
            1
        );
    }

    #[test]
    fn deleting_an_article_removes_its_labels_mentions_and_full_text() {
        let (_dir, _path, mut store) = temp_store();
        let id = store.upsert_article(&seed_article(), None).unwrap().id;
        store.upsert_article(&numbered_article(1), None).unwrap();
        store
            .connection()
            .execute("DELETE FROM articles WHERE id = ?1", [id])
            .unwrap();
        assert_eq!(
            count(
                &store,
                &format!("SELECT count(*) FROM mentions WHERE article_id = {id}")
            ),
            0
        );
        assert_eq!(
            count(
                &store,
                &format!("SELECT count(*) FROM article_labels WHERE article_id = {id}")
            ),
            0
        );
        assert!(search_ids(&store, "nuclear").is_empty());
        assert_eq!(
            count(
                &store,
                "SELECT mention_count FROM entities WHERE name = 'Vladimir Putin'"
            ),
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT article_count FROM entities WHERE name = 'Tehran'"
            ),
            1
        );
    }

    fn foreign_keys_on(store: &crate::Store) -> bool {
        store
            .connection()
            .pragma_query_value(None, "foreign_keys", |r| r.get::<_, i64>(0))
            .unwrap()
            == 1
    }

    fn dangling_rows(store: &crate::Store) -> usize {
        store
            .connection()
            .prepare("PRAGMA foreign_key_check")
            .unwrap()
            .query_map([], |_| Ok(()))
            .unwrap()
            .count()
    }

    #[test]
    fn every_write_path_leaves_foreign_keys_on_and_no_dangling_row() {
        let (_dir, _path, mut store) = temp_store();
        let source = store
            .ensure_source(
                gleaner_model::SourceKind::Feed,
                "https://news.example.org/feed.xml",
                None,
            )
            .unwrap();
        store
            .upsert_article(&numbered_article(1), Some(source))
            .unwrap();
        assert!(foreign_keys_on(&store));
        store
            .upsert_articles(&[(numbered_article(2), Some(source))])
            .unwrap();
        assert!(foreign_keys_on(&store));
        store
            .upsert_batch(&[(numbered_article(3), Some(source))])
            .unwrap();
        assert!(foreign_keys_on(&store));
        {
            let mut tx = store.begin_articles();
            tx.upsert(&[(numbered_article(4), Some(source))], &[])
                .unwrap();
            tx.commit().unwrap();
        }
        assert!(foreign_keys_on(&store));
        {
            // Dropped open: rolled back, keys back on.
            let mut tx = store.begin_articles();
            tx.upsert(&[(numbered_article(5), Some(source))], &[])
                .unwrap();
        }
        assert!(foreign_keys_on(&store));
        // An update replaces labels and mentions under the same keys.
        let mut changed = numbered_article(1);
        changed.body.push_str(" Tehran again.");
        changed.content_hash = hash(&changed.title, &changed.body);
        let up = store.upsert_article(&changed, Some(source)).unwrap();
        assert_eq!(up.outcome, UpsertOutcome::Updated);
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 4);
        assert_eq!(dangling_rows(&store), 0);
        assert!(foreign_keys_on(&store));
        // The connection still enforces the keys outside the writer's transactions.
        let err = store
            .connection()
            .execute(
                r#"INSERT INTO mentions (article_id, entity_id, start, "end", text) VALUES (999, 999, 0, 1, 'x')"#,
                [],
            )
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[test]
    fn an_article_under_a_missing_source_is_refused_on_every_path() {
        let (_dir, _path, mut store) = temp_store();
        let missing = Some(4242);
        let err = store
            .upsert_article(&numbered_article(1), missing)
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        let err = store
            .upsert_articles(&[(numbered_article(2), None), (numbered_article(3), missing)])
            .unwrap_err();
        match &err {
            StoreError::Article { index, url, .. } => {
                assert_eq!(
                    (*index, url.as_str()),
                    (1, numbered_article(3).url.as_str())
                );
            }
            other => panic!("expected an article error, got {other:?}"),
        }
        let results = store
            .upsert_batch(&[(numbered_article(4), None), (numbered_article(5), missing)])
            .unwrap();
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
        {
            let mut tx = store.begin_articles();
            assert!(tx.upsert(&[(numbered_article(6), missing)], &[]).is_err());
            assert!(!tx.is_open());
        }
        assert!(foreign_keys_on(&store));
        // Only the article of the batch that kept its good ones is stored.
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 1);
        assert_eq!(dangling_rows(&store), 0);
    }

    #[test]
    fn repeated_mentions_are_stored_once_in_or_out_of_offset_order() {
        let (_dir, _path, mut store) = temp_store();
        let a = numbered_article(1);
        let mut doubled = a.clone();
        // The same mentions twice over, in offset order (each repeat next to its twin).
        doubled.entities = a
            .entities
            .iter()
            .flat_map(|e| [e.clone(), e.clone()])
            .collect();
        let mut shuffled = numbered_article(2);
        // Out of order, with repeats far apart.
        let mut rest = shuffled.entities.clone();
        rest.reverse();
        shuffled.entities.extend(rest);
        let batch = vec![(doubled, None), (shuffled.clone(), None)];
        let ups = store.upsert_articles(&batch).unwrap();
        for (up, n) in ups
            .iter()
            .zip([a.entities.len(), shuffled.entities.len() / 2])
        {
            let stored: i64 = store
                .connection()
                .query_row(
                    "SELECT count(*) FROM mentions WHERE article_id = ?1",
                    [up.id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stored, i64::try_from(n).unwrap());
        }
        // The counters agree with the rows.
        let wrong: i64 = count(
            &store,
            "SELECT count(*) FROM entities e
              WHERE mention_count <> (SELECT count(*) FROM mentions WHERE entity_id = e.id)
                 OR article_count <> (SELECT count(DISTINCT article_id) FROM mentions
                                       WHERE entity_id = e.id)",
        );
        assert_eq!(wrong, 0);
    }

    #[test]
    fn a_mention_failing_part_way_through_an_insert_names_its_article() {
        let (_dir, _path, mut store) = temp_store();
        // RAISE(FAIL): the statement stops at the row and keeps the rows before it.
        store
            .connection()
            .execute_batch(
                "CREATE TEMP TRIGGER mention_fail BEFORE INSERT ON main.mentions
                 WHEN new.text = 'BOOM' BEGIN SELECT RAISE(FAIL, 'forced failure'); END;",
            )
            .unwrap();
        let batch = vec![
            (numbered_article(1), None),
            (numbered_article(2), None),
            (bomb_article(), None),
            (numbered_article(3), None),
        ];
        let err = store.upsert_articles(&batch).unwrap_err();
        match &err {
            StoreError::Article { index, url, .. } => {
                assert_eq!((*index, url.as_str()), (2, bomb_article().url.as_str()));
            }
            other => panic!("expected an article error, got {other:?}"),
        }
        assert!(err.to_string().contains("forced failure"), "{err}");
        assert_eq!(count(&store, "SELECT count(*) FROM articles"), 0);
        assert_eq!(count(&store, "SELECT count(*) FROM mentions"), 0);
        assert!(foreign_keys_on(&store));
    }

    #[test]
    fn entities_known_to_a_transaction_are_forgotten_when_it_ends() {
        let (_dir, _path, mut store) = temp_store();
        {
            // Two groups of one transaction share their entities.
            let mut tx = store.begin_articles();
            tx.upsert(&[(numbered_article(1), None)], &[]).unwrap();
            tx.upsert(&[(numbered_article(2), None)], &[]).unwrap();
            tx.commit().unwrap();
        }
        let entities = count(&store, "SELECT count(*) FROM entities");
        let aliases = count(&store, "SELECT count(*) FROM entity_aliases");
        let novel = tagged(
            "https://news.example.org/novel.html",
            "A novel name",
            "Zebulon Quartermaine spoke in Tehran.",
            &[
                (
                    "Zebulon Quartermaine",
                    EntityKind::Person,
                    "Zebulon Quartermaine",
                ),
                ("Tehran", EntityKind::Location, "Tehran"),
            ],
        );
        arm_mention_bomb(&store);
        {
            // One transaction: a group creates an entity, the next fails and rolls the
            // transaction back (the entity with it); the pipeline then writes on with the
            // same transaction, which must create the entity again, not reuse its old id.
            let mut tx = store.begin_articles();
            tx.upsert(&[(novel.clone(), None)], &[]).unwrap();
            assert!(tx.upsert(&[(bomb_article(), None)], &[]).is_err());
            assert!(!tx.is_open());
            tx.upsert(&[(numbered_article(3), None)], &[]).unwrap();
            tx.upsert(&[(novel, None)], &[]).unwrap();
            tx.commit().unwrap();
        }
        assert_eq!(count(&store, "SELECT count(*) FROM entities"), entities + 1);
        assert_eq!(
            count(&store, "SELECT count(*) FROM entity_aliases"),
            aliases
        );
        assert_eq!(dangling_rows(&store), 0);
        let wrong: i64 = count(
            &store,
            "SELECT count(*) FROM entities e
              WHERE mention_count <> (SELECT count(*) FROM mentions WHERE entity_id = e.id)
                 OR article_count <> (SELECT count(DISTINCT article_id) FROM mentions
                                       WHERE entity_id = e.id)",
        );
        assert_eq!(wrong, 0);
    }
}

/// Review (round 9): cases where two genuinely different posts are now taken for one.
#[cfg(test)]
mod review_tests {
    use crate::test_support::{tagged, temp_store};
    use crate::{Origin, UpsertOutcome};
    use chrono::{TimeZone, Utc};
    use gleaner_model::SourceKind;

    fn urls(store: &crate::Store) -> Vec<(String, String)> {
        let mut st = store
            .connection()
            .prepare("SELECT url, title FROM articles ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A site whose pages carry a date only (`article:published_time` = `2024-03-05`,
    /// read as midnight) and whose posts open with the same 200+ characters (a daily
    /// briefing's standing preamble, a podcast's episode boilerplate, a byline/disclaimer the
    /// extractor keeps): two posts of one day are two posts, not one "moved" post.
    #[test]
    fn two_posts_of_one_day_with_a_shared_preamble_stay_two_rows() {
        let (_dir, _path, mut store) = temp_store();
        let feed = store
            .ensure_source(SourceKind::Feed, "https://daily.example.org/feed.xml", None)
            .unwrap();
        let preamble = "Daily Briefing. Every weekday morning our newsroom gathers the stories \
                        you need to know before you start your day. Sign up for our newsletter \
                        to get the briefing in your inbox, and follow us for updates all day. ";
        assert!(preamble.chars().count() >= crate::identity::OPENING_CHARS);
        let day = Utc.with_ymd_and_hms(2024, 3, 5, 0, 0, 0).unwrap();
        let mut a = tagged(
            "https://daily.example.org/2024/03/05/markets",
            "Markets rally on rate hopes",
            &format!("{preamble}Stocks rose sharply as traders bet on a cut in June."),
            &[],
        );
        a.published_at = Some(day);
        let mut b = tagged(
            "https://daily.example.org/2024/03/05/storm",
            "Storm closes coastal roads",
            &format!("{preamble}Heavy rain and wind closed roads along the coast overnight."),
            &[],
        );
        b.published_at = Some(day);
        let ua = store
            .upsert_article_from(&a, Some(feed), Origin::Page)
            .unwrap();
        let ub = store
            .upsert_article_from(&b, Some(feed), Origin::Page)
            .unwrap();
        assert_eq!(ua.outcome, UpsertOutcome::Inserted);
        assert_eq!(
            ub.outcome,
            UpsertOutcome::Inserted,
            "the storm post overwrote the markets post: {:?}",
            urls(&store)
        );
        assert_eq!(urls(&store).len(), 2);
    }

    /// Same, with a second-precise time shared by a site's posts (a migrated/imported blog
    /// whose posts all carry the import's timestamp, a static site that stamps every page
    /// with its build time), and an identical text under a different title is not needed:
    /// the shared opening alone merges them.
    #[test]
    fn imported_posts_sharing_a_timestamp_and_an_opening_stay_two_rows() {
        let (_dir, _path, mut store) = temp_store();
        let feed = store
            .ensure_source(SourceKind::Feed, "https://pod.example.org/feed.xml", None)
            .unwrap();
        let intro = "Welcome to The Long Table, the podcast about food, farming and the people \
                     who feed us. This episode is brought to you by our listeners: support the \
                     show on our membership page and get every episode early, ad-free. ";
        let at = Utc.with_ymd_and_hms(2023, 11, 2, 14, 31, 7).unwrap();
        let mut stored = Vec::new();
        for (n, topic) in [(41, "heritage wheat"), (42, "oyster farming")] {
            let mut p = tagged(
                &format!("https://pod.example.org/episodes/{n}"),
                &format!("Episode {n}: {topic}"),
                &format!("{intro}Today we talk about {topic}."),
                &[],
            );
            p.published_at = Some(at);
            stored.push(
                store
                    .upsert_article_from(&p, Some(feed), Origin::Page)
                    .unwrap()
                    .outcome,
            );
        }
        assert_eq!(
            stored,
            [UpsertOutcome::Inserted, UpsertOutcome::Inserted],
            "{:?}",
            urls(&store)
        );
    }
}
