//! Entity tagging. (API skeleton; the implementation lands with the foundation issue.)

use chrono::NaiveDate;
use gleaner_model::Entity;

/// The tagger, with its built-in resources loaded.
#[derive(Debug, Default)]
pub struct Tagger {}

impl Tagger {
    /// The tagger with gleaner's built-in model and gazetteers.
    pub fn new() -> Self {
        Tagger {}
    }

    /// Tag a cleaned body. `reference` (the publication date) resolves relative dates.
    /// Offsets are in chars into `body`. Never panics.
    pub fn tag(&self, body: &str, reference: Option<NaiveDate>) -> Vec<Entity> {
        let _ = (body, reference);
        Vec::new()
    }

    /// Tag one tokenised sentence; returns one IOB2 tag per token (`O`, `B-PER`, `I-LOC`, …).
    pub fn tag_tokens(&self, tokens: &[&str]) -> Vec<String> {
        vec!["O".to_string(); tokens.len()]
    }
}
