//! The shared types of gleaner: what flows between its crates.
//!
//! This crate is the vocabulary of the pipeline and nothing else: plain data with `serde`
//! derives, no I/O, no parsing of HTML, no database. Every other gleaner crate depends on it;
//! it depends on none of them.
//!
//! The flow is `ScrapedArticle` (what `gleaner-scrape` reads out of a page) → cleaned text
//! (`gleaner-clean`) → [`Entity`] mentions (`gleaner-tag`) → [`Article`] (what `gleaner-store`
//! keeps and what `gleaner show --format json` prints).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of entity gleaner tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A named person ("Ibrahim Raisi").
    Person,
    /// A place: country, city, region, geographic feature ("Moscow").
    Location,
    /// A company, institution, agency, party as an organisation ("the Kremlin", "Reuters").
    Organization,
    /// Nationalities, religious and political groups ("Iranian", "Shia", "Republicans").
    Group,
    /// A date or a day ("January 19", "Thursday"); its name is ISO 8601 where resolvable.
    Date,
    /// An amount of money ("$5 billion").
    Money,
    /// A percentage ("12%", "12 per cent").
    Percent,
}

impl EntityKind {
    /// Every kind, in a stable order.
    pub const ALL: [EntityKind; 7] = [
        EntityKind::Person,
        EntityKind::Location,
        EntityKind::Organization,
        EntityKind::Group,
        EntityKind::Date,
        EntityKind::Money,
        EntityKind::Percent,
    ];

    /// The lowercase name used in JSON, in the database and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Location => "location",
            EntityKind::Organization => "organization",
            EntityKind::Group => "group",
            EntityKind::Date => "date",
            EntityKind::Money => "money",
            EntityKind::Percent => "percent",
        }
    }

    /// The CoNLL-2003 type this kind maps to, for the named kinds (person=PER, location=LOC,
    /// organization=ORG, group=MISC); `None` for dates, money and percentages.
    pub fn conll_type(self) -> Option<&'static str> {
        match self {
            EntityKind::Person => Some("PER"),
            EntityKind::Location => Some("LOC"),
            EntityKind::Organization => Some("ORG"),
            EntityKind::Group => Some("MISC"),
            EntityKind::Date | EntityKind::Money | EntityKind::Percent => None,
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no [`EntityKind`] or [`SourceKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind {
    /// What was given.
    pub given: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown kind {:?} (expected one of: {})",
            self.given, self.expected
        )
    }
}

impl std::error::Error for UnknownKind {}

impl FromStr for EntityKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "person" | "per" => EntityKind::Person,
            "location" | "loc" | "place" => EntityKind::Location,
            "organization" | "organisation" | "org" => EntityKind::Organization,
            "group" | "norp" => EntityKind::Group,
            "date" => EntityKind::Date,
            "money" => EntityKind::Money,
            "percent" => EntityKind::Percent,
            _ => {
                return Err(UnknownKind {
                    given: s.to_string(),
                    expected: "person, location, organization, group, date, money, percent",
                });
            }
        })
    }
}

/// One mention of an entity in an article's cleaned body.
///
/// `start` and `end` are 0-based, end-exclusive offsets into the body counted in Unicode
/// scalar values (chars), so that `body.chars().skip(start).take(end - start)` is `text`,
/// and in SQLite `substr(body, start + 1, end - start)` is `text`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// What sort of entity it is.
    pub kind: EntityKind,
    /// The text as it appears in the body.
    pub text: String,
    /// The canonical name: the full name for a later short mention ("Raisi" → "Ibrahim
    /// Raisi"), ISO 8601 for a resolvable date.
    pub name: String,
    /// Start offset in chars, inclusive.
    pub start: usize,
    /// End offset in chars, exclusive.
    pub end: usize,
}

/// How a source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A Blogger blog, read through its feed (`/feeds/posts/default`).
    Blogger,
    /// An RSS, Atom or JSON Feed.
    Feed,
    /// A sitemap (index or urlset).
    Sitemap,
    /// One page.
    Page,
}

impl SourceKind {
    /// The lowercase name used in config, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Blogger => "blogger",
            SourceKind::Feed => "feed",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Page => "page",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blogger" => Ok(SourceKind::Blogger),
            "feed" => Ok(SourceKind::Feed),
            "sitemap" => Ok(SourceKind::Sitemap),
            "page" => Ok(SourceKind::Page),
            _ => Err(UnknownKind {
                given: s.to_string(),
                expected: "blogger, feed, sitemap, page",
            }),
        }
    }
}

/// The role of a block of text in an article body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// A paragraph of running text.
    Paragraph,
    /// A heading inside the article.
    Heading,
    /// One item of a list.
    ListItem,
    /// A block quotation.
    Quote,
    /// Preformatted text (code); whitespace inside it is kept.
    Preformatted,
}

/// One block of an article body as the scraper found it, before cleaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    /// Paragraph, heading, list item, …
    pub kind: BlockKind,
    /// The block's text, as in the page (entities decoded, whitespace not yet normalised).
    pub text: String,
}

impl TextBlock {
    /// A paragraph block.
    pub fn paragraph(text: impl Into<String>) -> Self {
        TextBlock {
            kind: BlockKind::Paragraph,
            text: text.into(),
        }
    }
}

/// Which extractor produced a [`ScrapedArticle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extractor {
    /// Blogger's classic layouts (Simple, Minima, Watermark, …).
    BloggerClassic,
    /// Blogger's current layouts (Contempo, Soho, Emporio, Notable, Essential).
    BloggerCurrent,
    /// A Blogger feed entry (Atom, RSS or JSON).
    BloggerFeed,
    /// Any other page: metadata from JSON-LD / OpenGraph / meta, body by content scoring.
    Generic,
}

/// What the scraper read out of one page (or one feed entry), before cleaning and tagging.
///
/// Times keep the offset the page gave; [`Article`] stores them in UTC.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScrapedArticle {
    /// The address the page was fetched from (after redirects).
    pub url: String,
    /// The canonical address, when the page or the URL rules give one.
    pub canonical_url: Option<String>,
    /// The post title as the page gives it (may still carry the blog name).
    pub title: Option<String>,
    /// The site or blog name, when known (used to clean titles).
    pub site_name: Option<String>,
    /// The author's display name.
    pub author: Option<String>,
    /// When the post was first published, with the page's offset.
    pub published_at: Option<DateTime<FixedOffset>>,
    /// When the post was last updated, with the page's offset.
    pub updated_at: Option<DateTime<FixedOffset>>,
    /// The post's labels (tags, categories), in page order, without duplicates.
    pub labels: Vec<String>,
    /// Number of comments; `None` when unknown (which is not zero).
    pub comments_count: Option<u32>,
    /// Blogger's post id, when this is a Blogger post.
    pub blogger_post_id: Option<String>,
    /// Blogger's blog id, when this is a Blogger page.
    pub blog_id: Option<String>,
    /// The page's declared language (`<html lang>`, locale), if any.
    pub language_hint: Option<String>,
    /// The body, block by block.
    pub blocks: Vec<TextBlock>,
    /// Which extractor produced this, `None` only for a default value.
    pub extractor: Option<Extractor>,
}

/// A stored (or storable) article: the JSON shape of `gleaner show --format json`.
///
/// Times are UTC and print as RFC 3339 with a `Z`. `body` is the cleaned text, paragraphs
/// separated by a blank line; every [`Entity`] offset points into it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Article {
    /// Database row id; `None` for an article not (yet) stored, such as `gleaner extract` output.
    pub id: Option<i64>,
    /// The address the article was read from.
    pub url: String,
    /// The canonical address (for Blogger: no `?m=1`, `.blogspot.com` host).
    pub canonical_url: Option<String>,
    /// The configured source it came from (its URL), if any.
    pub source: Option<String>,
    /// Blogger's post id, when known.
    pub blogger_post_id: Option<String>,
    /// The cleaned title.
    pub title: String,
    /// The author's name.
    pub author: Option<String>,
    /// First publication time, UTC.
    #[serde(with = "rfc3339_opt")]
    pub published_at: Option<DateTime<Utc>>,
    /// Last update time as the page gives it, UTC.
    #[serde(with = "rfc3339_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    /// When gleaner fetched it, UTC.
    #[serde(with = "rfc3339_opt")]
    pub fetched_at: Option<DateTime<Utc>>,
    /// ISO 639-1 code of the body's language, when it could be told.
    pub language: Option<String>,
    /// The post's labels.
    pub labels: Vec<String>,
    /// Number of comments; `null` when unknown.
    pub comments_count: Option<u32>,
    /// Words in the body.
    pub word_count: u32,
    /// Hex digest of the normalised title and body, for change detection.
    pub content_hash: String,
    /// The cleaned body.
    pub body: String,
    /// Entity mentions, in body order.
    pub entities: Vec<Entity>,
}

impl Article {
    /// The article's fields in the order of its JSON shape (and of `gleaner export` CSV columns).
    pub const FIELDS: [&'static str; 17] = [
        "id",
        "url",
        "canonical_url",
        "source",
        "blogger_post_id",
        "title",
        "author",
        "published_at",
        "updated_at",
        "fetched_at",
        "language",
        "labels",
        "comments_count",
        "word_count",
        "content_hash",
        "body",
        "entities",
    ];
}

/// Serialise `Option<DateTime<Utc>>` as RFC 3339 with whole seconds and a `Z`.
pub mod rfc3339_opt {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialise as `"2022-01-20T08:30:00Z"` or `null`.
    pub fn serialize<S: Serializer>(
        value: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => s.serialize_none(),
        }
    }

    /// Accept any RFC 3339 time (any offset) or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        match raw {
            None => Ok(None),
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Slice `text` by char offsets `[start, end)`; `None` when out of range.
///
/// This is how entity offsets are meant to be read.
pub fn char_slice(text: &str, start: usize, end: usize) -> Option<&str> {
    if start > end {
        return None;
    }
    let mut indices = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()));
    let b_start = indices.nth(start)?;
    let b_end = if end == start {
        b_start
    } else {
        indices.nth(end - start - 1)?
    };
    text.get(b_start..b_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn entity_kind_round_trips_through_its_name() {
        for kind in EntityKind::ALL {
            assert_eq!(kind.as_str().parse::<EntityKind>().unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
        }
        assert!("people".parse::<EntityKind>().is_err());
    }

    #[test]
    fn source_kind_parses_config_names() {
        assert_eq!(
            "Blogger".parse::<SourceKind>().unwrap(),
            SourceKind::Blogger
        );
        let err = "rss".parse::<SourceKind>().unwrap_err();
        assert!(err.to_string().contains("blogger, feed, sitemap, page"));
    }

    #[test]
    fn article_json_has_the_documented_shape() {
        let article = Article {
            url: "http://example.blogspot.com/2022/01/a.html".into(),
            title: "A".into(),
            published_at: Some(Utc.with_ymd_and_hms(2022, 1, 20, 8, 30, 0).unwrap()),
            body: "Putin spoke.".into(),
            entities: vec![Entity {
                kind: EntityKind::Person,
                text: "Putin".into(),
                name: "Vladimir Putin".into(),
                start: 0,
                end: 5,
            }],
            ..Article::default()
        };
        let v: serde_json::Value = serde_json::to_value(&article).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = Article::FIELDS.to_vec();
        keys.sort_unstable();
        fields.sort_unstable();
        assert_eq!(keys, fields, "the documented fields");
        // And in the documented order in the text.
        let text = serde_json::to_string(&article).unwrap();
        let positions: Vec<usize> = Article::FIELDS
            .iter()
            .map(|f| text.find(&format!("\"{f}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(v["published_at"], "2022-01-20T08:30:00Z");
        assert_eq!(v["updated_at"], serde_json::Value::Null);
        assert_eq!(v["entities"][0]["kind"], "person");
        let back: Article = serde_json::from_value(v).unwrap();
        assert_eq!(back, article);
    }

    #[test]
    fn char_slice_counts_chars_not_bytes() {
        let body = "Raisi’s trip to Moscow";
        assert_eq!(char_slice(body, 0, 5), Some("Raisi"));
        assert_eq!(char_slice(body, 16, 22), Some("Moscow"));
        assert_eq!(char_slice(body, 22, 22), Some(""));
        assert_eq!(char_slice(body, 16, 23), None);
        assert_eq!(char_slice(body, 5, 4), None);
    }
}
