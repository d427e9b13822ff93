//! Finding names (people, places, organisations, groups) in tokenised sentences.
//!
//! The [`NameLabeler`] trait is the seam between tokenisation and resolution: given one
//! sentence of [`Token`]s and what is known about the whole document, a labeler returns
//! [`NameSpan`]s. [`RuleLabeler`] does it with gazetteers, capitalisation and cue words. The
//! trained sequence model ([`crate::model`]) takes the rule labeler's output as features, and
//! the [`crate::Tagger`] merges the two (see the crate documentation).

use foldhash::HashMap;

use crate::NameKind;
use crate::gazetteer::{Gazetteers, TitleRole, WordInfo, fold_cow, fold_with, starts_upper};
use crate::tokenize::Token;
use unicode_normalization::char::is_combining_mark;

/// How sure the labeler is about a span's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Capitalisation alone: a name, of a guessed kind.
    Guess,
    /// A cue (a title, a given name, an organisation word) set the kind.
    Rule,
    /// The name is in a built-in list.
    Listed,
}

/// One name found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameSpan {
    /// First token (index into the sentence).
    pub first: usize,
    /// One past the last token.
    pub last: usize,
    /// Start offset in chars into the text.
    pub start: usize,
    /// End offset in chars into the text.
    pub end: usize,
    /// Start offset in bytes.
    pub byte_start: usize,
    /// End offset in bytes.
    pub byte_end: usize,
    /// What it is.
    pub kind: NameKind,
    /// The canonical name the labeler knows for it (from a list), if any.
    pub canonical: Option<String>,
    /// How sure the labeler is.
    pub confidence: Confidence,
    /// The span covers whole tokens (false for "Russia" inside "pro-Russia").
    pub whole_tokens: bool,
}

/// What is known about the whole document while labelling one sentence.
#[derive(Debug, Default)]
pub struct DocContext {
    /// Each word (folded) the document holds evidence about, and that evidence in bits:
    /// [`SEEN_LOWER`], [`SEEN_CAP_MID`] and, shifted by [`KINDS_SHIFT`], the kinds of
    /// [`DocContext::note_rules`]. One map, so that one lookup answers all three questions.
    /// (Keyed by the document's own words, which a hostile page chooses: a seeded hasher, so
    /// that no crafted set of words can collide on purpose.)
    words: WordBits,
    /// Some word other than "i" is [`SEEN_CAP_MID`] (see [`DocContext::writes_capitals`]).
    writes_capitals: bool,
    /// May names be guessed from capitals alone? Only in English: the guessing rules read
    /// English capitalisation (German capitalises every noun), so other languages get listed
    /// and cued names only.
    pub guesses_allowed: bool,
}

/// The longest word kept inline in a [`WordBits`] slot, in bytes (longer ones go to a map).
const INLINE_WORD: usize = 16;

/// One slot of [`WordBits`]: a word of at most [`INLINE_WORD`] bytes, zero-padded into two
/// integers, its length plus one (0: the slot is free) and its evidence bits.
#[derive(Debug, Clone, Copy, Default)]
struct WordSlot {
    lo: u64,
    hi: u64,
    len: u8,
    bits: u8,
}

/// The evidence bits of each word of a document ([`DocContext`]): an open-addressing table
/// whose short keys (most words) live in the slots, so that keeping a word allocates nothing
/// and finding it compares two integers; longer words go to a map. Hashed with a seeded
/// hasher: the words are the document's own, which a hostile page chooses, and no crafted set
/// of them can collide on purpose. (At most half the slots are taken: a probe ends.)
#[derive(Debug, Default)]
struct WordBits {
    slots: Vec<WordSlot>,
    used: usize,
    long: HashMap<String, u8>,
    hasher: foldhash::fast::RandomState,
}

impl WordBits {
    /// The word zero-padded into two integers and its length plus one; `None` when it is
    /// too long to be kept inline.
    fn pack(word: &str) -> Option<(u64, u64, u8)> {
        let bytes = word.as_bytes();
        let mut buf = [0u8; INLINE_WORD];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        let (lo, hi) = buf.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().ok()?);
        let hi = u64::from_le_bytes(hi.try_into().ok()?);
        Some((lo, hi, bytes.len() as u8 + 1))
    }

    /// Where the packed word is, or the free slot where it would go (`None`: no slots yet).
    fn find(&self, lo: u64, hi: u64, len: u8) -> Option<usize> {
        use std::hash::{BuildHasher, Hasher};
        let mask = self.slots.len().checked_sub(1)?;
        let mut h = self.hasher.build_hasher();
        h.write_u64(lo);
        h.write_u64(hi ^ u64::from(len) << 56);
        let mut at = (h.finish() as usize) & mask;
        // (Never more probes than slots: at least half of them are free.)
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(at)?;
            if slot.len == 0 || (slot.len == len && slot.lo == lo && slot.hi == hi) {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The bits of a word (0 for none).
    fn get(&self, word: &str) -> u8 {
        match Self::pack(word) {
            Some((lo, hi, len)) => self
                .find(lo, hi, len)
                .and_then(|at| self.slots.get(at))
                .filter(|s| s.len == len)
                .map_or(0, |s| s.bits),
            None => self.long.get(word).copied().unwrap_or(0),
        }
    }

    /// Add `bits` to the word's.
    fn add(&mut self, word: &str, bits: u8) {
        let Some((lo, hi, len)) = Self::pack(word) else {
            match self.long.get_mut(word) {
                Some(b) => *b |= bits,
                None => {
                    self.long.insert(word.to_owned(), bits);
                }
            }
            return;
        };
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let Some(slot) = self.find(lo, hi, len).and_then(|at| self.slots.get_mut(at)) else {
            return;
        };
        if slot.len == 0 {
            *slot = WordSlot { lo, hi, len, bits };
            self.used += 1;
        } else {
            slot.bits |= bits;
        }
    }

    /// Twice the slots (at least 256), every word put again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(256);
        let old = std::mem::replace(&mut self.slots, vec![WordSlot::default(); size]);
        for s in old.into_iter().filter(|s| s.len != 0) {
            if let Some(slot) = self
                .find(s.lo, s.hi, s.len)
                .and_then(|at| self.slots.get_mut(at))
            {
                *slot = s;
            }
        }
    }
}

/// A word seen in lowercase: a common word, so a capitalised run holding one is a title or
/// a thing ("Tax Code", "Virtual Microscope") more often than a person.
const SEEN_LOWER: u8 = 1;
/// A word seen capitalised where capitals mean something (mid-sentence, not a headline):
/// evidence that the same word at the start of a sentence is a name.
const SEEN_CAP_MID: u8 = 2;
/// Where the kinds the rule labeler gave a word anywhere in the document, when a cue or a
/// list backed it, start (bits: 1 person, 2 place, 4 organisation, 8 other or group).
const KINDS_SHIFT: u8 = 2;

/// `f` of a word folded ([`crate::gazetteer::fold_token`]): on the stack for a short ASCII
/// word (no allocation for the capitalised words the rules ask about), else [`fold_cow`].
fn with_folded_word<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    const STACK: usize = 32;
    if word.is_ascii() && word.len() <= STACK {
        let mut buf = [0u8; STACK];
        if let Some(out) = buf.get_mut(..word.len()) {
            out.copy_from_slice(word.as_bytes());
            out.make_ascii_lowercase();
            if let Ok(folded) = std::str::from_utf8(out) {
                return f(folded);
            }
        }
    }
    f(&fold_cow(word))
}

/// [`fold_with`], with the common case inline: an ASCII word is folded by its bytes into
/// `buf` (or is its own folded form when it holds no capital), without a call.
#[inline]
fn fold_fast<'a>(token: &'a str, buf: &'a mut String) -> &'a str {
    let mut upper = false;
    for &b in token.as_bytes() {
        if !b.is_ascii() {
            return fold_with(token, buf);
        }
        upper |= b.is_ascii_uppercase();
    }
    if !upper {
        return token;
    }
    buf.clear();
    buf.extend(token.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    buf.as_str()
}

/// May this word hold a hyphen ('-', U+2010 or U+2011)? Told by its bytes: '-' or the lead
/// byte 0xE2 of the other two, without decoding chars. (Most words hold none.)
#[inline]
fn may_hold_hyphen(word: &str) -> bool {
    word.bytes().any(|b| b == b'-' || b == 0xE2)
}

/// [`starts_upper`], with the common cases told inline by the first byte: an ASCII capital
/// starts upper, any other ASCII char but a lowercase letter does not, and a word starting
/// with a lowercase ASCII letter does only after a prefix ("al-", "d'", "l’"), each of which
/// holds a '-', a '\'' or the lead byte 0xE2 of '’' within its first 7 bytes.
#[inline]
fn starts_upper_fast(word: &str) -> bool {
    match word.as_bytes().first() {
        None => false,
        Some(b) if b.is_ascii_uppercase() => true,
        Some(b) if b.is_ascii_lowercase() => {
            word.bytes()
                .take(7)
                .any(|b| matches!(b, b'-' | b'\'' | 0xE2))
                && starts_upper(word)
        }
        Some(b) if b.is_ascii() => false,
        Some(_) => starts_upper(word),
    }
}

/// Does the word start with a lowercase letter?
fn starts_lowercase(word: &str) -> bool {
    match word.as_bytes().first() {
        None => false,
        Some(b) if b.is_ascii() => b.is_ascii_lowercase(),
        Some(_) => word.chars().next().is_some_and(char::is_lowercase),
    }
}

impl DocContext {
    /// Gather evidence from every sentence of the document.
    pub fn build(sentences: &[&[Token<'_>]], gaz: &Gazetteers) -> Self {
        let headlines: Vec<bool> = sentences.iter().map(|s| is_headline(s, gaz)).collect();
        Self::build_known(sentences, &headlines)
    }

    /// [`DocContext::build`] told [`is_headline`] of each sentence (asked once per sentence
    /// by the caller, who needs it again).
    pub(crate) fn build_known(sentences: &[&[Token<'_>]], headlines: &[bool]) -> Self {
        let mut words = WordBits::default();
        let mut writes_capitals = false;
        // Each word folded into one reused buffer; a copy is made only for a word not seen yet.
        // One pass over the tokens, one lookup a token that says something.
        let mut buf = String::new();
        for (k, sentence) in sentences.iter().enumerate() {
            let headline = headlines.get(k).copied().unwrap_or(false);
            for t in sentence.iter() {
                let mut bits = 0;
                if starts_lowercase(t.text) {
                    bits |= SEEN_LOWER;
                }
                if !headline && !t.sentence_start && starts_upper_fast(t.text) {
                    bits |= SEEN_CAP_MID;
                }
                if bits == 0 {
                    continue;
                }
                let folded = fold_fast(t.text, &mut buf);
                if bits & SEEN_CAP_MID != 0 && folded != "i" {
                    writes_capitals = true;
                }
                words.add(folded, bits);
            }
        }
        DocContext {
            words,
            writes_capitals,
            guesses_allowed: true,
        }
    }

    /// Does the document write capitals where they mean something (a word capitalised
    /// mid-sentence, other than "I")? In such text a name written in lowercase is rare.
    pub fn writes_capitals(&self) -> bool {
        self.writes_capitals
    }

    /// The evidence bits of a folded word (0 for none).
    fn bits_of_folded(&self, folded: &str) -> u8 {
        self.words.get(folded)
    }

    /// Was this word seen in lowercase (a common word)?
    pub fn seen_lowercase(&self, word: &str) -> bool {
        with_folded_word(word, |f| self.bits_of_folded(f) & SEEN_LOWER != 0)
    }

    /// Note the kinds the rule labeler's surer names in a sentence give their words.
    pub fn note_rules(&mut self, sentence: &[Token<'_>], rules: &[NameSpan]) {
        let mut buf = String::new();
        for r in rules
            .iter()
            .filter(|r| r.whole_tokens && r.confidence >= Confidence::Rule)
        {
            let bit: u8 = match r.kind {
                NameKind::Person => 1,
                NameKind::Location => 2,
                NameKind::Organization => 4,
                NameKind::Group | NameKind::Other => 8,
            };
            let bit = bit << KINDS_SHIFT;
            for t in sentence.get(r.first..r.last).unwrap_or(&[]) {
                let folded = fold_fast(t.text, &mut buf);
                self.words.add(folded, bit);
            }
        }
    }

    /// The kinds the rule labeler's surer names gave a (folded) word in the document (see
    /// [`DocContext::note_rules`]; 0 for none).
    pub fn kinds_of_folded(&self, folded: &str) -> u8 {
        self.bits_of_folded(folded) >> KINDS_SHIFT
    }

    /// [`DocContext::seen_lowercase`] and [`DocContext::seen_capitalised`] of a word already
    /// folded ([`crate::gazetteer::fold_token`]).
    pub fn seen_folded(&self, folded: &str) -> (bool, bool) {
        let bits = self.bits_of_folded(folded);
        (bits & SEEN_LOWER != 0, bits & SEEN_CAP_MID != 0)
    }

    /// [`DocContext::seen_folded`] and [`DocContext::kinds_of_folded`] of a folded word at
    /// once: (seen in lowercase, seen capitalised mid-sentence, kinds), one lookup.
    pub fn facts_folded(&self, folded: &str) -> (bool, bool, u8) {
        let bits = self.bits_of_folded(folded);
        (
            bits & SEEN_LOWER != 0,
            bits & SEEN_CAP_MID != 0,
            bits >> KINDS_SHIFT,
        )
    }

    /// Was this word seen capitalised mid-sentence?
    pub fn seen_capitalised(&self, word: &str) -> bool {
        with_folded_word(word, |f| self.bits_of_folded(f) & SEEN_CAP_MID != 0)
    }
}

/// Labels one sentence at a time.
pub trait NameLabeler {
    /// The names in `sentence`, in order, not overlapping.
    fn label(&self, sentence: &[Token<'_>], doc: &DocContext) -> Vec<NameSpan>;
}

/// Capitalised-word headlines ("Iran Wants Strategic Ties With Russia") and all-caps lines:
/// their capitals say nothing about names.
pub fn is_headline(sentence: &[Token<'_>], gaz: &Gazetteers) -> bool {
    is_headline_known(sentence, &known_words(sentence, gaz))
}

/// What the word lists say about each token folded ([`Gazetteers::word_of_token`]): asked
/// once a token and handed to every stage that needs it (the headline test, the rules, the
/// model's features), not once per stage.
pub(crate) fn known_words(toks: &[Token<'_>], gaz: &Gazetteers) -> Vec<WordInfo> {
    toks.iter().map(|t| gaz.word_of_token(t.text)).collect()
}

/// [`is_headline`] told what the word lists say about each token ([`known_words`]).
pub(crate) fn is_headline_known(sentence: &[Token<'_>], known: &[WordInfo]) -> bool {
    let mut words = 0;
    let mut capitalised = 0;
    for (k, t) in sentence.iter().enumerate() {
        if !t.text.chars().any(char::is_alphabetic) {
            continue;
        }
        let upper = starts_upper(t.text);
        if !upper && known.get(k).is_some_and(|w| w.stopword) {
            continue;
        }
        words += 1;
        if upper {
            capitalised += 1;
        }
    }
    words >= 4 && capitalised * 5 >= words * 4
}

#[cfg(test)]
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
#[cfg(test)]
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Month and day names are dates, not names.
fn is_calendar_word(word: &str) -> bool {
    let w = word.trim_end_matches('.');
    // Every calendar word is ASCII and at most 10 letters ("wednesdays"); text outside ASCII
    // lowercases to text outside ASCII (or to a 'k', from the Kelvin sign, which no calendar
    // word holds). So the lowercase form is made in place, without an allocation.
    let mut buf = [0u8; 10];
    if !w.is_ascii() || w.len() > buf.len() {
        return false;
    }
    let Some(slot) = buf.get_mut(..w.len()) else {
        return false;
    };
    slot.copy_from_slice(w.as_bytes());
    slot.make_ascii_lowercase();
    // ("mondays": a weekday and an 's'.) Told by a match on the bytes, which the compiler
    // makes a switch on the length, not by comparing with each word of the lists.
    slot.strip_suffix(b"s").is_some_and(is_weekday_word) || is_calendar_word_lower(slot)
}

/// Is this lowercase word one of [`WEEKDAYS`]?
fn is_weekday_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"monday" | b"tuesday" | b"wednesday" | b"thursday" | b"friday" | b"saturday" | b"sunday"
    )
}

/// Is this lowercase word one of [`MONTHS`], [`WEEKDAYS`] or a month's abbreviation?
fn is_calendar_word_lower(w: &[u8]) -> bool {
    is_weekday_word(w)
        || matches!(
            w,
            b"january"
                | b"february"
                | b"march"
                | b"april"
                | b"may"
                | b"june"
                | b"july"
                | b"august"
                | b"september"
                | b"october"
                | b"november"
                | b"december"
                | b"jan"
                | b"feb"
                | b"mar"
                | b"apr"
                | b"jun"
                | b"jul"
                | b"aug"
                | b"sep"
                | b"sept"
                | b"oct"
                | b"nov"
                | b"dec"
        )
}

/// The longest capitalised run considered as one name, in tokens.
const MAX_RUN_TOKENS: usize = 12;

/// Lowercase particles inside personal names ("Osama bin Laden", "Ursula von der Leyen").
const NAME_PARTICLES: &[&str] = &[
    "bin", "ibn", "van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le",
    "al", "el", "dos", "das",
];
/// Joiners inside organisation and place names ("Bank of England", "Bosnia and Herzegovina").
const JOINERS: &[&str] = &["of", "and", "&", "for", "the"];

/// Place words that make a capitalised name a location ("Kharg Island", "Zagros Mountains").
const PLACE_WORDS: &[&str] = &[
    "Island",
    "Islands",
    "River",
    "Mountains",
    "Mountain",
    "Mount",
    "Lake",
    "Sea",
    "Bay",
    "Valley",
    "Province",
    "County",
    "District",
    "Region",
    "Strait",
    "Peninsula",
    "Desert",
    "Street",
    "Square",
    "Avenue",
    "Road",
    "Canal",
    "Gulf",
    "Ocean",
    "Plain",
    "Plateau",
    "Heights",
    "Hills",
    "Coast",
];

/// First words of named storms, operations and the like ("Hurricane Katrina"): kind other.
const OTHER_PREFIXES: &[&str] = &[
    "Hurricane",
    "Cyclone",
    "Typhoon",
    "Storm",
    "Operation",
    "Tropical",
];

/// First words of "X of Y" place names ("Gulf of Mexico", "Isle of Man", "Bay of Bengal").
const PLACE_OF_WORDS: &[&str] = &[
    "Gulf",
    "Bay",
    "Sea",
    "Strait",
    "Straits",
    "Isle",
    "Island",
    "Islands",
    "Cape",
    "Lake",
    "Mount",
    "Gulf",
    "Sea",
    "Republic",
    "Kingdom",
    "Principality",
    "Sultanate",
    "City",
    "Province",
    "State",
    "Port",
    "Valley",
    "Plain",
    "Horn",
    "Coast",
];

/// Lowercase words that announce a place ("the southern city of Bushehr").
const PLACE_CUES: &[&str] = &[
    "city",
    "town",
    "village",
    "province",
    "region",
    "capital",
    "port",
    "district",
    "county",
    "state",
    "island",
    "enclave",
    "neighbourhood",
    "neighborhood",
    "suburb",
];

/// The rule- and gazetteer-based labeler.
#[derive(Debug, Clone, Copy)]
pub struct RuleLabeler<'g> {
    gaz: &'g Gazetteers,
}

impl<'g> RuleLabeler<'g> {
    /// A labeler over these gazetteers.
    pub fn new(gaz: &'g Gazetteers) -> Self {
        RuleLabeler { gaz }
    }

    /// Can this token be (part of) a name?
    fn is_name_token(&self, t: &Token<'_>) -> bool {
        let text = t.text;
        // Told by the first byte for most tokens: one starting with an ASCII char that is no
        // letter does not start upper ([`starts_upper`]); nor does one starting with a
        // lowercase ASCII letter unless a prefix ("al-", "d'", "l’") makes it: each such
        // prefix holds a '-', a '\'' or the lead byte 0xE2 of '’'.
        match text.as_bytes().first() {
            None => return false,
            Some(b) if b.is_ascii_lowercase() => {
                if !text.bytes().any(|b| matches!(b, b'-' | b'\'' | 0xE2)) {
                    return false;
                }
            }
            Some(b) if b.is_ascii() && !b.is_ascii_uppercase() => return false,
            Some(_) => {}
        }
        if text.is_ascii() {
            // (Most tokens.) The same tests told by the bytes, in one pass: an ASCII char is
            // alphanumeric (or alphabetic) as its byte says, and no combining mark is ASCII.
            match text.as_bytes().first() {
                Some(b) if b.is_ascii_uppercase() => {}
                Some(b) if b.is_ascii_lowercase() && starts_upper(text) => {}
                _ => return false,
            }
            let mut alphabetic = false;
            let mut apostrophe = false;
            for &b in text.as_bytes() {
                if b.is_ascii_alphabetic() {
                    alphabetic = true;
                } else if b == b'\'' {
                    apostrophe = true;
                } else if !(b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'&')) {
                    return false;
                }
            }
            return alphabetic && !(apostrophe && is_contraction(text)) && !is_calendar_word(text);
        }
        starts_upper(t.text)
            && t.text.chars().any(char::is_alphabetic)
            && !is_contraction(t.text)
            && t.text.chars().all(|c| {
                c.is_alphanumeric()
                    || matches!(c, '-' | '\'' | '’' | '.' | '&')
                    || is_combining_mark(c)
            })
            && !is_calendar_word(t.text)
    }

    /// One past the last token of the capitalised run starting at `i`.
    fn run_end(&self, toks: &[Token<'_>], i: usize) -> usize {
        let mut j = i + 1;
        while let Some(t) = toks.get(j) {
            // No name is longer; the cap keeps odd input (a megabyte of capitals) linear.
            if t.sentence_start || j >= i + MAX_RUN_TOKENS {
                break;
            }
            if self.is_name_token(t) {
                j += 1;
                continue;
            }
            let lower = lowercase_cow(t.text);
            let joiner = NAME_PARTICLES.contains(&&*lower)
                || (JOINERS.contains(&&*lower) && (lower != "the" || j > i + 1));
            let followed = toks
                .get(j + 1)
                .is_some_and(|n| self.is_name_token(n) && !n.sentence_start);
            let the_followed = lower != "the"
                && toks.get(j + 1).is_some_and(|n| n.text == "the")
                && toks
                    .get(j + 2)
                    .is_some_and(|n| self.is_name_token(n) && !n.sentence_start);
            if t.text.chars().all(char::is_lowercase) && joiner && (followed || the_followed) {
                j += 1;
                continue;
            }
            break;
        }
        // Never end on a joiner.
        while j > i + 1 && toks.get(j - 1).is_some_and(|t| !self.is_name_token(t)) {
            j -= 1;
        }
        j
    }

    /// An organisation made of the whole run: "Foreign Ministry", "Bank of England".
    fn org_run(&self, words: &[&str], known: &[WordInfo], i: usize, end: usize) -> Option<usize> {
        if end < i + 2 {
            return None;
        }
        let last = words.get(end - 1)?;
        let info_of = |k: usize| known.get(k).copied().unwrap_or_default();
        if self.is_org_word(last, info_of(end - 1)) && !self.is_title_only(known, i, end) {
            return Some(end);
        }
        let first = words.get(i)?;
        let second = words.get(i + 1)?;
        if matches!(*second, "of" | "for") && self.is_org_word(first, info_of(i)) {
            return Some(end);
        }
        None
    }

    /// Are all of `words[i..end]` titles ("Foreign Minister")? `known`: [`known_words`].
    fn is_title_only(&self, known: &[WordInfo], i: usize, end: usize) -> bool {
        known
            .get(i..end)
            .is_some_and(|ws| ws.iter().all(|w| w.title.is_some()))
    }

    /// A chain of title words at `i` ("Foreign Minister", "Mr.", "President"): one past its last
    /// head word, if the chain has one.
    fn title_chain(&self, known: &[WordInfo], i: usize, end: usize) -> Option<usize> {
        let mut j = i;
        let mut last_head = None;
        while j < end {
            match known.get(j)?.title {
                Some(TitleRole::Head) => {
                    j += 1;
                    last_head = Some(j);
                }
                Some(TitleRole::Modifier) => j += 1,
                None => break,
            }
        }
        last_head
    }

    /// One past the last token of the name starting at `i`, inside the run ending at `end`.
    fn name_end(&self, words: &[&str], known: &[WordInfo], i: usize, end: usize) -> usize {
        let mut k = i + 1;
        while k < end {
            let (Some(w), Some(&info)) = (words.get(k), known.get(k)) else {
                break;
            };
            let lower = w.to_lowercase();
            if JOINERS.contains(&lower.as_str())
                || info.stopword && starts_upper(w)
                || info.title == Some(TitleRole::Head)
            {
                break;
            }
            // (`longest_given` asks whether the first word starts with a capital, as
            // `longest` does.)
            let listed = words
                .get(k..end)
                .and_then(|rest| self.gaz.longest_given(rest, info));
            if listed.is_some_and(|(_, e)| e.kind != NameKind::Person) {
                break;
            }
            k += 1;
        }
        k
    }

    /// Places and groups inside a hyphenated word: "Iranian-Russian", "pro-Russia".
    #[inline]
    fn hyphen_parts(&self, t: &Token<'_>, index: usize) -> Vec<NameSpan> {
        if !may_hold_hyphen(t.text) {
            return Vec::new();
        }
        self.hyphen_parts_of(t, index)
    }

    /// [`RuleLabeler::hyphen_parts`] appended to `spans` (nothing made or moved for the
    /// most tokens, which hold no hyphen).
    #[inline]
    fn push_hyphen_parts(&self, t: &Token<'_>, index: usize, spans: &mut Vec<NameSpan>) {
        if may_hold_hyphen(t.text) {
            spans.extend(self.hyphen_parts_of(t, index));
        }
    }

    /// Is this word an organisation head word ([`Gazetteers::is_org_word`])? `info`: what
    /// the word lists say about it folded ([`known_words`]): an ASCII head word folds to a
    /// listed folded form, so an ASCII word whose folded form is not one is none (asked
    /// without the lookups of the head-word set).
    fn is_org_word(&self, word: &str, info: WordInfo) -> bool {
        (info.org_folded || !word.is_ascii()) && self.gaz.is_org_word(word)
    }

    /// [`RuleLabeler::is_org_word`] for the head words of events, awards…
    /// ([`Gazetteers::is_misc_word`]).
    fn is_misc_word(&self, word: &str, info: WordInfo) -> bool {
        (info.misc_folded || !word.is_ascii()) && self.gaz.is_misc_word(word)
    }

    /// [`RuleLabeler::hyphen_parts`] of a token that may hold a hyphen.
    #[inline(never)]
    fn hyphen_parts_of(&self, t: &Token<'_>, index: usize) -> Vec<NameSpan> {
        let mut out = Vec::new();
        if !t.text.contains(['-', '\u{2010}', '\u{2011}']) {
            return out;
        }
        let mut char_off = 0;
        let mut byte_off = 0;
        for part in t.text.split(['-', '\u{2010}', '\u{2011}']) {
            let len_chars = part.chars().count();
            let listed = self
                .gaz
                .lookup(&[part])
                .filter(|e| matches!(e.kind, NameKind::Location | NameKind::Group));
            if let Some(entry) = listed {
                out.push(NameSpan {
                    first: index,
                    last: index + 1,
                    start: t.start + char_off,
                    end: t.start + char_off + len_chars,
                    byte_start: t.byte_start + byte_off,
                    byte_end: t.byte_start + byte_off + part.len(),
                    kind: entry.kind,
                    canonical: Some(entry.canonical.clone()),
                    confidence: Confidence::Listed,
                    whole_tokens: false,
                });
            }
            // Every separator is one char; all three are 1 or 3 bytes.
            let sep_bytes = t
                .text
                .get(byte_off + part.len()..)
                .and_then(|r| r.chars().next())
                .map_or(0, char::len_utf8);
            char_off += len_chars + 1;
            byte_off += part.len() + sep_bytes;
        }
        out
    }

    /// Is the lowercase token a word that announces a person ("president", "counterpart")?
    /// `info`: what the word lists say about it ([`known_words`]).
    fn is_person_cue(word: &str, info: WordInfo) -> bool {
        info.title == Some(TitleRole::Head) && word.chars().all(|c| !c.is_uppercase())
    }
}

fn span(
    toks: &[Token<'_>],
    first: usize,
    last: usize,
    kind: NameKind,
    canonical: Option<String>,
    confidence: Confidence,
) -> Option<NameSpan> {
    let a = toks.get(first)?;
    let b = toks.get(last.checked_sub(1)?)?;
    Some(NameSpan {
        first,
        last,
        start: a.start,
        end: b.end,
        byte_start: a.byte_start,
        byte_end: b.byte_end,
        kind,
        canonical,
        confidence,
        whole_tokens: true,
    })
}

/// `word.to_lowercase()`, borrowed when it is lowercase already (lowercase ASCII, or text
/// outside ASCII that lowercases to itself char by char, as quotes, dashes and "’s" do; 'Σ',
/// the one char `to_lowercase` treats by its context, does not lowercase to itself).
fn lowercase_cow(word: &str) -> std::borrow::Cow<'_, str> {
    let lower = if word.is_ascii() {
        !word.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        word.chars().all(|c| {
            let mut l = c.to_lowercase();
            l.next() == Some(c) && l.next().is_none()
        })
    };
    if lower {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(word.to_lowercase())
    }
}

/// Whether a token announces a place for the name after it: a lowercase place cue
/// ([`PLACE_CUES`], "city"), or "of" after one ("the city of"); `after_cue`: whether the token
/// before did. (Every cue and "of" is ASCII, and text outside ASCII lowercases to text outside
/// ASCII except the Kelvin sign's 'k', which none holds: such a token is compared in its
/// lowercase form as it was, an ASCII one byte for byte without making that form.)
fn is_place_cue(text: &str, after_cue: bool) -> bool {
    if !text.is_ascii() {
        let lower = lowercase_cow(text);
        return PLACE_CUES.contains(&&*lower) || (after_cue && lower == "of");
    }
    // (The longest cue is 13 letters: a longer word is none, and is not "of".)
    let mut buf = [0u8; 13];
    let Some(lower) = buf.get_mut(..text.len()) else {
        return false;
    };
    lower.copy_from_slice(text.as_bytes());
    lower.make_ascii_lowercase();
    is_place_cue_word(lower) || (after_cue && &*lower == b"of")
}

/// Is this lowercase word one of [`PLACE_CUES`]? (Told by a match on the bytes, which the
/// compiler makes a switch on the length: asked of every word that is not a name.)
fn is_place_cue_word(lower: &[u8]) -> bool {
    matches!(
        lower,
        b"city"
            | b"town"
            | b"village"
            | b"province"
            | b"region"
            | b"capital"
            | b"port"
            | b"district"
            | b"county"
            | b"state"
            | b"island"
            | b"enclave"
            | b"neighbourhood"
            | b"neighborhood"
            | b"suburb"
    )
}

/// "I've", "I'm", "Don't", "We'll": never names.
fn is_contraction(word: &str) -> bool {
    // Every ending below holds an apostrophe, and lowercasing makes none.
    if !word.contains(['\'', '’']) {
        return false;
    }
    let folded = word.to_lowercase().replace('’', "'");
    ["'ve", "'m", "'ll", "'d", "'re", "n't"]
        .iter()
        .any(|s| folded.ends_with(s))
}

fn is_acronym(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    (2..=6).contains(&letters)
        && word
            .chars()
            .all(|c| c.is_uppercase() || c == '.' || c == '&')
}

impl NameLabeler for RuleLabeler<'_> {
    fn label(&self, toks: &[Token<'_>], doc: &DocContext) -> Vec<NameSpan> {
        let known = known_words(toks, self.gaz);
        self.label_known(toks, &known, doc, is_headline_known(toks, &known))
    }
}

impl RuleLabeler<'_> {
    /// [`NameLabeler::label`] told what the word lists say about each token ([`known_words`])
    /// and whether the sentence is a headline ([`is_headline`]).
    pub(crate) fn label_known(
        &self,
        toks: &[Token<'_>],
        known: &[WordInfo],
        doc: &DocContext,
        headline: bool,
    ) -> Vec<NameSpan> {
        let gaz = self.gaz;
        let words: Vec<&str> = toks.iter().map(|t| t.text).collect();
        let info_at = |k: usize| known.get(k).copied().unwrap_or_default();
        let mut spans = Vec::new();
        let mut person_cue = false;
        let mut place_cue = false;
        let mut i = 0;
        while let Some(t) = toks.get(i) {
            if !self.is_name_token(t) {
                self.push_hyphen_parts(t, i, &mut spans);
                person_cue = Self::is_person_cue(t.text, info_at(i));
                place_cue = is_place_cue(t.text, place_cue);
                i += 1;
                continue;
            }
            let info = info_at(i);
            let uncertain = headline || t.sentence_start;
            let end = self.run_end(toks, i);
            let run = words.get(i..end).unwrap_or(&[]);
            // The longest listed name starting the run (steps 1 and 4). (`longest_given` asks
            // whether the run starts with a capital, as `longest` does.)
            let listed = gaz.longest_given(run, info);
            // 1. The whole run is a listed name.
            if let Some((_, e)) = listed.filter(|&(len, _)| len == run.len()) {
                spans.extend(span(
                    toks,
                    i,
                    end,
                    e.kind,
                    Some(e.canonical.clone()),
                    Confidence::Listed,
                ));
                i = end;
                person_cue = false;
                continue;
            }
            // 2. A function word capitalised by its position.
            if info.stopword {
                i += 1;
                continue;
            }
            // 3. An organisation by its head word.
            if let Some(org_end) = self.org_run(&words, known, i, end) {
                spans.extend(span(
                    toks,
                    i,
                    org_end,
                    NameKind::Organization,
                    None,
                    Confidence::Rule,
                ));
                i = org_end;
                person_cue = false;
                continue;
            }
            // 3a. "Gulf of Mexico", "Isle of Man": a place word, "of", a name.
            if end >= i + 3 && PLACE_OF_WORDS.contains(&t.text) && words.get(i + 1) == Some(&"of") {
                spans.extend(span(
                    toks,
                    i,
                    end,
                    NameKind::Location,
                    None,
                    Confidence::Rule,
                ));
                i = end;
                person_cue = false;
                continue;
            }
            // 3b. An event, award, war… by its head word ("World Cup", "Nobel Prize"), a storm or
            //     an operation by its first ("Hurricane Katrina").
            let other_head = words
                .get(end - 1)
                .is_some_and(|w| self.is_misc_word(w, info_at(end - 1)));
            if end >= i + 2 && (other_head || OTHER_PREFIXES.contains(&t.text)) {
                spans.extend(span(toks, i, end, NameKind::Other, None, Confidence::Rule));
                i = end;
                person_cue = false;
                continue;
            }
            // 4. A listed name starting the run ("Iranian" in "Iranian President …"), unless it is a
            //    place that is also a given name followed by a surname ("Jordan Peterson").
            if let Some((len, e)) = listed {
                let given_first = len == 1
                    && e.kind == NameKind::Location
                    && info.given
                    && run.get(1).is_some_and(|w| {
                        let next = info_at(i + 1);
                        gaz.longest_given(&[w], next).is_none() && next.title.is_none()
                    });
                if !given_first {
                    spans.extend(span(
                        toks,
                        i,
                        i + len,
                        e.kind,
                        Some(e.canonical.clone()),
                        Confidence::Listed,
                    ));
                    i += len;
                    person_cue = false;
                    continue;
                }
            }
            // 5. Titles announce a person: "President", "Foreign Minister", "Mr.".
            if let Some(after) = self.title_chain(known, i, end) {
                person_cue = after < end;
                i = after;
                continue;
            }
            // 6. A name.
            let k = self.name_end(&words, known, i, end);
            let name = words.get(i..k).unwrap_or(&[]);
            let name_start = i;
            let single = name.len() == 1;
            let cue = std::mem::take(&mut person_cue);
            let at_place = std::mem::take(&mut place_cue);
            i = k;
            let lone_letter = single
                && name
                    .first()
                    .is_some_and(|w| w.chars().filter(|c| c.is_alphabetic()).count() == 1);
            if lone_letter || name.iter().any(|w| w.chars().any(|c| c.is_ascii_digit())) {
                continue;
            }
            if single && self.is_misc_word(t.text, info) {
                continue;
            }
            if single {
                let parts = self.hyphen_parts(t, i - 1);
                if !parts.is_empty() {
                    spans.extend(parts);
                    continue;
                }
            }
            let first_word = name.first().copied().unwrap_or("");
            // (A one-word alias is a key of the word table, folded as `person_alias` folds
            // it: a word the table does not mark as one is none, without building its key.)
            let alias = if single && !info.alias {
                None
            } else {
                gaz.person_alias(name)
            };
            if uncertain
                && single
                && !cue
                && alias.is_none()
                && !doc.seen_capitalised(first_word)
                && !info.given
            {
                continue;
            }
            // Outside English a lone given name is too often a noun ("Norm" in German).
            if !doc.guesses_allowed && single && !cue && alias.is_none() {
                continue;
            }
            let mut first = k - name.len();
            // "Kanzler Scholz", "Prime Putin": an unknown word before a known surname.
            let last_alias = name
                .last()
                .filter(|_| info_at(k - 1).alias)
                .and_then(|w| gaz.person_alias(&[w]));
            let (alias, first_word, first_info) = match (alias, last_alias) {
                (None, Some(full)) if name.len() == 2 && !info.given => {
                    first = k - 1;
                    (
                        Some(full),
                        name.last().copied().unwrap_or(first_word),
                        info_at(k - 1),
                    )
                }
                _ => (alias, first_word, info_at(name_start)),
            };
            let (kind, canonical, confidence) = if let Some(full) = alias {
                (NameKind::Person, Some(full.to_string()), Confidence::Listed)
            } else if cue || first_info.given {
                (NameKind::Person, None, Confidence::Rule)
            } else if at_place
                || name.last().is_some_and(|w| PLACE_WORDS.contains(w))
                || first_word == "Mount"
            {
                (NameKind::Location, None, Confidence::Rule)
            } else if single && is_acronym(first_word) {
                (NameKind::Organization, None, Confidence::Guess)
            } else if name.iter().any(|w| doc.seen_lowercase(w))
                || (!single && is_acronym(first_word))
            {
                // (An acronym before a name, "JPL Stardust", "NASA Discovery", is a programme or
                // a product more often than a person.)
                // A capitalised run of common words: a title, a product, a programme.
                (NameKind::Other, None, Confidence::Guess)
            } else {
                (NameKind::Person, None, Confidence::Guess)
            };
            // Headline capitals say nothing: only listed names and cued ones count there.
            if (headline || !doc.guesses_allowed) && confidence == Confidence::Guess {
                continue;
            }
            spans.extend(span(toks, first, k, kind, canonical, confidence));
        }
        spans
    }
}

#[cfg(test)]
mod lowercase_tests {
    use super::lowercase_cow;

    #[test]
    fn starts_upper_fast_is_starts_upper() {
        for w in [
            "",
            "a",
            "A",
            "al-Assad",
            "al-assad",
            "el-Sisi",
            "d'Artagnan",
            "l’Oréal",
            "bin-Salman",
            "abu-Bakr",
            "the",
            "The",
            "1st",
            "-",
            "'s",
            "’s",
            "Émile",
            "émile",
            "ǅemal",
            "iPhone",
            "ibn-Saud",
            "ash-Sham",
            "an-Nahar",
            "aaaaaaa-B",
        ] {
            assert_eq!(
                super::starts_upper_fast(w),
                crate::gazetteer::starts_upper(w),
                "{w}"
            );
        }
    }

    #[test]
    fn word_bits_keep_what_a_map_keeps() {
        use super::WordBits;
        let mut table = WordBits::default();
        let mut map: std::collections::HashMap<String, u8> = Default::default();
        let mut words: Vec<String> = (0..3000).map(|k| format!("w{k}")).collect();
        words.extend(
            [
                "",
                "a",
                "\0",
                "a\0",
                "abcdefghijklmnop",
                "abcdefghijklmnopq",
                "québec",
                "i",
                "ﬁrst-of-its-kind-word",
            ]
            .map(String::from),
        );
        for (k, w) in words.iter().enumerate() {
            let bits = 1u8 << (k % 6);
            table.add(w, bits);
            *map.entry(w.clone()).or_default() |= bits;
            if k % 7 == 0 {
                table.add(w, 64);
                *map.entry(w.clone()).or_default() |= 64;
            }
        }
        for w in words
            .iter()
            .chain(["w3000", "abcdefghijklmno", "x"].map(String::from).iter())
        {
            assert_eq!(table.get(w), map.get(w).copied().unwrap_or(0), "{w:?}");
        }
    }

    #[test]
    fn calendar_words_are_told_as_the_lists_tell_them() {
        use super::{MONTHS, WEEKDAYS, is_calendar_word};
        // The lists' own test, as it was written before the byte match.
        let listed = |word: &str| {
            let w = word.trim_end_matches('.');
            if !w.is_ascii() || w.len() > 10 {
                return false;
            }
            let w = w.to_ascii_lowercase();
            let w = w
                .strip_suffix('s')
                .filter(|s| WEEKDAYS.contains(s))
                .unwrap_or(&w);
            MONTHS.contains(&w)
                || WEEKDAYS.contains(&w)
                || [
                    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
                    "dec",
                ]
                .contains(&w)
        };
        let mut words: Vec<String> = Vec::new();
        for w in MONTHS.iter().chain(WEEKDAYS.iter()) {
            words.push(w.to_string());
            words.push(w.to_uppercase());
            words.push(format!("{w}s"));
            words.push(format!("{w}."));
            words.push(format!("{w}ss"));
            words.push(w[..3].to_string());
            words.push(format!("{}.", &w[..3]));
            words.push(w[..w.len() - 1].to_string());
        }
        for w in [
            "Sept.",
            "Mays",
            "",
            ".",
            "s",
            "Wednesdays",
            "Wednesdays.",
            "Ma\u{212a}",
        ] {
            words.push(w.to_string());
        }
        for w in &words {
            assert_eq!(is_calendar_word(w), listed(w), "{w}");
        }
    }

    #[test]
    fn place_cues_are_told_as_the_list_tells_them() {
        use super::{PLACE_CUES, is_place_cue, is_place_cue_word};
        for cue in PLACE_CUES {
            assert!(is_place_cue_word(cue.as_bytes()), "{cue}");
            assert!(is_place_cue(cue, false), "{cue}");
            assert!(is_place_cue(&cue.to_uppercase(), false), "{cue}");
        }
        for (word, after_cue, cue) in [
            ("of", true, true),
            ("OF", true, true),
            ("of", false, false),
            ("cities", false, false),
            ("cit", false, false),
            ("neighbourhoods", false, false),
            ("", true, false),
            ("citý", false, false),
            ("\u{212a}ity", false, false),
        ] {
            assert_eq!(is_place_cue(word, after_cue), cue, "{word}");
            let lower = word.to_lowercase();
            let listed = PLACE_CUES.contains(&lower.as_str()) || (after_cue && lower == "of");
            assert_eq!(is_place_cue(word, after_cue), listed, "{word}");
        }
    }

    #[test]
    fn lowercase_cow_is_to_lowercase_and_borrows_lowercase_text() {
        for w in [
            "’s", "—", "“", "québec", "Québec", "ΟΔΟΣ", "ς", "İ", "\u{212a}", "ǅ", "the", "The", "",
        ] {
            assert_eq!(lowercase_cow(w), w.to_lowercase(), "{w}");
        }
        for w in ["’s", "—", "québec", "the", "ς"] {
            assert!(
                matches!(lowercase_cow(w), std::borrow::Cow::Borrowed(_)),
                "{w}"
            );
        }
    }
}
