//! Text cleaning. (API skeleton; the implementation lands with the foundation issue.)

use gleaner_model::ScrapedArticle;

/// The cleaned text of an article.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanedArticle {
    /// The title without the blog name.
    pub title: String,
    /// The body: normalised paragraphs separated by one blank line, boilerplate removed.
    pub body: String,
    /// ISO 639-1 code, when the text is long enough to tell.
    pub language: Option<String>,
    /// Words in the body.
    pub word_count: u32,
    /// Lowercase hex SHA-256 over the normalised title and body.
    pub content_hash: String,
}

/// Clean a scraped article. Never panics.
pub fn clean(scraped: &ScrapedArticle) -> CleanedArticle {
    let body = scraped.blocks.iter().map(|b| b.text.trim()).collect::<Vec<_>>().join("\n\n");
    CleanedArticle { title: scraped.title.clone().unwrap_or_default(), body, ..Default::default() }
}
