//! Entity tagging for gleaner: people, places, organisations, groups, dates, money and
//! percentages in a cleaned article body, each with character offsets and a canonical name.
//!
//! ```
//! use gleaner_tag::Tagger;
//! use gleaner_model::{EntityKind, char_slice};
//!
//! let tagger = Tagger::new();
//! let body = "Sergey Lavrov met Raisi in Moscow on Thursday. Lavrov’s aides said $5 billion.";
//! let date = chrono::NaiveDate::from_ymd_opt(2022, 1, 20);
//! let entities = tagger.tag(body, date);
//! let lavrov = entities.iter().filter(|e| e.kind == EntityKind::Person && e.text == "Lavrov").next().unwrap();
//! assert_eq!(lavrov.name, "Sergey Lavrov");
//! for e in &entities {
//!     assert_eq!(char_slice(body, e.start, e.end), Some(e.text.as_str()));
//! }
//! ```
//!
//! How it works, in stages:
//!
//! 1. **Tokenise** ([`tokenize()`]) with char and byte offsets, and split sentences.
//! 2. **Label names** sentence by sentence. A trained sequence model ([`model`], an averaged
//!    structured perceptron with Viterbi decoding over BIO labels, weights in `model/names.bin`
//!    compiled in) finds the names and their kinds from the words, their shapes, affixes and
//!    context, from what the rule labeler ([`names::RuleLabeler`]) and the built-in gazetteers
//!    in `data/` say about them, and from how the rest of the document writes the same word
//!    (capitalised mid-sentence, in lowercase, cued or listed as a person, place or
//!    organisation) — as features, not decisions. The rules still decide where they know
//!    better: listed names keep the list's kind and canonical name, cued places and events
//!    ("Gulf of Mexico"; events, awards and storms such as "World Cup" or "Hurricane Katrina",
//!    which are [`NameKind::Other`]: MISC in CoNLL output, not stored as entities) replace the
//!    model's, names inside hyphenated words ("pro-Russia") are theirs, and a one-word name that
//!    no list or cue backs is only a guess. Outside English the
//!    rules work alone and keep listed and cued names only (German capitalises every noun).
//!    The rules themselves read capitalised runs, gazetteers (countries, cities, regions,
//!    demonyms and groups, organisations, well-known people, given names, titles), head words,
//!    person titles and cue words, and document-level evidence.
//! 3. **Find dates, money and percentages** by rules ([`numeric`], which documents every form
//!    and the policy for bare years), resolving dates against the publication date.
//! 4. **Resolve** within the article: a short mention takes the full name ("Raisi" → "Ibrahim
//!    Raisi", "Mr. Lavrov" → "Sergey Lavrov") and is a person, a guessed kind takes the kind the
//!    same name got from a surer rule elsewhere, a name takes the kind most of its mentions got,
//!    a guess nothing in the article backs is dropped, places and groups take their canonical
//!    spelling ("U.S." → "United States", "Iranians" → "Iranian").
//!
//! [`Tagger::tag_document`] (the CoNLL path: the sentences of one `-DOCSTART-` document) gives
//! the model's labels as they are, except that listed organisations stay organisations, a name
//! takes the type most of its mentions in the document got, punctuation at a name's edges and a
//! lone common abbreviation ("CEO") are not names, names split around a particle ("al -
//! Qaeda", "Osama bin Laden") are joined, and a name in the elliptical possessive ("at
//! Luigi 's", "Nando 's .") is a place, its "'s" included. A one-word organisation that is a
//! GeoNames town is that place in prose (not in results tables, sports or business reports).
//! The sender named in an e-mail header (`" Doe , Jane " < jane@… >`) is a person. In text that writes capitals, a
//! person or organisation the model finds in lowercase that no list knows is not a name. [`Tagger::tag_tokens`] is the same for one sentence
//! alone. What the model was trained on, how to
//! train it again and what it scores are in `model/README.md`.
//!
//! Titles are never part of a mention ("President Bashar al-Assad" gives "Bashar al-Assad") and
//! neither is a possessive ("Raisi’s" gives "Raisi").
//!
//! Bounded on any input: [`Tagger::tag`] reads at most [`MAX_TAGGED_BYTES`] and
//! [`MAX_TAGGED_TOKENS`] of a body, the
//! model reads at most [`MAX_SENTENCE_TOKENS`] tokens as one sentence, no name is longer than
//! 16 tokens, and every stage is linear in its input.
//!
//! Not for: cleaning text (`gleaner-clean` does that first: the offsets index into the cleaned
//! body, exactly as given), relation extraction, or anything with I/O. Tagging is pure and
//! deterministic, needs nothing at run time outside the binary, and never panics.

pub mod gazetteer;
pub mod model;
pub mod names;
pub mod numeric;
pub mod tokenize;

// Keyed by the article's own words (a hostile page chooses them): a seeded hasher, so that no
// crafted set of words can collide on purpose.
use foldhash::{HashMap, HashSet};

use chrono::NaiveDate;
use gleaner_model::{Entity, EntityKind};

use crate::gazetteer::{Gazetteers, WordInfo, fold_token, starts_upper};
use crate::model::NameModel;
use crate::names::{Confidence, DocContext, NameLabeler, NameSpan, RuleLabeler};
pub use crate::tokenize::{Token, tokenize};

/// The image of the built-in word lists' word table, made by `build.rs` (see [`gazetteer`]).
const WORD_TABLE_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/word_table.bin"));

/// The kinds of name the labeler finds (the named subset of [`EntityKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameKind {
    /// A person.
    Person,
    /// A place.
    Location,
    /// An organisation.
    Organization,
    /// A nationality, religious or political group.
    Group,
    /// Another named thing: an event, a competition, an award, a war, a treaty ("World Cup",
    /// "Nobel Prize"). CoNLL calls it MISC; gleaner does not store it as an entity.
    Other,
}

impl NameKind {
    /// The entity kind this is; `None` for [`NameKind::Other`].
    pub fn entity_kind(self) -> Option<EntityKind> {
        match self {
            NameKind::Person => Some(EntityKind::Person),
            NameKind::Location => Some(EntityKind::Location),
            NameKind::Organization => Some(EntityKind::Organization),
            NameKind::Group => Some(EntityKind::Group),
            NameKind::Other => None,
        }
    }

    /// The CoNLL-2003 type: PER, LOC, ORG, MISC.
    pub fn conll_type(self) -> &'static str {
        match self {
            NameKind::Person => "PER",
            NameKind::Location => "LOC",
            NameKind::Organization => "ORG",
            NameKind::Group | NameKind::Other => "MISC",
        }
    }
}

/// The tagger, with its built-in resources loaded.
#[derive(Debug)]
pub struct Tagger {
    gaz: Gazetteers,
    model: NameModel,
    policy: MergePolicy,
    token_policy: MergePolicy,
}

/// How the model's names and the rules' names are merged.
#[derive(Debug, Clone, Copy)]
struct MergePolicy {
    /// A listed name the model found with exactly the same tokens keeps the list's kind.
    listed_kind: bool,
    /// The same, only for listed organisations ("Kremlin", which CoNLL calls a place).
    listed_org_kind: bool,
    /// Names inside hyphenated words replace the model's.
    hyphen_parts: bool,
    /// Rule names at least this sure replace the model's names they overlap.
    rules_win: Option<Confidence>,
    /// Cued rule names of places and of kind [`NameKind::Other`] ("Gulf of Mexico"; events,
    /// awards, storms: "World Cup", "Hurricane Katrina") replace the model's names they overlap.
    events_win: bool,
    /// Cued rule names of kind [`NameKind::Other`] alone (events, awards, storms: "Hurricane
    /// Katrina") replace the model's names they overlap, outside headlines.
    other_events_win: bool,
    /// Listed names the model missed are added.
    fill_listed: bool,
    /// A name the model found with a smaller margin over `O` (on its weakest token) is only a
    /// guess: the article must back it (see [`Tagger::resolve`]).
    sure_margin: f32,
    /// A one-word name the model found and no list or cue backs is only a guess.
    lone_words_need_backing: bool,
    /// ... unless its margin over `O` is at least this (issue 13: chosen by 4-fold
    /// cross-validation on the GUM interviews, see `model/README.md`).
    lone_word_sure_margin: f32,
}

impl MergePolicy {
    /// For articles ([`Tagger::tag`]): the lists' kinds and names and the rules' cued places and
    /// events (storms, "Gulf of Mexico") win, the model finds the rest (people and organisations
    /// cued by a title or a head word too: on GUM's interviews the model does better there).
    const ARTICLE: MergePolicy = MergePolicy {
        listed_kind: true,
        listed_org_kind: true,
        hyphen_parts: true,
        rules_win: Some(Confidence::Listed),
        events_win: true,
        other_events_win: true,
        fill_listed: true,
        sure_margin: 0.0,
        lone_words_need_backing: true,
        lone_word_sure_margin: 80.0,
    };
    /// For CoNLL output ([`Tagger::tag_document`], [`Tagger::tag_tokens`]): the model's names
    /// and kinds (tuned on eng.testa), except that listed organisations stay organisations.
    const TOKENS: MergePolicy = MergePolicy {
        listed_kind: false,
        listed_org_kind: true,
        hyphen_parts: false,
        rules_win: None,
        events_win: false,
        other_events_win: true,
        fill_listed: false,
        sure_margin: f32::NEG_INFINITY,
        lone_words_need_backing: false,
        lone_word_sure_margin: f32::INFINITY,
    };
}

impl Default for Tagger {
    fn default() -> Self {
        Tagger::new()
    }
}

/// The most tokens the name model reads as one sentence: a longer "sentence" (a list or a
/// table without a period, odd input) is read in pieces of this many tokens, so that the
/// model's memory stays small. (CoNLL-2003's longest sentence has 124 tokens.)
pub const MAX_SENTENCE_TOKENS: usize = 256;

/// The most text [`Tagger::tag`] reads, in bytes (1 MiB: about 170,000 words, far more than
/// any article). Text beyond it (cut at the last white space before it) is not tagged, neither
/// names nor numbers, so that memory stays bounded whatever the input; see
/// [`Tagger::tagged_len`].
pub const MAX_TAGGED_BYTES: usize = 1 << 20;

/// The most tokens [`Tagger::tag`] reads (words and punctuation). Natural text reaches
/// [`MAX_TAGGED_BYTES`] first (1 MiB of prose is about 200,000 tokens); text made almost
/// only of punctuation and one-letter words (a hostile page of character references) holds
/// three times as many tokens a byte, and this bound keeps its tagging as cheap as prose's.
pub const MAX_TAGGED_TOKENS: usize = 250_000;

/// Split tokens into sentences at their `sentence_start` marks, and a sentence longer than
/// [`MAX_SENTENCE_TOKENS`] into pieces.
fn sentences<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut begin = 0;
    for (k, t) in tokens.iter().enumerate() {
        if (t.sentence_start || k >= begin + MAX_SENTENCE_TOKENS) && k > begin {
            out.extend(tokens.get(begin..k));
            begin = k;
        }
    }
    if begin < tokens.len() {
        out.extend(tokens.get(begin..));
    }
    out
}

/// A name span with its sentence's tokens resolved to text.
struct Mention<'a> {
    span: NameSpan,
    /// The mention's words (folded), for matching short and full names.
    words: Vec<String>,
    text: &'a str,
}

impl Tagger {
    /// The tagger with gleaner's built-in model and gazetteers.
    pub fn new() -> Self {
        Tagger {
            gaz: Gazetteers::builtin(),
            model: NameModel::builtin(),
            policy: MergePolicy::ARTICLE,
            token_policy: MergePolicy::TOKENS,
        }
    }

    /// The tagger with the built-in gazetteers and another name model (an empty one tags
    /// names by rules alone). For training and evaluation.
    pub fn with_model(model: NameModel) -> Self {
        Tagger {
            gaz: Gazetteers::builtin(),
            model,
            policy: MergePolicy::ARTICLE,
            token_policy: MergePolicy::TOKENS,
        }
    }

    /// The name model's features for one tokenised sentence, exactly as [`Tagger::tag_tokens`]
    /// computes them (for training the model).
    pub fn token_features(&self, tokens: &[&str]) -> Vec<Vec<u32>> {
        let toks = tokenize::tokens_from_words(tokens);
        let sents = sentences(&toks);
        let mut doc = DocContext::build(&sents, &self.gaz);
        let rules = self.rules_and_context(&[toks.as_slice()], None, &mut doc);
        let rules = rules.first().map_or(&[][..], Vec::as_slice);
        model::sequence_features_with_rules(&toks, &self.gaz, rules, &doc)
    }

    /// The name model's features for each sentence of a tokenised document (CoNLL sentences
    /// between two `-DOCSTART-` lines), exactly as [`Tagger::tag_document`] computes them.
    pub fn document_features(&self, sentences: &[&[&str]]) -> Vec<model::SequenceFeatures> {
        let (toks, doc, rules) = self.read_document(sentences);
        toks.iter()
            .zip(&rules)
            .map(|(t, r)| model::sequence_features_with_rules(t, &self.gaz, r, &doc))
            .collect()
    }

    /// The rule labeler's names in each sequence, and the document context told which kinds
    /// they give each word (evidence for the same word elsewhere in the document).
    /// `known`, when known: [`names::is_headline`] of each sequence (each one sentence) and
    /// what the word lists say about its tokens.
    fn rules_and_context(
        &self,
        seqs: &[&[Token<'_>]],
        known: Option<(&[bool], &[Vec<WordInfo>])>,
        doc: &mut DocContext,
    ) -> Vec<Vec<NameSpan>> {
        let rules: Vec<Vec<NameSpan>> = seqs
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let known = known.and_then(|(h, w)| {
                    Some(model::Known {
                        headline: h.get(k).copied()?,
                        words: w.get(k)?,
                    })
                });
                model::rule_spans_known(t, &self.gaz, doc, known)
            })
            .collect();
        for (t, r) in seqs.iter().zip(&rules) {
            doc.note_rules(t, r);
        }
        rules
    }

    /// What the whole document says about its words, from all its (CoNLL) sentences.
    /// A tokenised document's sentences, its document context and the rules' spans per
    /// sentence: what `tag_document` and `document_features` both start from.
    #[allow(clippy::type_complexity)]
    fn read_document<'a>(
        &self,
        sentences: &[&'a [&'a str]],
    ) -> (Vec<Vec<Token<'a>>>, DocContext, Vec<Vec<NameSpan>>) {
        let (toks, doc, rules, _) = self.read_document_known(sentences);
        (toks, doc, rules)
    }

    /// [`Tagger::read_document`] with what it learnt of each sentence on the way: whether it
    /// is a headline and what the word lists say about its tokens.
    #[allow(clippy::type_complexity)]
    fn read_document_known<'a>(
        &self,
        sentences: &[&'a [&'a str]],
    ) -> (
        Vec<Vec<Token<'a>>>,
        DocContext,
        Vec<Vec<NameSpan>>,
        (Vec<bool>, Vec<Vec<WordInfo>>),
    ) {
        let toks: Vec<Vec<Token<'a>>> = sentences
            .iter()
            .map(|s| tokenize::tokens_from_words(s))
            .collect();
        let mut doc = self.document_context(&toks);
        let seqs: Vec<&[Token<'_>]> = toks.iter().map(Vec::as_slice).collect();
        // A CoNLL sentence with a sentence start inside (a "." token mid-line) is labelled
        // by the rules sentence by sentence, told nothing (see `rule_spans_known`).
        let words: Vec<Vec<WordInfo>> = seqs
            .iter()
            .map(|t| names::known_words(t, &self.gaz))
            .collect();
        let headlines: Vec<bool> = seqs
            .iter()
            .zip(&words)
            .map(|(t, w)| names::is_headline_known(t, w))
            .collect();
        let rules = self.rules_and_context(&seqs, Some((&headlines, &words)), &mut doc);
        (toks, doc, rules, (headlines, words))
    }

    fn document_context(&self, toks: &[Vec<Token<'_>>]) -> DocContext {
        let sents: Vec<&[Token<'_>]> = toks.iter().flat_map(|t| sentences(t)).collect();
        DocContext::build(&sents, &self.gaz)
    }

    /// The name model's features for each sentence of a text, exactly as [`Tagger::tag`]
    /// computes them, with each token's char offsets (for training the model on text with
    /// character-offset gold, such as GUM).
    pub fn text_features(&self, text: &str) -> Vec<(model::SequenceFeatures, Vec<(usize, usize)>)> {
        let tokens = tokenize(text);
        let sents = sentences(&tokens);
        let mut doc = DocContext::build(&sents, &self.gaz);
        let rules = self.rules_and_context(&sents, None, &mut doc);
        sents
            .iter()
            .zip(&rules)
            .map(|(s, r)| {
                (
                    model::sequence_features_with_rules(s, &self.gaz, r, &doc),
                    s.iter().map(|t| (t.start, t.end)).collect(),
                )
            })
            .collect()
    }

    /// Names in a sequence of tokens (a sentence): the model's spans, with what the rules know
    /// about them, merged with the rules' surer names (see [`MergePolicy`]). `words`: the
    /// document's words the model has met so far (kept from one sentence to the next).
    #[allow(clippy::too_many_arguments)]
    fn label_sequence<'t, 's>(
        &'s self,
        toks: &[Token<'t>],
        known: &[WordInfo],
        doc: &DocContext,
        rules: Vec<NameSpan>,
        policy: MergePolicy,
        headline: bool,
        words: &mut model::WordRows<'t, 's>,
    ) -> Vec<NameSpan> {
        if self.model.is_empty() || !doc.guesses_allowed {
            return rules;
        }
        let (labels, margins) = self
            .model
            .decode_sequence(toks, &self.gaz, known, &rules, doc, headline, words);
        // The rules' whole-token names, sorted by first token (they never overlap), and which
        // tokens a cued or listed one covers (prefix counts): looked up per model name without
        // a scan of all the rules (a sentence can be very long).
        let mut whole: Vec<&NameSpan> = rules.iter().filter(|r| r.whole_tokens).collect();
        whole.sort_by_key(|r| r.first);
        let mut cued = vec![false; toks.len()];
        for r in whole.iter().filter(|r| r.confidence >= Confidence::Rule) {
            for slot in cued.iter_mut().take(r.last).skip(r.first) {
                *slot = true;
            }
        }
        // `cued_before[j]`: how many of the first `j` tokens a cued or listed rule name covers.
        let mut cued_before = Vec::with_capacity(toks.len() + 1);
        cued_before.push(0u32);
        for &c in &cued {
            let last = cued_before.last().copied().unwrap_or(0);
            cued_before.push(last + u32::from(c));
        }
        let mut spans: Vec<NameSpan> = Vec::new();
        let mut k = 0;
        while k < labels.len() {
            let Some(kind) = labels.get(k).and_then(|&l| model::label_kind(l)) else {
                k += 1;
                continue;
            };
            let mut first = k;
            k += 1;
            while labels.get(k).is_some_and(|&l| l > 0 && l % 2 == 0) {
                k += 1;
            }
            let next = k;
            // Punctuation at either end is not part of the name ("Pepsi !" in a review title);
            // brackets are ("Mladost ( BJ )").
            let wordless = |t: &Token<'_>| {
                !t.text
                    .chars()
                    .any(|c| c.is_alphanumeric() || "()[]".contains(c))
            };
            while first < k && toks.get(k - 1).is_some_and(wordless) {
                k -= 1;
            }
            while first < k && toks.get(first).is_some_and(wordless) {
                first += 1;
            }
            let (Some(a), Some(b)) = (toks.get(first), toks.get(k.wrapping_sub(1))) else {
                k = next;
                continue;
            };
            // A lone common abbreviation ("CEO", "DVD") is not a name.
            let abbreviation = k == first + 1
                && toks
                    .get(first)
                    .is_some_and(|t| self.gaz.is_abbreviation(t.text));
            // In text that writes capitals, a person or organisation written all in lowercase
            // that no list knows is a common word ("omg", "nachos"), unless a given name
            // says otherwise ("lisa").
            let lowercase_guess = matches!(kind, NameKind::Person | NameKind::Organization)
                && doc.writes_capitals()
                && toks.get(first..k).is_some_and(|ts| {
                    let words: Vec<&str> = ts.iter().map(|t| t.text).collect();
                    ts.iter().all(|t| !t.text.chars().any(char::is_uppercase))
                        && self.gaz.lookup_any_case(&words).is_none()
                        && !(kind == NameKind::Person
                            && ts.iter().any(|t| self.gaz.is_given_name(t.text)))
                });
            // An e-mail address or a file name is not a name; nor is a currency after an
            // amount ("20 Pounds").
            let not_a_name = k == first + 1
                && toks.get(first).is_some_and(|t| {
                    let amount = first
                        .checked_sub(1)
                        .and_then(|p| toks.get(p))
                        .is_some_and(|p| p.text.starts_with(|c: char| c.is_ascii_digit()));
                    is_address_or_file(t.text) || (amount && is_currency_word(t.text))
                });
            // A "name" longer than any name is a run of capitals (a list, a shouted line, odd
            // input), not a name; the cap keeps resolution linear too.
            let too_long = k > first + MAX_NAME_TOKENS;
            if first >= k || abbreviation || lowercase_guess || not_a_name || too_long {
                k = next;
                continue;
            }
            let exact = whole
                .get(whole.partition_point(|r| r.first < first))
                .copied()
                .filter(|r| r.first == first && r.last == k);
            let words: Vec<&str> = toks
                .get(first..k)
                .unwrap_or(&[])
                .iter()
                .map(|t| t.text)
                .collect();
            let listed = self.gaz.lookup(&words);
            let mut kind = kind;
            if kind == NameKind::Other
                && (exact.is_some_and(|r| r.kind == NameKind::Group)
                    || listed.is_some_and(|e| e.kind == NameKind::Group))
            {
                kind = NameKind::Group;
            }
            if let Some(r) = exact.filter(|r| {
                r.confidence == Confidence::Listed
                    && (policy.listed_kind
                        || policy.listed_org_kind && r.kind == NameKind::Organization)
            }) {
                kind = r.kind;
            }
            let canonical = exact
                .filter(|r| r.kind == kind)
                .and_then(|r| r.canonical.clone())
                .or_else(|| {
                    listed
                        .filter(|e| e.kind == kind)
                        .map(|e| e.canonical.clone())
                });
            let margin = margins
                .get(first..k)
                .unwrap_or(&[])
                .iter()
                .fold(f32::INFINITY, |m, &x| m.min(x));
            let floor = if margin < policy.sure_margin {
                Confidence::Guess
            } else {
                Confidence::Rule
            };
            // A lone word that no list or cue backs is a guess too.
            let cued = cued_before.get(k).copied().unwrap_or(0)
                > cued_before.get(first).copied().unwrap_or(0);
            let floor = if policy.lone_words_need_backing
                && k == first + 1
                && !cued
                && margin < policy.lone_word_sure_margin
            {
                Confidence::Guess
            } else {
                floor
            };
            let confidence = exact
                .filter(|r| r.kind == kind)
                .map_or(floor, |r| r.confidence.max(floor));
            spans.push(NameSpan {
                first,
                last: k,
                start: a.start,
                end: b.end,
                byte_start: a.byte_start,
                byte_end: b.byte_end,
                kind,
                canonical,
                confidence,
                whole_tokens: true,
            });
            k = next;
        }
        // Surer rule names replace the model's names they overlap; names inside hyphenated
        // words ("pro-Russia") are the rules' alone; listed names fill gaps.
        let wins = |r: &NameSpan| {
            (!r.whole_tokens && policy.hyphen_parts)
                || (r.whole_tokens && policy.rules_win.is_some_and(|c| r.confidence >= c))
                || (r.whole_tokens
                    && policy.events_win
                    && matches!(r.kind, NameKind::Other | NameKind::Location)
                    && r.confidence >= Confidence::Rule)
                || (r.whole_tokens
                    && policy.other_events_win
                    && !headline
                    && r.kind == NameKind::Other
                    && r.confidence >= Confidence::Rule)
        };
        // The model's names and the rules' names each never overlap among themselves: sorted
        // by position, the names of one set that overlap a name are found by binary search.
        spans.sort_by_key(|s| (s.byte_start, s.byte_end));
        // A cued or listed place the model split into places ("Gulf" and "Aden" of "Gulf of
        // Aden") is one place.
        let split_place = |r: &NameSpan| {
            let inside = spans.get(overlapping(&spans, r)).unwrap_or(&[]);
            r.whole_tokens
                && r.kind == NameKind::Location
                && r.confidence >= Confidence::Rule
                && inside.len() >= 2
                && inside
                    .iter()
                    .all(|s| s.kind == NameKind::Location && r.first <= s.first && s.last <= r.last)
        };
        let mut joined: Vec<NameSpan> = rules.iter().filter(|r| split_place(r)).cloned().collect();
        joined.sort_by_key(|s| (s.byte_start, s.byte_end));
        spans.retain(|s| overlapping(&joined, s).is_empty());
        spans.extend(joined);
        spans.sort_by_key(|s| (s.byte_start, s.byte_end));
        let mut winners: Vec<&NameSpan> = rules.iter().filter(|r| wins(r)).collect();
        winners.sort_by_key(|s| (s.byte_start, s.byte_end));
        spans.retain(|s| overlapping(&winners, s).is_empty());
        // (The rules added here never overlap each other, so only the names kept so far count.)
        let mut added = Vec::new();
        for r in rules {
            let free = overlapping(&spans, &r).is_empty();
            if free && (wins(&r) || (policy.fill_listed && r.confidence == Confidence::Listed)) {
                added.push(r);
            }
        }
        spans.extend(added);
        spans.sort_by_key(|s| (s.byte_start, s.byte_end));
        spans
    }

    /// The country or place a group belongs to ("Iranian" → "Iran"), from the built-in list.
    pub fn group_country(&self, group: &str) -> Option<&str> {
        self.gaz.demonym_country(group)
    }

    /// How many bytes at the start of `body` [`Tagger::tag`] reads: all of it up to
    /// [`MAX_TAGGED_BYTES`]; of a longer body, the text before the last white space at or
    /// before that mark (or before the mark itself, on a char boundary, when the last 1 KiB
    /// holds no white space); and of that, only its first [`MAX_TAGGED_TOKENS`] tokens.
    pub fn tagged_len(body: &str) -> usize {
        let bytes = Self::tagged_bytes(body);
        // A token is at least one byte: a shorter text cannot hold too many.
        if bytes <= MAX_TAGGED_TOKENS {
            return bytes;
        }
        let head = body.get(..bytes).unwrap_or("");
        tokenize(head)
            .get(MAX_TAGGED_TOKENS)
            .map_or(bytes, |first_left_out| first_left_out.byte_start)
    }

    /// [`Tagger::tagged_len`] by the byte bound alone.
    fn tagged_bytes(body: &str) -> usize {
        if body.len() <= MAX_TAGGED_BYTES {
            return body.len();
        }
        let mut cut = MAX_TAGGED_BYTES;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let head = body.get(..cut).unwrap_or("");
        let window = head.len().saturating_sub(1024);
        head.get(window..)
            .and_then(|tail| tail.rfind(char::is_whitespace))
            .map_or(cut, |at| window + at)
    }

    /// Tag a cleaned body. `reference` (the publication date) resolves relative dates.
    /// Offsets are in chars into `body`. Never panics. Only the first [`MAX_TAGGED_BYTES`] and
    /// [`MAX_TAGGED_TOKENS`] are read ([`Tagger::tagged_len`]), so that time and memory stay
    /// bounded.
    pub fn tag(&self, body: &str, reference: Option<NaiveDate>) -> Vec<Entity> {
        self.tag_in_language(body, reference, None)
    }

    /// [`Tagger::tag`] for a body whose language is already known (`Some("en")`, ISO 639-1, as
    /// `gleaner-clean` sets it), so that the tagger does not detect it again: names guessed
    /// from capitals alone are allowed only in English text. `None` detects it from the body.
    pub fn tag_in_language(
        &self,
        body: &str,
        reference: Option<NaiveDate>,
        language: Option<&str>,
    ) -> Vec<Entity> {
        let mut body = body.get(..Self::tagged_bytes(body)).unwrap_or(body);
        let mut tokens = tokenize(body);
        // The token bound, as `tagged_len` computes it (the same tokens of the same text).
        if let Some(first_left_out) = tokens.get(MAX_TAGGED_TOKENS) {
            body = body.get(..first_left_out.byte_start).unwrap_or(body);
            tokens.truncate(MAX_TAGGED_TOKENS);
        }
        let sents = sentences(&tokens);
        // Whether each sentence is a headline: asked once, for the document context, the
        // rules, the model's features and the merge.
        // And what the word lists say about each token: asked once, for the same.
        let known: Vec<Vec<WordInfo>> = sents
            .iter()
            .map(|s| names::known_words(s, &self.gaz))
            .collect();
        let headlines: Vec<bool> = sents
            .iter()
            .zip(&known)
            .map(|(s, k)| names::is_headline_known(s, k))
            .collect();
        let mut doc = DocContext::build_known(&sents, &headlines);
        doc.guesses_allowed = match language {
            Some(code) => code.eq_ignore_ascii_case("en"),
            None => is_english_or_unknown(body),
        };
        let rules = self.rules_and_context(&sents, Some((&headlines, &known)), &mut doc);
        let mut mentions: Vec<Mention<'_>> = Vec::new();
        let mut words = model::WordRows::for_tokens(tokens.len());
        for (((sentence, rules), &headline), known) in
            sents.iter().zip(rules).zip(&headlines).zip(&known)
        {
            for span in self.label_sequence(
                sentence,
                known,
                &doc,
                rules,
                self.policy,
                headline,
                &mut words,
            ) {
                let Some(text) = body.get(span.byte_start..span.byte_end) else {
                    continue;
                };
                let words = if span.whole_tokens {
                    sentence
                        .get(span.first..span.last)
                        .unwrap_or(&[])
                        .iter()
                        .map(|t| fold_token(t.text))
                        .collect()
                } else {
                    vec![fold_token(text)]
                };
                mentions.push(Mention { span, words, text });
            }
        }
        let numeric = numeric::find(body, reference);
        let mut entities = self.resolve(&mentions);
        // Numbers win over names where they overlap (they never should). `numeric` is sorted
        // and non-overlapping: the first one ending after a name's start is the only candidate.
        entities.retain(|(b0, b1, _)| {
            let next = numeric.partition_point(|n| n.byte_end <= *b0);
            numeric.get(next).is_none_or(|n| n.byte_start >= *b1)
        });
        let mut offsets = CharOffsets::new(body);
        // Sized exactly: the list lives on in the writer's batch (up to a thousand articles),
        // where a collect reusing the wider tuples' buffer and a doubling push for the
        // numbers left it holding about twice the room it uses.
        let mut out: Vec<Entity> = Vec::with_capacity(entities.len() + numeric.len());
        out.extend(entities.into_iter().map(|(_, _, e)| e));
        for n in numeric {
            let Some(text) = body.get(n.byte_start..n.byte_end) else {
                continue;
            };
            out.push(Entity {
                kind: n.kind,
                text: text.to_string(),
                name: n.name,
                start: offsets.char_at(n.byte_start),
                end: offsets.char_at(n.byte_end),
            });
        }
        out.sort_by_key(|e| (e.start, e.end));
        out
    }

    /// Kinds harmonised and canonical names chosen across the article.
    fn resolve(&self, mentions: &[Mention<'_>]) -> Vec<(usize, usize, Entity)> {
        // The surest kind each name (folded words) got anywhere in the article.
        let mut best_kind: HashMap<&[String], (Confidence, NameKind)> = HashMap::default();
        for m in mentions {
            let slot = best_kind
                .entry(&m.words)
                .or_insert((m.span.confidence, m.span.kind));
            if m.span.confidence > slot.0 {
                *slot = (m.span.confidence, m.span.kind);
            }
        }
        // Full names of people (two words or more), indexed by each proper suffix of their words
        // ("raisi" → "Ibrahim Raisi") and by their first word; the longest name wins, then the
        // first seen.
        let mut by_suffix: HashMap<&[String], &Mention<'_>> = HashMap::default();
        let mut by_first: HashMap<&str, &Mention<'_>> = HashMap::default();
        let longer = |new: &Mention<'_>, old: &Mention<'_>| {
            new.text.chars().count() > old.text.chars().count()
        };
        for f in mentions
            .iter()
            .filter(|m| m.span.kind == NameKind::Person && m.words.len() >= 2)
        {
            // (Never more than MAX_NAME_TOKENS words: hashing every suffix of a long run would
            // be quadratic.)
            for k in f.words.len().saturating_sub(MAX_NAME_TOKENS).max(1)..f.words.len() {
                if let Some(suffix) = f.words.get(k..) {
                    let slot = by_suffix.entry(suffix).or_insert(f);
                    if longer(f, slot) {
                        *slot = f;
                    }
                }
            }
            if let Some(first) = f.words.first() {
                let slot = by_first.entry(first.as_str()).or_insert(f);
                if longer(f, slot) {
                    *slot = f;
                }
            }
        }
        // The kind most mentions of the same words got (a listed mention counts three times):
        // one name, one kind across the article ("Santorum" a person in every sentence).
        let mut votes: HashMap<&[String], [u32; 5]> = HashMap::default();
        for m in mentions {
            let weight = if m.span.confidence == Confidence::Listed {
                3
            } else {
                1
            };
            if let Some(v) = votes
                .entry(&m.words)
                .or_insert([0; 5])
                .get_mut(kind_slot(m.span.kind))
            {
                *v += weight;
            }
        }
        let mut out = Vec::with_capacity(mentions.len());
        for m in mentions {
            let mut kind = m.span.kind;
            let surer = best_kind.get(m.words.as_slice()).filter(|&&(conf, _)| {
                m.span.confidence == Confidence::Guess && conf > Confidence::Guess
            });
            if let Some(&(_, k)) = surer {
                kind = k;
            } else if m.span.confidence < Confidence::Listed
                && let Some(v) = votes.get(m.words.as_slice())
            {
                let mine = v.get(kind_slot(kind)).copied().unwrap_or(0);
                if let Some((slot, &most)) = v.iter().enumerate().max_by_key(|&(k, n)| (*n, 5 - k))
                    && most > mine
                {
                    kind = KIND_SLOTS.get(slot).copied().unwrap_or(kind);
                }
            }
            if kind == NameKind::Other {
                continue;
            }
            // "Raisi" in "Ibrahim Raisi"; a given name alone ("Ibrahim") also points to the full name.
            let by_surname = by_suffix.get(m.words.as_slice()).copied();
            let by_given = match m.words.as_slice() {
                [only] if self.gaz.is_given_name(m.text) => by_first.get(only.as_str()).copied(),
                _ => None,
            };
            let full = by_surname.or(by_given);
            if by_surname.is_some()
                && kind != NameKind::Person
                && m.span.confidence < Confidence::Listed
            {
                kind = NameKind::Person;
            }
            // A lone capitalised word guessed to be a person, with nothing in the article to back
            // it (no full name ending in it, no surer mention): too often a team, a firm, a product.
            if is_unbacked_guess(&m.span, m.words.len()) && surer.is_none() && full.is_none() {
                continue;
            }
            let Some(entity_kind) = kind.entity_kind() else {
                continue;
            };
            let name = match kind {
                NameKind::Person => match full {
                    Some(f) => canonical_text(f.span.canonical.as_deref().unwrap_or(f.text)),
                    None => canonical_text(m.span.canonical.as_deref().unwrap_or(m.text)),
                },
                _ => canonical_text(m.span.canonical.as_deref().unwrap_or(m.text)),
            };
            out.push((
                m.span.byte_start,
                m.span.byte_end,
                Entity {
                    kind: entity_kind,
                    text: m.text.to_string(),
                    name,
                    start: m.span.start,
                    end: m.span.end,
                },
            ));
        }
        out
    }

    /// Tag the tokenised sentences of one document (the CoNLL sentences between two
    /// `-DOCSTART-` lines); returns one IOB2 tag per token of each sentence. Better than
    /// [`Tagger::tag_tokens`] sentence by sentence: the model sees how the document writes each
    /// word elsewhere (capitalised mid-sentence, in lowercase) and what cues and lists say about
    /// it there; a surname alone is the person named in full elsewhere; a capitalised word found
    /// as a one-word name is a name wherever else it stands alone; and a name takes the type most
    /// of its mentions in the document got. Groups are `MISC`; dates, money and percentages `O`;
    /// an empty sentence gets no tags. `gleaner tag --conll` should call this once per document.
    pub fn tag_document(&self, sentences: &[&[&str]]) -> Vec<Vec<String>> {
        if self.model.is_empty() {
            return sentences.iter().map(|s| self.tag_tokens(s)).collect();
        }
        let (toks, doc, rules, (headlines, known)) = self.read_document_known(sentences);
        let mut seen = model::WordRows::for_tokens(toks.iter().map(|t| t.len()).sum());
        let mut spans: Vec<Vec<NameSpan>> = toks
            .iter()
            .zip(sentences)
            .zip(rules)
            .zip(headlines.iter().zip(&known))
            .map(|(((t, words), rules), (&headline, known))| {
                let mut spans = self.label_sequence(
                    t,
                    known,
                    &doc,
                    rules,
                    self.token_policy,
                    headline,
                    &mut seen,
                );
                spans.retain(|s| {
                    s.whole_tokens && words.get(s.first..s.last) != Some(&["-DOCSTART-"])
                });
                spans
            })
            .collect();
        // One name, one type across the document: the type most of its mentions got (ties
        // keep each mention's own).
        let key = |words: &[&str], s: &NameSpan| -> Vec<String> {
            words
                .get(s.first..s.last)
                .unwrap_or(&[])
                .iter()
                .map(|w| fold_token(w))
                .collect()
        };
        // A one-word organisation that is a GeoNames city or town and in no list of
        // organisations is that place ("a Springfield in Ohio"), in prose: not in a document
        // with tables (results, standings: two rows or more), where clubs bear their towns'
        // names, nor in a sentence with a number.
        let rows = sentences.iter().filter(|w| is_table_row(w)).count();
        let sport_or_business = sentences
            .iter()
            .flat_map(|w| w.iter())
            .any(|w| CLUB_OR_COMPANY_WORDS.contains(w));
        for (words, ss) in sentences.iter().zip(spans.iter_mut()) {
            let numbers = words.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()));
            if rows >= 2 || numbers || sport_or_business {
                continue;
            }
            for s in ss
                .iter_mut()
                .filter(|s| s.last == s.first + 1 && s.kind == NameKind::Organization)
            {
                let Some(w) = words.get(s.first..s.last) else {
                    continue;
                };
                if self.gaz.longest_geo(w) == Some(1) && self.gaz.lookup(w).is_none() {
                    s.kind = NameKind::Location;
                }
            }
        }
        // A town followed by its state or country, without a comma, is two places ("Austin
        // Texas"): a name whose last word is a listed place and whose other words are a
        // GeoNames town. (Only `first`, `last` and `kind` of the spans count from here on.)
        for (words, ss) in sentences.iter().zip(spans.iter_mut()) {
            let mut split = Vec::new();
            for s in ss.iter_mut().filter(|s| {
                s.last >= s.first + 2
                    && matches!(s.kind, NameKind::Location | NameKind::Organization)
            }) {
                let (Some(town), Some(region)) = (
                    words.get(s.first..s.last - 1),
                    words.get(s.last - 1..s.last),
                ) else {
                    continue;
                };
                let place = |w: &[&str]| {
                    self.gaz
                        .lookup(w)
                        .is_some_and(|e| e.kind == NameKind::Location)
                };
                let is_town = self.gaz.longest_geo(town) == Some(town.len());
                if is_town && place(region) && self.gaz.lookup(&words[s.first..s.last]).is_none() {
                    let mut second = s.clone();
                    second.first = s.last - 1;
                    second.kind = NameKind::Location;
                    s.last -= 1;
                    s.kind = NameKind::Location;
                    split.push(second);
                }
            }
            ss.extend(split);
            ss.sort_by_key(|s| s.first);
        }
        // A one-word name that is the surname of a person named in full elsewhere in the
        // document is that person ("Lenhart" after "Matthew Lenhart").
        let surnames: HashSet<String> = sentences
            .iter()
            .zip(&spans)
            .flat_map(|(words, ss)| {
                ss.iter()
                    .filter(|s| s.kind == NameKind::Person && s.last >= s.first + 2)
                    .filter_map(|s| words.get(s.last - 1).map(|w| fold_token(w)))
            })
            .collect();
        for (words, ss) in sentences.iter().zip(spans.iter_mut()) {
            for s in ss.iter_mut().filter(|s| s.last == s.first + 1) {
                if words
                    .get(s.first)
                    .is_some_and(|w| surnames.contains(&fold_token(w)))
                {
                    s.kind = NameKind::Person;
                }
            }
        }
        // A capitalised word found as a one-word name somewhere is that name everywhere in the
        // document where nothing else covers it.
        let mut found: HashMap<&str, NameKind> = HashMap::default();
        for (words, ss) in sentences.iter().zip(&spans) {
            for s in ss.iter().filter(|s| s.last == s.first + 1) {
                if let Some(w) = words.get(s.first).filter(|w| starts_upper(w)) {
                    found.entry(w).or_insert(s.kind);
                }
            }
        }
        for ((words, ss), t) in sentences.iter().zip(spans.iter_mut()).zip(&toks) {
            // Which words a span already covers (one pass, not a scan of the spans per word:
            // a sentence can be very long).
            let mut covered = vec![false; words.len()];
            for s in ss.iter() {
                for c in covered.iter_mut().take(s.last).skip(s.first) {
                    *c = true;
                }
            }
            for (k, w) in words.iter().enumerate() {
                let Some(&kind) = found.get(w) else { continue };
                if covered.get(k).copied().unwrap_or(true) {
                    continue;
                }
                let Some(tok) = t.get(k) else { continue };
                ss.push(NameSpan {
                    first: k,
                    last: k + 1,
                    start: tok.start,
                    end: tok.end,
                    byte_start: tok.byte_start,
                    byte_end: tok.byte_end,
                    kind,
                    canonical: None,
                    confidence: Confidence::Guess,
                    whole_tokens: true,
                });
            }
            ss.sort_by_key(|s| s.first);
        }
        let mut votes: HashMap<Vec<String>, [u32; 5]> = HashMap::default();
        for (words, ss) in sentences.iter().zip(&spans) {
            for s in ss {
                if let Some(v) = votes
                    .entry(key(words, s))
                    .or_insert([0; 5])
                    .get_mut(kind_slot(s.kind))
                {
                    *v += 1;
                }
            }
        }
        sentences
            .iter()
            .zip(&spans)
            .map(|(words, ss)| {
                let mut tags = vec!["O".to_string(); words.len()];
                for s in ss {
                    let mut kind = s.kind;
                    if let Some(v) = votes.get(&key(words, s)) {
                        let mine = v.get(kind_slot(kind)).copied().unwrap_or(0);
                        if let Some((slot, &most)) =
                            v.iter().enumerate().max_by_key(|&(k, n)| (*n, 5 - k))
                            && most > mine
                        {
                            kind = KIND_SLOTS.get(slot).copied().unwrap_or(kind);
                        }
                    }
                    let ty = kind.conll_type();
                    for k in s.first..s.last {
                        if let Some(tag) = tags.get_mut(k) {
                            *tag = format!("{}-{ty}", if k == s.first { "B" } else { "I" });
                        }
                    }
                }
                join_particles(words, &mut tags);
                elliptical_possessives(words, &mut tags);
                email_senders(words, &mut tags);
                tags
            })
            .collect()
    }

    /// Tag one tokenised sentence; returns one IOB2 tag per token (`O`, `B-PER`, `I-LOC`, …).
    /// Groups are `MISC`; dates, money and percentages are `O`. A sentence of a longer document
    /// is better tagged with the rest of it by [`Tagger::tag_document`].
    pub fn tag_tokens(&self, tokens: &[&str]) -> Vec<String> {
        if !self.model.is_empty() {
            return self.tag_document(&[tokens]).pop().unwrap_or_default();
        }
        let mut tags = vec!["O".to_string(); tokens.len()];
        let toks = tokenize::tokens_from_words(tokens);
        let sents = sentences(&toks);
        let doc = DocContext::build(&sents, &self.gaz);
        let labeler = RuleLabeler::new(&self.gaz);
        let mut offset = 0;
        for sentence in &sents {
            for span in labeler.label(sentence, &doc) {
                // Without an article around it, a lone acronym is kept (usually an organisation
                // in news), a lone capitalised word is not.
                let lone_person_guess = span.kind == NameKind::Person
                    && is_unbacked_guess(&span, span.last - span.first);
                if !span.whole_tokens || lone_person_guess {
                    continue;
                }
                let ty = span.kind.conll_type();
                for k in span.first..span.last {
                    if let Some(tag) = tags.get_mut(offset + k) {
                        *tag = format!("{}-{ty}", if k == span.first { "B" } else { "I" });
                    }
                }
            }
            offset += sentence.len();
        }
        tags
    }
}

/// Lowercase particles inside Arabic names, which some tokenisers split from the name at the
/// hyphen ("al - Qaeda", "Muqtada al - Sadr").
const HYPHEN_PARTICLES: [&str; 9] = ["al", "el", "ad", "ar", "as", "ash", "at", "az", "an"];
/// Lowercase particles between a given name and a surname ("Osama bin Laden", "Ludwig van
/// Beethoven").
const NAME_PARTICLES: [&str; 14] = [
    "bin", "ibn", "bint", "al", "el", "van", "von", "der", "de", "da", "di", "du", "dos", "del",
];

/// A name split around a particle is one name: "al - Qaeda", "Muqtada al - Sadr" (the name after
/// the hyphen takes the particle, and the name before it if of the same type), and "Osama bin
/// Laden" (two parts of a person's name around a particle).
fn join_particles(words: &[&str], tags: &mut [String]) {
    let ty_of = |t: &str| t.get(2..).map(str::to_string);
    for i in 0..words.len() {
        let word = words.get(i).map(|w| w.to_lowercase()).unwrap_or_default();
        let prev = i
            .checked_sub(1)
            .and_then(|p| tags.get(p))
            .filter(|t| t.as_str() != "O")
            .and_then(|t| ty_of(t));
        if HYPHEN_PARTICLES.contains(&word.as_str())
            && words.get(i + 1) == Some(&"-")
            && tags.get(i).is_some_and(|t| t == "O")
            && tags.get(i + 1).is_some_and(|t| t == "O")
            && let Some(ty) = tags
                .get(i + 2)
                .filter(|t| t.starts_with("B-"))
                .and_then(|t| ty_of(t))
        {
            let joined = prev.as_deref() == Some(ty.as_str());
            for (k, slot) in tags.iter_mut().enumerate().skip(i).take(3) {
                let b = k == i && !joined;
                *slot = format!("{}-{ty}", if b { "B" } else { "I" });
            }
        } else if NAME_PARTICLES.contains(&word.as_str())
            && prev.as_deref() == Some("PER")
            && tags.get(i).is_some_and(|t| t == "O")
            && tags.get(i + 1).is_some_and(|t| t == "B-PER")
        {
            for slot in tags.iter_mut().skip(i).take(2) {
                *slot = "I-PER".to_string();
            }
        }
    }
}

/// The sender's name in an e-mail header is a person, written "Last , First" between quotes
/// (`" Doe , Jane " < jane.doe@example.com >`) or before the address (`Jane Doe < jane@… >`).
fn email_senders(words: &[&str], tags: &mut [String]) {
    let capitalised = |j: usize| words.get(j).is_some_and(|w| starts_upper(w));
    let address_at =
        |j: usize| words.get(j) == Some(&"<") && words.get(j + 1).is_some_and(|w| w.contains('@'));
    let mut set = |first: usize, last: usize| {
        for (j, slot) in tags.iter_mut().enumerate().take(last).skip(first) {
            *slot = if j == first { "B-PER" } else { "I-PER" }.to_string();
        }
    };
    for i in 0..words.len() {
        let quoted_last_first = words.get(i) == Some(&"\"")
            && capitalised(i + 1)
            && words.get(i + 2) == Some(&",")
            && capitalised(i + 3)
            && words.get(i + 4) == Some(&"\"")
            && (address_at(i + 5) || i + 5 == words.len());
        if quoted_last_first {
            set(i + 1, i + 4);
        }
        // Two or three capitalised words right before the address, from the line's start or
        // after a colon or a quote.
        if address_at(i) {
            for len in [3, 2] {
                let Some(first) = i.checked_sub(len) else {
                    continue;
                };
                let starts_line = first == 0
                    || first
                        .checked_sub(1)
                        .and_then(|p| words.get(p))
                        .is_some_and(|w| matches!(*w, ":" | "\""));
                if starts_line && (first..i).all(capitalised) {
                    set(first, i);
                    break;
                }
            }
        }
    }
}

/// A name in the elliptical possessive is a shop, a restaurant or a practice, and the
/// possessive is part of its name: "Nando 's ,", "at Luigi 's". A person's or an
/// organisation's name followed by "'s" and then by the end of a sentence or clause (". , ! ?
/// ; :"), or after "at", is a place with its "'s".
fn elliptical_possessives(words: &[&str], tags: &mut [String]) {
    let mut k = 0;
    while k < tags.len() {
        let starts = tags.get(k).is_some_and(|t| t == "B-PER" || t == "B-ORG");
        if !starts {
            k += 1;
            continue;
        }
        let first = k;
        k += 1;
        while tags.get(k).is_some_and(|t| t.starts_with("I-")) {
            k += 1;
        }
        let possessive = words
            .get(k)
            .is_some_and(|w| matches!(*w, "'s" | "\u{2019}s" | "s"))
            && tags.get(k).is_some_and(|t| t == "O");
        if !possessive {
            continue;
        }
        let ends = words
            .get(k + 1)
            .is_none_or(|w| matches!(*w, "." | "," | "!" | "?" | ";" | ":" | "..."));
        let after_place_word = first
            .checked_sub(1)
            .and_then(|p| words.get(p))
            .is_some_and(|w| w.eq_ignore_ascii_case("at"));
        if ends || after_place_word {
            for (j, slot) in tags.iter_mut().enumerate().take(k + 1).skip(first) {
                *slot = if j == first { "B-LOC" } else { "I-LOC" }.to_string();
            }
            k += 1;
        }
    }
}

/// Words of sports and business reports, where clubs and companies bear their towns' names
/// ("Essex captain", "Magna shares").
const CLUB_OR_COMPANY_WORDS: [&str; 30] = [
    "league",
    "match",
    "matches",
    "season",
    "innings",
    "club",
    "cup",
    "championship",
    "coach",
    "scored",
    "goal",
    "goals",
    "game",
    "games",
    "team",
    "teams",
    "beat",
    "victory",
    "defeat",
    "won",
    "lost",
    "played",
    "player",
    "players",
    "shares",
    "company",
    "stake",
    "profit",
    "earnings",
    "analysts",
];

/// Is a sentence a row of a table ("Barnsley 3 Wolves 1", "1. Nottingham 5 3 1 1 7 5 10")?
/// It holds a number and at most one lowercase word.
fn is_table_row(words: &[&str]) -> bool {
    let numbers = words
        .iter()
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .count();
    let lowercase = words
        .iter()
        .filter(|w| w.chars().count() >= 2 && w.chars().all(char::is_lowercase))
        .count();
    numbers >= 1 && lowercase <= 1
}

/// An e-mail address ("a.b@example.com") or a file name ("notes.htm", "report.pdf").
fn is_address_or_file(word: &str) -> bool {
    const EXTENSIONS: [&str; 12] = [
        "htm", "html", "pdf", "doc", "docx", "txt", "xls", "xlsx", "ppt", "jpg", "gif", "zip",
    ];
    word.contains('@')
        || word.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty() && EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
        })
}

/// A currency's name, as written after an amount.
fn is_currency_word(word: &str) -> bool {
    const CURRENCIES: [&str; 16] = [
        "euro", "euros", "dollar", "dollars", "pound", "pounds", "yen", "yuan", "rupee", "rupees",
        "peso", "pesos", "franc", "francs", "rouble", "roubles",
    ];
    CURRENCIES.contains(&word.to_lowercase().as_str())
}

/// The kinds in the order of [`kind_slot`].
const KIND_SLOTS: [NameKind; 5] = [
    NameKind::Person,
    NameKind::Location,
    NameKind::Organization,
    NameKind::Group,
    NameKind::Other,
];

fn kind_slot(kind: NameKind) -> usize {
    match kind {
        NameKind::Person => 0,
        NameKind::Location => 1,
        NameKind::Organization => 2,
        NameKind::Group => 3,
        NameKind::Other => 4,
    }
}

/// The longest name, in tokens: a longer run the model labels a name is not one, and no
/// resolution step ever looks at more words of a name.
const MAX_NAME_TOKENS: usize = 16;

/// The names of `sorted` (by byte offset, never overlapping each other) that overlap `x`, as
/// an index range.
fn overlapping<S: std::borrow::Borrow<NameSpan>>(
    sorted: &[S],
    x: &NameSpan,
) -> std::ops::Range<usize> {
    let lo = sorted.partition_point(|s| s.borrow().byte_end <= x.byte_start);
    let len = sorted.get(lo..).map_or(0, |rest| {
        rest.partition_point(|s| s.borrow().byte_start < x.byte_end)
    });
    lo..lo + len
}

/// A single word guessed from its capitals alone ("Surrey" a person, "HDL" an organisation).
fn is_unbacked_guess(span: &NameSpan, words: usize) -> bool {
    matches!(span.kind, NameKind::Person | NameKind::Organization)
        && span.confidence == Confidence::Guess
        && words == 1
}

/// Is `body` English, or too short or mixed to tell? (Detected on its first 4,000 bytes.)
fn is_english_or_unknown(body: &str) -> bool {
    let mut cut = body.len().min(4000);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let sample = body.get(..cut).unwrap_or(body);
    if sample.chars().count() < 150 {
        return true;
    }
    whatlang::detect(sample)
        .is_none_or(|info| !info.is_reliable() || info.lang() == whatlang::Lang::Eng)
}

/// One space between words.
fn canonical_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Byte offset → char offset, for one text, for offsets asked in increasing order (it walks
/// the text once, holding nothing per char).
struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    char: usize,
}

impl<'a> CharOffsets<'a> {
    fn new(text: &'a str) -> Self {
        CharOffsets {
            text,
            byte: 0,
            char: 0,
        }
    }

    /// The char index of a byte offset (the next char boundary if inside a char); an offset
    /// before the last one asked counts from the start again.
    fn char_at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.char = 0;
        }
        let mut target = byte.min(self.text.len());
        while !self.text.is_char_boundary(target) {
            target += 1;
        }
        let skipped = self.text.get(self.byte..target).unwrap_or("");
        self.char += skipped.chars().count();
        self.byte = target;
        self.char
    }
}

#[cfg(test)]
mod tests;
