//! The built-in word lists (`data/*`, compiled in with `include_str!`), parsed once.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::NameKind;
use crate::tokenize::tokenize;

/// One gazetteer entry: what a (multi-token) surface form is, and its canonical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The kind of name.
    pub kind: NameKind,
    /// The canonical name.
    pub canonical: String,
    /// The surface is an acronym ("US", "WHO"): it only matches with the same letter case.
    pub case_sensitive: bool,
    /// The surface form as listed, tokens joined by one space (for case-sensitive matching).
    pub surface: String,
}

/// A title or role word that announces a person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleRole {
    /// A title on its own ("President", "Mr.", "counterpart").
    Head,
    /// A word that can precede a head ("Foreign" in "Foreign Minister").
    Modifier,
}

/// All word lists.
#[derive(Debug, Default)]
pub struct Gazetteers {
    /// Multi-token names keyed by their lowercase tokens joined with one space.
    entries: HashMap<String, Entry>,
    /// The longest entry, in tokens.
    pub max_tokens: usize,
    /// Demonym (canonical, lowercase) → the country or place it belongs to.
    demonym_country: HashMap<String, String>,
    /// Surname (lowercase tokens joined by a space) → full name of a well-known person.
    person_aliases: HashMap<String, String>,
    /// Organisation head words ("Ministry", "Bank"), as written.
    org_words: HashSet<String>,
    /// Head words of events, awards, wars… ("Cup", "Prize", "War"), as written.
    misc_words: HashSet<String>,
    /// Title and role words, lowercase.
    titles: HashMap<String, TitleRole>,
    /// Given names, lowercase.
    given_names: HashSet<String>,
    /// Words never starting a name at the start of a sentence, lowercase.
    stopwords: HashSet<String>,
    /// Cities and towns from GeoNames (`data/geonames_cities.txt`), keyed like `entries`: a
    /// model feature only.
    geo_places: HashSet<String>,
    /// Common abbreviations that are not names ("CEO", "DVD"), as written.
    abbreviations: HashSet<String>,
    /// Common English words, lowercase (`data/common_words.txt`): a model feature only.
    common_words: HashSet<String>,
    /// Word clusters (`data/word_clusters.bin`, learned by the `clusters` example): FNV-1a hash
    /// of the lowercase word → (fine cluster, coarse cluster). A model feature only.
    clusters: HashMap<u32, (u8, u8)>,
    /// The first words of `geo_places`' names, each with the longest name (in tokens) it starts.
    geo_first: HashMap<String, usize>,
    /// The first words (folded) of `entries`' keys, each with the longest entry (in tokens) it
    /// starts: most words start none, and are answered without building a key.
    entry_first: HashMap<String, usize>,
}

const COUNTRIES: &str = include_str!("../data/countries.tsv");
const CITIES: &str = include_str!("../data/cities.tsv");
const REGIONS: &str = include_str!("../data/regions.tsv");
const DEMONYMS: &str = include_str!("../data/demonyms.tsv");
const ORGANIZATIONS: &str = include_str!("../data/organizations.tsv");
const PERSONS: &str = include_str!("../data/persons.txt");
const ORG_WORDS: &str = include_str!("../data/org_words.txt");
const MISC_WORDS: &str = include_str!("../data/misc_words.txt");
const PERSON_TITLES: &str = include_str!("../data/person_titles.txt");
const GIVEN_NAMES: &str = include_str!("../data/given_names.txt");
const STOPWORDS: &str = include_str!("../data/stopwords.txt");
const GEONAMES_CITIES: &str = include_str!("../data/geonames_cities.txt");
const COMMON_WORDS: &str = include_str!("../data/common_words.txt");
const ABBREVIATIONS: &str = include_str!("../data/abbreviations.txt");
const WORD_CLUSTERS: &[u8] = include_bytes!("../data/word_clusters.bin");

/// FNV-1a (32 bits) of a lowercase word: the key of `data/word_clusters.bin`.
pub fn cluster_key(lower: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in lower.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The rows of a `GLNCLUS1` file; an empty map when it is malformed.
fn read_clusters(bytes: &[u8]) -> HashMap<u32, (u8, u8)> {
    let body = bytes.strip_prefix(b"GLNCLUS1".as_slice()).unwrap_or(&[]);
    let count = body
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes) as usize;
    let rows = body.get(4..).unwrap_or(&[]);
    if rows.len() != count.saturating_mul(6) {
        return HashMap::default();
    }
    rows.chunks_exact(6)
        .filter_map(|r| {
            let key = u32::from_le_bytes(r.get(..4)?.try_into().ok()?);
            Some((key, (*r.get(4)?, *r.get(5)?)))
        })
        .collect()
}

/// Non-comment, non-empty lines of a data file.
fn lines(data: &str) -> impl Iterator<Item = &str> {
    data.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

/// Whitespace-separated words of a data file's non-comment lines.
fn words(data: &str) -> impl Iterator<Item = &str> {
    lines(data).flat_map(str::split_whitespace)
}

/// The lookup key of a token sequence.
pub fn key_of<'t>(tokens: impl IntoIterator<Item = &'t str>) -> String {
    let mut key = String::new();
    for t in tokens {
        push_key(&mut key, t);
    }
    key
}

/// Append one token to a key being built by [`key_of`], folded ([`fold_token`]) straight
/// into the key: no allocation for an ASCII word or one folded already.
fn push_key(key: &mut String, token: &str) {
    if !key.is_empty() {
        key.push(' ');
    }
    if token.is_ascii() {
        let start = key.len();
        key.push_str(token);
        if let Some(tail) = key.get_mut(start..) {
            tail.make_ascii_lowercase();
        }
    } else {
        key.push_str(&fold_cow(token));
    }
}

/// The longest word [`with_folded`] folds on the stack.
const STACK_FOLD: usize = 48;

/// `f` of `token` folded ([`fold_token`]): without allocating when the token is folded
/// already or is a short ASCII word (most words; the word lists are asked for every token).
fn with_folded<R>(token: &str, f: impl FnOnce(&str) -> R) -> R {
    if token.is_ascii() {
        if !token.bytes().any(|b| b.is_ascii_uppercase()) {
            return f(token);
        }
        let mut buf = [0u8; STACK_FOLD];
        if let Some(out) = buf.get_mut(..token.len()) {
            out.copy_from_slice(token.as_bytes());
            out.make_ascii_lowercase();
            if let Ok(folded) = std::str::from_utf8(out) {
                return f(folded);
            }
        }
    }
    f(&fold_cow(token))
}

/// Lowercase with straight apostrophes.
pub fn fold_token(token: &str) -> String {
    if token.is_ascii() {
        // No '’' to straighten, and ASCII lowercase is all of `to_lowercase` here.
        return token.to_ascii_lowercase();
    }
    token.to_lowercase().replace('\u{2019}', "'")
}

/// [`fold_token`], borrowed when the token is already folded (most words: lowercase ASCII).
pub fn fold_cow(token: &str) -> std::borrow::Cow<'_, str> {
    let folded = if token.is_ascii() {
        !token.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        token.chars().all(|c| {
            let mut lower = c.to_lowercase();
            c != '\u{2019}' && lower.next() == Some(c) && lower.next().is_none()
        })
    };
    if folded {
        std::borrow::Cow::Borrowed(token)
    } else {
        std::borrow::Cow::Owned(fold_token(token))
    }
}

fn plural_of(demonym: &str) -> Option<String> {
    let lower = demonym.to_lowercase();
    let no_plural = ["sh", "ch", "ese", "ss", "ic", "ox", "ical"];
    if no_plural.iter().any(|s| lower.ends_with(s))
        || demonym.contains(' ') && lower.ends_with("ese")
    {
        return None;
    }
    if lower.ends_with("man") {
        return Some(format!("{}men", demonym.get(..demonym.len() - 3)?));
    }
    Some(format!("{demonym}s"))
}

impl Gazetteers {
    /// Parse the built-in lists.
    pub fn builtin() -> Self {
        let mut g = Gazetteers::default();
        for (data, kind) in [
            (COUNTRIES, NameKind::Location),
            (CITIES, NameKind::Location),
            (REGIONS, NameKind::Location),
            (ORGANIZATIONS, NameKind::Organization),
        ] {
            for line in lines(data) {
                let mut cols = line.split('\t');
                let surface = cols.next().unwrap_or("").trim();
                let canonical = cols
                    .next()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .unwrap_or(surface);
                g.add(surface, kind, canonical);
            }
        }
        for line in lines(DEMONYMS) {
            let mut cols = line.split('\t');
            let surface = cols.next().unwrap_or("").trim();
            let place = cols.next().map(str::trim).unwrap_or("-");
            let canonical = cols
                .next()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .unwrap_or(surface);
            g.add(surface, NameKind::Group, canonical);
            if let Some(plural) = plural_of(surface) {
                g.add(&plural, NameKind::Group, canonical);
            }
            if place != "-" && !place.is_empty() {
                g.demonym_country
                    .entry(canonical.to_lowercase())
                    .or_insert_with(|| place.to_string());
            }
        }
        let mut surname_owners: HashMap<String, Vec<String>> = HashMap::default();
        for line in lines(PERSONS) {
            let mut cols = line.split('\t');
            let full = cols.next().unwrap_or("").trim();
            g.add(full, NameKind::Person, full);
            let aliases: Vec<String> = match cols.next().map(str::trim) {
                Some("-") => Vec::new(),
                Some(list) if !list.is_empty() => {
                    list.split(',').map(|a| a.trim().to_string()).collect()
                }
                _ => full
                    .split_whitespace()
                    .last()
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
            };
            for alias in aliases {
                let key = key_of(tokenize(&alias).iter().map(|t| t.text));
                surname_owners
                    .entry(key)
                    .or_default()
                    .push(full.to_string());
            }
        }
        for (alias, owners) in surname_owners {
            if let [only] = owners.as_slice() {
                g.person_aliases.insert(alias, only.clone());
            }
        }
        g.org_words = words(ORG_WORDS).map(str::to_string).collect();
        g.misc_words = words(MISC_WORDS).map(str::to_string).collect();
        for line in lines(PERSON_TITLES) {
            let mut cols = line.split('\t');
            let role = match cols.next() {
                Some("modifier") => TitleRole::Modifier,
                _ => TitleRole::Head,
            };
            if let Some(title) = cols.next() {
                let key = key_of(tokenize(title.trim()).iter().map(|t| t.text));
                // A word can be both ("Justice"): Head wins.
                let slot = g.titles.entry(key).or_insert(role);
                if role == TitleRole::Head {
                    *slot = TitleRole::Head;
                }
            }
        }
        g.given_names = words(GIVEN_NAMES).map(fold_token).collect();
        g.stopwords = words(STOPWORDS).map(fold_token).collect();
        g.abbreviations = words(ABBREVIATIONS).map(str::to_string).collect();
        g.common_words = words(COMMON_WORDS).map(str::to_string).collect();
        g.clusters = read_clusters(WORD_CLUSTERS);
        for line in lines(GEONAMES_CITIES) {
            let toks = tokenize(line.trim());
            let (Some(first), n) = (toks.first(), toks.len()) else {
                continue;
            };
            let slot = g.geo_first.entry(fold_token(first.text)).or_insert(n);
            *slot = (*slot).max(n);
            g.geo_places.insert(key_of(toks.iter().map(|t| t.text)));
        }
        g
    }

    /// Is this a common abbreviation that is not a name ("CEO", "DVD"; as written)?
    pub fn is_abbreviation(&self, token: &str) -> bool {
        self.abbreviations.contains(token)
    }

    /// Is this (lowercase) word a common English word ("service", "great")?
    pub fn is_common_word(&self, lower: &str) -> bool {
        self.common_words.contains(lower)
    }

    /// Whether a cluster table is compiled in (else no cluster features are built).
    pub fn has_clusters(&self) -> bool {
        !self.clusters.is_empty()
    }

    /// The (fine, coarse) cluster of a lowercase word, if the table knows it.
    pub fn word_cluster(&self, lower: &str) -> Option<(u8, u8)> {
        if self.clusters.is_empty() {
            return None;
        }
        self.clusters.get(&cluster_key(lower)).copied()
    }

    /// The length in tokens of the longest GeoNames city or town name that `tokens` starts
    /// with, in any letter case.
    pub fn longest_geo(&self, tokens: &[&str]) -> Option<usize> {
        let first = tokens.first()?;
        // Most words start no name: ask without folding when the word is already folded.
        let max = if first.chars().any(|c| c.is_uppercase() || c == '\u{2019}') {
            with_folded(first, |f| self.geo_first.get(f).copied())?
        } else {
            *self.geo_first.get(*first)?
        };
        let n = max.min(tokens.len());
        if n <= 1 {
            // One word: its folded form is the key (no key to build).
            return (n == 1 && with_folded(first, |f| self.geo_places.contains(f))).then_some(1);
        }
        // The key of the first `len` tokens is a prefix of the key of all of them: built once,
        // asked about at each length; the longest listed one wins.
        let mut key = String::with_capacity(tokens.iter().take(n).map(|t| t.len() + 1).sum());
        let mut found = None;
        for (len, t) in (1..=n).zip(tokens) {
            push_key(&mut key, t);
            if self.geo_places.contains(key.as_str()) {
                found = Some(len);
            }
        }
        found
    }

    fn add(&mut self, surface: &str, kind: NameKind, canonical: &str) {
        let toks = tokenize(surface);
        if toks.is_empty() {
            return;
        }
        let key = key_of(toks.iter().map(|t| t.text));
        let letters: Vec<char> = surface.chars().filter(|c| c.is_alphabetic()).collect();
        let case_sensitive = letters.len() <= 5 && letters.iter().all(|c| c.is_uppercase());
        let surface_key = toks.iter().map(|t| t.text).collect::<Vec<_>>().join(" ");
        self.max_tokens = self.max_tokens.max(toks.len());
        if let Some(first) = key.split(' ').next() {
            let slot = self.entry_first.entry(first.to_string()).or_insert(0);
            *slot = (*slot).max(key.split(' ').count());
        }
        self.entries.entry(key).or_insert_with(|| Entry {
            kind,
            canonical: canonical.to_string(),
            case_sensitive,
            surface: surface_key,
        });
    }

    /// May an entry start with this token? (False when no entry's key starts with its folded
    /// form; a token holding white space is always asked in full.)
    fn may_start_entry(&self, first: &str) -> bool {
        first.contains(char::is_whitespace)
            || with_folded(first, |f| self.entry_first.contains_key(f))
    }

    /// The entry for exactly these tokens, if any (letter case checked for acronyms, and the
    /// first token must be capitalised).
    pub fn lookup(&self, tokens: &[&str]) -> Option<&Entry> {
        let first = tokens.first()?;
        if !starts_upper(first) || !self.may_start_entry(first) {
            return None;
        }
        self.checked(tokens, self.entries.get(&key_of(tokens.iter().copied()))?)
    }

    /// `entry` if its letter case fits `tokens` (acronyms match only as listed).
    fn checked<'e>(&self, tokens: &[&str], entry: &'e Entry) -> Option<&'e Entry> {
        if entry.case_sensitive && entry.surface != tokens.join(" ").replace('\u{2019}', "'") {
            return None;
        }
        Some(entry)
    }

    /// The entry for these tokens written in any letter case ("kerala", "taco bell"), acronyms
    /// excepted: a feature for the name model on text that does not capitalise names.
    pub fn lookup_any_case(&self, tokens: &[&str]) -> Option<&Entry> {
        if !self.may_start_entry(tokens.first()?) {
            return None;
        }
        self.entries
            .get(&key_of(tokens.iter().copied()))
            .filter(|e| !e.case_sensitive)
    }

    /// The longest entry starting at `tokens[0]` and not longer than `tokens`; returns its
    /// length in tokens. (The key is built once, word by word.)
    pub fn longest(&self, tokens: &[&str]) -> Option<(usize, &Entry)> {
        let first = tokens.first()?;
        if !starts_upper(first) {
            return None;
        }
        // No entry is longer than the longest one starting with this word.
        let span = if first.contains(char::is_whitespace) {
            self.max_tokens
        } else {
            with_folded(first, |f| self.entry_first.get(f).copied())?
        };
        let max = span.min(tokens.len());
        let mut key = String::with_capacity(tokens.iter().take(max).map(|t| t.len() + 1).sum());
        let mut best = None;
        for (k, t) in tokens.iter().take(max).enumerate() {
            // (The first token is not empty: it starts with a capital.)
            push_key(&mut key, t);
            if let Some(entry) = self.entries.get(key.as_str())
                && let Some(entry) = self.checked(tokens.get(..=k).unwrap_or(&[]), entry)
            {
                best = Some((k + 1, entry));
            }
        }
        best
    }

    /// The full name of a well-known person known by this surname (or alias).
    pub fn person_alias(&self, tokens: &[&str]) -> Option<&str> {
        self.person_aliases
            .get(&key_of(tokens.iter().copied()))
            .map(String::as_str)
    }

    /// [`Gazetteers::person_alias`] of one token already folded ([`fold_token`]).
    pub fn person_alias_folded(&self, folded: &str) -> Option<&str> {
        self.person_aliases.get(folded).map(String::as_str)
    }

    /// The country or place a group name belongs to ("Iranian" → "Iran").
    pub fn demonym_country(&self, canonical: &str) -> Option<&str> {
        self.demonym_country
            .get(&canonical.to_lowercase())
            .map(String::as_str)
    }

    /// Is this word an organisation head word ("Ministry")?
    pub fn is_org_word(&self, token: &str) -> bool {
        in_word_set(&self.org_words, token)
    }

    /// Is this word the head of an event, award, war… ("Cup", "Prize")?
    pub fn is_misc_word(&self, token: &str) -> bool {
        in_word_set(&self.misc_words, token)
    }

    /// The title role of a token, if it is one.
    pub fn title_role(&self, token: &str) -> Option<TitleRole> {
        with_folded(token, |f| self.title_role_folded(f))
    }

    /// [`Gazetteers::title_role`] of a token already folded ([`fold_token`]).
    pub fn title_role_folded(&self, folded: &str) -> Option<TitleRole> {
        self.titles.get(folded).copied()
    }

    /// Is this a common given name?
    pub fn is_given_name(&self, token: &str) -> bool {
        with_folded(token, |f| self.is_given_name_folded(f))
    }

    /// [`Gazetteers::is_given_name`] of a token already folded ([`fold_token`]).
    pub fn is_given_name_folded(&self, folded: &str) -> bool {
        self.given_names.contains(folded)
    }

    /// Is this a word that never starts a name?
    pub fn is_stopword(&self, token: &str) -> bool {
        with_folded(token, |f| self.stopwords.contains(f))
    }
}

/// Is `token` in `set`, as written or, for an all-caps word ("MINISTRY"), capitalised?
fn in_word_set(set: &HashSet<String>, token: &str) -> bool {
    if set.contains(token) {
        return true;
    }
    if token.is_ascii() {
        // The title form differs from the token only by capitals after its first letter
        // (none in ",", "2024", "I"): asked about only when there are some.
        let Some(rest) = token.get(1..) else {
            return false;
        };
        if token.bytes().any(|b| b.is_ascii_lowercase())
            || !rest.bytes().any(|b| b.is_ascii_uppercase())
        {
            return false;
        }
        let mut title = token.to_string();
        if let Some(rest) = title.get_mut(1..) {
            rest.make_ascii_lowercase();
        }
        return set.contains(&title);
    }
    if token.chars().any(char::is_lowercase) {
        return false;
    }
    let mut title = String::new();
    for (k, c) in token.chars().enumerate() {
        if k == 0 {
            title.push(c);
        } else {
            title.extend(c.to_lowercase());
        }
    }
    set.contains(&title)
}

/// Does the token start with an uppercase (or titlecase) letter, allowing for Arabic-style
/// particles ("al-Assad", "el-Sisi", "bin-Salman") and "d'" / "l'" prefixes?
pub fn starts_upper(token: &str) -> bool {
    // An ASCII first letter (most words) is told by its byte: the same answers as the
    // Unicode tests below, without decoding a char and looking it up in their tables.
    let starts_lower = match token.as_bytes().first() {
        None => return false,
        Some(b) if b.is_ascii_uppercase() => return true,
        Some(b) if b.is_ascii() => b.is_ascii_lowercase(),
        Some(_) => match token.chars().next() {
            Some(c) if c.is_uppercase() || is_titlecase(c) => return true,
            Some(c) => c.is_lowercase(),
            None => false,
        },
    };
    if !starts_lower {
        return false;
    }
    // Every prefix below ends in '-', '\'' or '’' within its first 7 bytes: most words hold
    // none of them there and start no prefix.
    if !token
        .bytes()
        .take(7)
        .any(|b| b == b'-' || b == b'\'' || b == 0xE2)
    {
        return false;
    }
    for prefix in [
        "al-", "el-", "ad-", "as-", "ash-", "an-", "ar-", "at-", "az-", "ibn-", "bin-", "abu-",
        "d'", "l'", "d’", "l’",
    ] {
        if let Some(rest) = token.strip_prefix(prefix) {
            return rest.chars().next().is_some_and(char::is_uppercase);
        }
    }
    false
}

fn is_titlecase(c: char) -> bool {
    matches!(c, 'ǅ' | 'ǈ' | 'ǋ' | 'ǲ')
}

#[cfg(test)]
mod cluster_tests {
    use super::*;

    #[test]
    fn the_cluster_table_reads_and_groups_words_used_alike() {
        let g = Gazetteers::builtin();
        assert!(
            g.has_clusters(),
            "data/word_clusters.bin is empty or malformed"
        );
        let fine = |w: &str| g.word_cluster(w).map(|c| c.0);
        // Weekdays stand in the same places in any text.
        assert!(fine("tuesday").is_some());
        assert_eq!(fine("tuesday"), fine("friday"));
        assert_ne!(fine("tuesday"), fine("the"));
        // A word the table never saw has no cluster.
        assert_eq!(g.word_cluster("qzxvwkjpf"), None);
    }

    #[test]
    fn a_malformed_cluster_table_is_empty() {
        assert!(read_clusters(b"").is_empty());
        assert!(read_clusters(b"GLNCLUS1\x02\x00\x00\x00abcdef").is_empty());
        assert!(read_clusters(b"XXXXXXXX\x00\x00\x00\x00").is_empty());
        let one = read_clusters(b"GLNCLUS1\x01\x00\x00\x00\x01\x00\x00\x00\x05\x02");
        assert_eq!(one.get(&1), Some(&(5, 2)));
    }
}
