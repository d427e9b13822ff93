//! The built-in word lists (`data/*`, compiled in with `include_str!`), parsed once.
//!
//! The word table ([`WordInfo`] of every listed word and every GeoNames key) is built from
//! the same lists by the build script (`build.rs`, which compiles this file and
//! `tokenize.rs` into itself) and compiled in as an image (`WordTable::image`): reading it
//! at start is a copy, not a parse of the lists (most of `Tagger::new`'s work until issue
//! 12's third round). An image that does not read gives the table built from the lists here.

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
    /// Common abbreviations that are not names ("CEO", "DVD"), as written.
    abbreviations: HashSet<String>,
    /// Word clusters (`data/word_clusters.bin`, learned by the `clusters` example): FNV-1a hash
    /// of the lowercase word → (fine cluster, coarse cluster). A model feature only.
    clusters: HashMap<u32, (u8, u8)>,
    /// What the single-word lists say about a word, all in one table (see [`WordInfo`]): the
    /// titles, given names, stop words, common words, the first words of `entries` and of
    /// GeoNames places (their keys, as `entries`' are keyed: a model feature only), one-word
    /// GeoNames places and aliases, and the folded forms of the head words. A word most lists lack is answered by one lookup, not one per list.
    words: WordTable,
}

/// What the word lists say about one string (a folded word: lowercase, straight apostrophes;
/// or, for [`WordInfo::common`], a lowercase word), from one lookup ([`Gazetteers::word`]).
/// Each field answers exactly what the list it stands for answers about that string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordInfo {
    /// The longest multi-token name (in tokens) whose key starts with this word; 0: none.
    pub entry_first: u16,
    /// The longest GeoNames place (in tokens) starting with this word; 0: none.
    pub geo_first: u16,
    /// A one-word GeoNames place.
    pub geo_place: bool,
    /// The key of a GeoNames city or town (`data/geonames_cities.txt`; its folded words
    /// joined by one space, as [`key_of`] makes it).
    pub geo_key: bool,
    /// A GeoNames key starts with this and a space ("new" and "new york" of "new york
    /// city"): a longer key may start here.
    pub geo_prefix: bool,
    /// The key of a one-token listed name (its folded word).
    pub entry_key: bool,
    /// A title or role word.
    pub title: Option<TitleRole>,
    /// A given name.
    pub given: bool,
    /// A word never starting a name.
    pub stopword: bool,
    /// The alias (surname) of a well-known person.
    pub alias: bool,
    /// A common English word (this exact string; lowercase).
    pub common: bool,
    /// Some organisation head word folds to this ("Ministry", "MINISTRY" → "ministry"): a
    /// word whose folded form lacks this is not one.
    pub org_folded: bool,
    /// Some head word of events, awards… folds to this.
    pub misc_folded: bool,
}

impl WordInfo {
    /// The bytes of [`WordTable::image`] for this.
    // (Used by the build script and tests: the crate itself only reads images.)
    #[cfg_attr(not(test), allow(dead_code))]
    fn to_le_bytes(self) -> [u8; 6] {
        let title = match self.title {
            None => 0u16,
            Some(TitleRole::Head) => 1,
            Some(TitleRole::Modifier) => 2,
        };
        let flags = u16::from(self.geo_place)
            | title << 1
            | u16::from(self.given) << 3
            | u16::from(self.stopword) << 4
            | u16::from(self.alias) << 5
            | u16::from(self.common) << 6
            | u16::from(self.org_folded) << 7
            | u16::from(self.misc_folded) << 8
            | u16::from(self.geo_key) << 9
            | u16::from(self.geo_prefix) << 10
            | u16::from(self.entry_key) << 11;
        let [a, b] = self.entry_first.to_le_bytes();
        let [c, d] = self.geo_first.to_le_bytes();
        let [e, f] = flags.to_le_bytes();
        [a, b, c, d, e, f]
    }

    /// What [`WordInfo::to_le_bytes`] wrote; `None` for bytes it never writes.
    fn from_le_bytes(b: [u8; 6]) -> Option<WordInfo> {
        let [a, b, c, d, e, f] = b;
        let flags = u16::from_le_bytes([e, f]);
        if flags >> 12 != 0 {
            return None;
        }
        let bit = |k: u16| flags >> k & 1 == 1;
        Some(WordInfo {
            entry_first: u16::from_le_bytes([a, b]),
            geo_first: u16::from_le_bytes([c, d]),
            geo_place: bit(0),
            geo_key: bit(9),
            geo_prefix: bit(10),
            entry_key: bit(11),
            title: match flags >> 1 & 3 {
                0 => None,
                1 => Some(TitleRole::Head),
                2 => Some(TitleRole::Modifier),
                _ => return None,
            },
            given: bit(3),
            stopword: bit(4),
            alias: bit(5),
            common: bit(6),
            org_folded: bit(7),
            misc_folded: bit(8),
        })
    }
}

/// The first bytes of a [`WordTable::image`].
const WORD_TABLE_MAGIC: &[u8; 8] = b"GLNWORD1";

/// A cursor over an image's bytes: each read `None` past the end.
struct Bytes<'b>(&'b [u8]);

impl<'b> Bytes<'b> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn slice(&mut self, n: usize) -> Option<&'b [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
}

/// String → [`WordInfo`]: open addressing with linear probing, at most half full. A key of up
/// to 16 bytes (most words) is held in the slot itself as two integers, so that a lookup is a
/// few integer operations and compares, without hashing the bytes one by one or calling
/// `memcmp`; longer keys are in a map beside it. An ASCII word is folded to lowercase in the
/// same integers ([`WordTable::get_folded`]).
#[derive(Debug, Default)]
struct WordTable {
    slots: Vec<WordSlot>,
    /// 64 − log2 of the slot count.
    shift: u32,
    /// How many slots are taken.
    used: usize,
    /// Keys longer than [`INLINE_KEY`] bytes.
    long: HashMap<Box<[u8]>, WordInfo>,
}

/// The longest key a [`WordSlot`] holds.
const INLINE_KEY: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct WordSlot {
    /// The key's bytes, little-endian, zero after its end.
    lo: u64,
    hi: u64,
    /// The key's length + 1 (0: a free slot).
    len: u8,
    info: WordInfo,
}

/// `bytes` (at most [`INLINE_KEY`]) as two little-endian integers, zero after the end: two
/// loads of four or eight bytes that may overlap (which `or` leaves as they are), not a copy
/// byte by byte.
fn pack(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    let le8 = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let le4 = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    };
    match n {
        0 => (0, 0),
        1..=3 => {
            let mut lo = 0u64;
            for (k, &b) in bytes.iter().enumerate() {
                lo |= u64::from(b) << (8 * k);
            }
            (lo, 0)
        }
        4..=7 => (le4(0) | le4(n - 4) << (8 * (n - 4)), 0),
        8 => (le8(0), 0),
        9..=16 => (le8(0), le8(n - 8) >> (8 * (16 - n))),
        _ => (0, 0),
    }
}

/// ASCII bytes packed in `x` with 'A'..='Z' made lowercase (each byte below 0x80).
fn ascii_lower_packed(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 7 of a byte of `ge_a` is set when the byte is at least 'A', of `gt_z` when it is
    // past 'Z' (no carry crosses a byte: each is below 0x80).
    let ge_a = x.wrapping_add(ONES * (0x80 - u64::from(b'A')));
    let gt_z = x.wrapping_add(ONES * (0x80 - u64::from(b'Z') - 1));
    let upper = ge_a & !gt_z & (ONES * 0x80);
    x | (upper >> 2)
}

impl WordTable {
    /// An empty table with room for `n` keys without growing (growing would hold the old
    /// slots and the new at once).
    fn with_capacity(n: usize) -> Self {
        let count = n.saturating_mul(2).max(64).next_power_of_two();
        WordTable {
            slots: vec![WordSlot::default(); count],
            shift: 64 - count.trailing_zeros(),
            used: 0,
            long: HashMap::default(),
        }
    }

    fn home(&self, lo: u64, hi: u64, len: u8) -> usize {
        let h = (lo.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi ^ u64::from(len))
            .wrapping_mul(0xD6E8_FEB8_6659_FD93);
        if self.shift >= 64 {
            return 0;
        }
        (h >> self.shift) as usize
    }

    /// The slot of a packed key: where it is, or the free slot where it would go.
    fn find(&self, lo: u64, hi: u64, len: u8) -> Option<usize> {
        let n = self.slots.len();
        let mut at = self.home(lo, hi, len);
        for _ in 0..n {
            let slot = self.slots.get(at)?;
            if slot.len == 0 || (slot.len == len && slot.lo == lo && slot.hi == hi) {
                return Some(at);
            }
            at = (at + 1) & (n - 1);
        }
        None
    }

    fn get_packed(&self, lo: u64, hi: u64, len: u8) -> WordInfo {
        self.find(lo, hi, len)
            .and_then(|at| self.slots.get(at))
            .filter(|s| s.len != 0)
            .map_or_else(WordInfo::default, |s| s.info)
    }

    /// What the table holds for exactly these bytes.
    fn get(&self, key: &[u8]) -> WordInfo {
        if key.len() > INLINE_KEY {
            return self.long.get(key).copied().unwrap_or_default();
        }
        let (lo, hi) = pack(key);
        self.get_packed(lo, hi, key.len() as u8 + 1)
    }

    /// [`WordTable::get`] of `token` folded ([`fold_token`]).
    fn get_folded(&self, token: &str) -> WordInfo {
        let bytes = token.as_bytes();
        if bytes.len() <= INLINE_KEY {
            let (lo, hi) = pack(bytes);
            if (lo | hi) & 0x8080_8080_8080_8080 == 0 {
                // ASCII folds to ASCII lowercase, byte for byte: folded in the integers.
                return self.get_packed(
                    ascii_lower_packed(lo),
                    ascii_lower_packed(hi),
                    bytes.len() as u8 + 1,
                );
            }
        }
        with_folded(token, |f| self.get(f.as_bytes()))
    }

    /// The entry of `key`, made when missing.
    fn entry(&mut self, key: &[u8]) -> &mut WordInfo {
        if key.len() > INLINE_KEY {
            return self.long.entry(Box::from(key)).or_default();
        }
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let (lo, hi) = pack(key);
        let len = key.len() as u8 + 1;
        let at = self.find(lo, hi, len);
        match at.and_then(|at| self.slots.get_mut(at)) {
            Some(slot) => {
                if slot.len == 0 {
                    *slot = WordSlot {
                        lo,
                        hi,
                        len,
                        info: WordInfo::default(),
                    };
                    self.used += 1;
                }
                &mut slot.info
            }
            // (Never: the table always has a free slot.)
            None => self.long.entry(Box::from(key)).or_default(),
        }
    }

    /// The table as bytes, to be read back by [`WordTable::from_image`] into the same table
    /// (each key in the same slot): the magic, the slot count, how many are taken, then each
    /// taken slot (its place, key, length and info), then the long keys (length, bytes, info).
    /// All little-endian. (Made by the build script; see the module's documentation.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn image(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.used * 30 + self.long.len() * 40 + 64);
        out.extend_from_slice(WORD_TABLE_MAGIC);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
        out.extend_from_slice(&count(self.slots.len()));
        out.extend_from_slice(&count(self.used));
        for (at, slot) in self.slots.iter().enumerate().filter(|(_, s)| s.len != 0) {
            out.extend_from_slice(&count(at));
            out.extend_from_slice(&slot.lo.to_le_bytes());
            out.extend_from_slice(&slot.hi.to_le_bytes());
            out.push(slot.len);
            out.extend_from_slice(&slot.info.to_le_bytes());
        }
        // (Sorted: the same lists give the same bytes, whatever the map's order.)
        let mut long: Vec<(&Box<[u8]>, &WordInfo)> = self.long.iter().collect();
        long.sort_by(|a, b| a.0.cmp(b.0));
        out.extend_from_slice(&count(long.len()));
        for (key, info) in long {
            out.extend_from_slice(&count(key.len()));
            out.extend_from_slice(key);
            out.extend_from_slice(&info.to_le_bytes());
        }
        out
    }

    /// The table [`WordTable::image`] wrote; `None` when the bytes are not such an image (a
    /// slot count that is not a power of two, a place outside the table or taken twice, more
    /// than half the slots taken, bytes left over).
    pub(crate) fn from_image(image: &[u8]) -> Option<WordTable> {
        let mut r = Bytes(image.strip_prefix(WORD_TABLE_MAGIC.as_slice())?);
        let count = usize::try_from(r.u32()?).ok()?;
        let used = usize::try_from(r.u32()?).ok()?;
        // (The count is bounded by the image: each taken slot is 27 bytes of it.)
        if !count.is_power_of_two() || count < 64 || used * 2 > count || used * 27 > image.len() {
            return None;
        }
        let mut slots = vec![WordSlot::default(); count];
        for _ in 0..used {
            let at = usize::try_from(r.u32()?).ok()?;
            let (lo, hi) = (r.u64()?, r.u64()?);
            let [len] = r.take::<1>()?;
            let info = WordInfo::from_le_bytes(r.take()?)?;
            let slot = slots.get_mut(at)?;
            if slot.len != 0 || len == 0 || usize::from(len) > INLINE_KEY + 1 {
                return None;
            }
            *slot = WordSlot { lo, hi, len, info };
        }
        let n_long = r.u32()?;
        let mut long = HashMap::default();
        for _ in 0..n_long {
            let n = usize::try_from(r.u32()?).ok()?;
            let key = r.slice(n)?;
            let info = WordInfo::from_le_bytes(r.take()?)?;
            long.insert(Box::from(key), info);
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(WordTable {
            slots,
            shift: 64 - count.trailing_zeros(),
            used,
            long,
        })
    }

    /// Twice the slots (at least 64), every key moved to its place.
    fn grow(&mut self) {
        let count = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![WordSlot::default(); count]);
        self.shift = 64 - count.trailing_zeros();
        for slot in old.into_iter().filter(|s| s.len != 0) {
            if let Some(at) = self.find(slot.lo, slot.hi, slot.len)
                && let Some(free) = self.slots.get_mut(at)
            {
                *free = slot;
            }
        }
    }
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
        // Folded char by char straight into the key; a 'Σ' (whose lowercase depends on its
        // neighbours) is folded by `fold_token` instead.
        let start = key.len();
        if !fold_chars(token, |c| {
            key.push(c);
            true
        }) {
            key.truncate(start);
            key.push_str(&fold_token(token));
        }
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
    } else if token.len() <= STACK_FOLD {
        // Outside ASCII ("’s", "Québec"): folded char by char on the stack, unless it grows
        // past the buffer or holds a 'Σ'.
        let mut buf = [0u8; STACK_FOLD];
        let mut at = 0;
        let fits = fold_chars(token, |c| {
            let n = c.len_utf8();
            match buf.get_mut(at..at + n) {
                Some(out) => {
                    c.encode_utf8(out);
                    at += n;
                    true
                }
                None => false,
            }
        });
        if fits && let Some(Ok(folded)) = buf.get(..at).map(std::str::from_utf8) {
            return f(folded);
        }
    }
    f(&fold_cow(token))
}

/// The longest key [`with_key`] builds on the stack.
const STACK_KEY: usize = 96;

/// Appends `token` lowercased (ASCII) to the key in `buf[..*at]`, after a space unless the key
/// is still empty (as `push_key` does); what does not fit is left out, and `*at` still counts
/// it, so a caller sees the key was too long.
fn push_ascii_lower(buf: &mut [u8; STACK_KEY], at: &mut usize, token: &str) {
    if *at > 0
        && let Some(b) = buf.get_mut(*at)
    {
        *b = b' ';
        *at += 1;
    }
    if let Some(out) = buf.get_mut(*at..*at + token.len()) {
        out.copy_from_slice(token.as_bytes());
        out.make_ascii_lowercase();
    }
    *at += token.len();
}

/// `f` of the key of `tokens` ([`key_of`]), built on the stack when it is short ASCII.
fn with_key<R>(tokens: &[&str], f: impl FnOnce(&str) -> R) -> R {
    let len = tokens.iter().map(|t| t.len() + 1).sum::<usize>();
    if len <= STACK_KEY && tokens.iter().all(|t| t.is_ascii()) {
        let mut buf = [0u8; STACK_KEY];
        let mut at = 0;
        for t in tokens {
            push_ascii_lower(&mut buf, &mut at, t);
        }
        if let Some(Ok(key)) = buf.get(..at).map(std::str::from_utf8) {
            return f(key);
        }
    }
    f(&key_of(tokens.iter().copied()))
}

/// Is `surface` the tokens joined by one space, each '’' straightened
/// (`tokens.join(" ").replace('’', "'")`, without building it)?
fn joined_is(surface: &str, tokens: &[&str]) -> bool {
    let mut rest = surface;
    for (k, t) in tokens.iter().enumerate() {
        if k > 0 {
            match rest.strip_prefix(' ') {
                Some(r) => rest = r,
                None => return false,
            }
        }
        if !t.contains('\u{2019}') {
            match rest.strip_prefix(t) {
                Some(r) => rest = r,
                None => return false,
            }
            continue;
        }
        for c in t.chars() {
            let c = if c == '\u{2019}' { '\'' } else { c };
            match rest.strip_prefix(c) {
                Some(r) => rest = r,
                None => return false,
            }
        }
    }
    rest.is_empty()
}

/// Lowercase with straight apostrophes.
pub fn fold_token(token: &str) -> String {
    if token.is_ascii() {
        // No '’' to straighten, and ASCII lowercase is all of `to_lowercase` here.
        return token.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(token.len());
    if fold_chars(token, |c| {
        out.push(c);
        true
    }) {
        return out;
    }
    token.to_lowercase().replace('\u{2019}', "'")
}

/// [`fold_token`] of a token, char by char: `push` is given each char of the folded form in
/// order ('’' straightened, every other char lowercased). Stops and returns false when `push`
/// does, or at a 'Σ', whose lowercase `str::to_lowercase` picks by the chars around it (a
/// word-final 'ς'); the caller then folds the token with [`fold_token`]'s own path. Otherwise
/// the chars are exactly those of `token.to_lowercase().replace('’', "'")`: that lowercases
/// every other char on its own (`char::to_lowercase`), and no char lowercases to a '’'.
fn fold_chars(token: &str, mut push: impl FnMut(char) -> bool) -> bool {
    for c in token.chars() {
        match c {
            '\u{2019}' => {
                if !push('\'') {
                    return false;
                }
            }
            '\u{03a3}' => return false,
            c => {
                for l in c.to_lowercase() {
                    if !push(l) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Is `token` its own folded form ([`fold_token`])?
fn is_folded(token: &str) -> bool {
    if token.is_ascii() {
        !token.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        token.chars().all(|c| {
            let mut lower = c.to_lowercase();
            c != '\u{2019}' && lower.next() == Some(c) && lower.next().is_none()
        })
    }
}

/// [`fold_token`], borrowed when the token is already folded (most words: lowercase ASCII).
pub fn fold_cow(token: &str) -> std::borrow::Cow<'_, str> {
    if is_folded(token) {
        std::borrow::Cow::Borrowed(token)
    } else {
        std::borrow::Cow::Owned(fold_token(token))
    }
}

/// [`fold_token`] without an allocation per word: the token itself when it is already folded,
/// else its folded form written into `buf` (cleared first; its capacity kept for the next).
pub fn fold_with<'a>(token: &'a str, buf: &'a mut String) -> &'a str {
    if token.is_ascii() {
        if !token.bytes().any(|b| b.is_ascii_uppercase()) {
            return token;
        }
        buf.clear();
        buf.push_str(token);
        buf.make_ascii_lowercase();
        return buf.as_str();
    }
    if is_folded(token) {
        return token;
    }
    buf.clear();
    if !fold_chars(token, |c| {
        buf.push(c);
        true
    }) {
        *buf = fold_token(token);
    }
    buf.as_str()
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
    /// Parse the built-in lists (the word table read from its image, built by `build.rs`).
    pub fn builtin() -> Self {
        Gazetteers::read(WordTable::from_image(crate::WORD_TABLE_IMAGE))
    }

    /// The image of the built-in lists' word table ([`WordTable::image`]), built from the
    /// lists: what `build.rs` writes.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn word_table_image() -> Vec<u8> {
        Gazetteers::read(None).words.image()
    }

    /// Parse the built-in lists; the word table is `prebuilt` (the lists' own, from its image)
    /// or, when `None`, built from the lists here.
    fn read(prebuilt: Option<WordTable>) -> Self {
        let mut g = Gazetteers::default();
        let build = prebuilt.is_none();
        g.words = match prebuilt {
            Some(table) => table,
            None => {
                // Room for every word the lists could put in the table (most are common
                // words and GeoNames places; the rest are a few hundred).
                let room = lines(COMMON_WORDS).count() + lines(GEONAMES_CITIES).count() + 4096;
                WordTable::with_capacity(room)
            }
        };
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
                g.add(surface, kind, canonical, build);
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
            g.add(surface, NameKind::Group, canonical, build);
            if let Some(plural) = plural_of(surface) {
                g.add(&plural, NameKind::Group, canonical, build);
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
            g.add(full, NameKind::Person, full, build);
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
        g.abbreviations = words(ABBREVIATIONS).map(str::to_string).collect();
        g.clusters = read_clusters(WORD_CLUSTERS);
        if build {
            g.build_words();
        }
        g.words.long.shrink_to_fit();
        g
    }

    /// Put what the single-word lists and GeoNames say into the word table (the entries'
    /// first words are put there by [`Gazetteers::add`], the aliases' keys are read from
    /// `person_aliases`).
    fn build_words(&mut self) {
        let g = self;
        // Words folded into one reused buffer ([`fold_with`]), not a new string each.
        let mut buf = String::new();
        for w in words(ORG_WORDS) {
            g.word_mut(fold_with(w, &mut buf)).org_folded = true;
        }
        for w in words(MISC_WORDS) {
            g.word_mut(fold_with(w, &mut buf)).misc_folded = true;
        }
        let aliases: Vec<String> = g.person_aliases.keys().cloned().collect();
        for alias in aliases {
            g.word_mut(&alias).alias = true;
        }
        for line in lines(PERSON_TITLES) {
            let mut cols = line.split('\t');
            let role = match cols.next() {
                Some("modifier") => TitleRole::Modifier,
                _ => TitleRole::Head,
            };
            if let Some(title) = cols.next() {
                let key = key_of(tokenize(title.trim()).iter().map(|t| t.text));
                // A word can be both ("Justice"): Head wins.
                let slot = g.word_mut(&key).title.get_or_insert(role);
                if role == TitleRole::Head {
                    *slot = TitleRole::Head;
                }
            }
        }
        for w in words(GIVEN_NAMES) {
            g.word_mut(fold_with(w, &mut buf)).given = true;
        }
        for w in words(STOPWORDS) {
            g.word_mut(fold_with(w, &mut buf)).stopword = true;
        }
        for w in words(COMMON_WORDS) {
            g.word_mut(w).common = true;
        }
        for line in lines(GEONAMES_CITIES) {
            let toks = tokenize(line.trim());
            let (Some(first), n) = (toks.first(), toks.len()) else {
                continue;
            };
            let n = u16::try_from(n).unwrap_or(u16::MAX);
            let slot = &mut g.word_mut(fold_with(first.text, &mut buf)).geo_first;
            *slot = (*slot).max(n);
            let key = key_of(toks.iter().map(|t| t.text));
            for (at, _) in key.match_indices(' ') {
                if let Some(prefix) = key.get(..at) {
                    g.word_mut(prefix).geo_prefix = true;
                }
            }
            let info = g.word_mut(&key);
            info.geo_key = true;
            if !key.contains(' ') {
                info.geo_place = true;
            }
        }
    }

    /// The entry of `key` in the word table, made when missing.
    fn word_mut(&mut self, key: &str) -> &mut WordInfo {
        self.words.entry(key.as_bytes())
    }

    /// What the word lists say about this string (see [`WordInfo`]): a folded word
    /// ([`fold_token`]), or for [`WordInfo::common`] a lowercase one.
    pub fn word(&self, key: &str) -> WordInfo {
        self.words.get(key.as_bytes())
    }

    /// [`Gazetteers::word`] of a token folded ([`fold_token`]).
    pub fn word_of_token(&self, token: &str) -> WordInfo {
        self.words.get_folded(token)
    }

    /// Is this a common abbreviation that is not a name ("CEO", "DVD"; as written)?
    pub fn is_abbreviation(&self, token: &str) -> bool {
        self.abbreviations.contains(token)
    }

    /// Is this (lowercase) word a common English word ("service", "great")?
    pub fn is_common_word(&self, lower: &str) -> bool {
        self.word(lower).common
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
        let info = if first.chars().any(|c| c.is_uppercase() || c == '\u{2019}') {
            self.word_of_token(first)
        } else {
            self.word(first)
        };
        self.longest_geo_given(tokens, info)
    }

    /// [`Gazetteers::longest_geo`] told what the table says about the first token folded
    /// (or, when it holds neither a capital nor a '’', about the token as it is).
    pub(crate) fn longest_geo_given(&self, tokens: &[&str], first_info: WordInfo) -> Option<usize> {
        let max = first_info.geo_first as usize;
        if max == 0 {
            return None;
        }
        let n = max.min(tokens.len());
        if n <= 1 {
            // One word: its folded form is the key (no key to build). (A word starting a
            // listed place holds no white space, so its folded form holds none either.)
            return (n == 1 && first_info.geo_place).then_some(1);
        }
        // The key of the first `len` tokens is a prefix of the key of all of them: built once,
        // asked about at each length; the longest listed one wins. Short ASCII words (most)
        // are keyed on the stack, as `push_key` keys them: lowercase, one space between.
        let ascii = tokens.get(..n).is_some_and(|ts| {
            ts.iter().all(|t| t.is_ascii())
                && ts.iter().map(|t| t.len() + 1).sum::<usize>() <= STACK_KEY
        });
        if ascii {
            let mut buf = [0u8; STACK_KEY];
            let mut at = 0;
            let mut found = None;
            for (len, t) in (1..=n).zip(tokens) {
                push_ascii_lower(&mut buf, &mut at, t);
                let info = self.words.get(buf.get(..at).unwrap_or(&[]));
                if info.geo_key {
                    found = Some(len);
                }
                // (No longer key starts with this one and a space: none longer is listed.)
                if !info.geo_prefix && at > 0 {
                    break;
                }
            }
            return found;
        }
        let mut key = String::with_capacity(tokens.iter().take(n).map(|t| t.len() + 1).sum());
        let mut found = None;
        for (len, t) in (1..=n).zip(tokens) {
            push_key(&mut key, t);
            let info = self.words.get(key.as_bytes());
            if info.geo_key {
                found = Some(len);
            }
            if !info.geo_prefix && !key.is_empty() {
                break;
            }
        }
        found
    }

    /// Add a listed name; with `build`, its first word's [`WordInfo::entry_first`] too.
    fn add(&mut self, surface: &str, kind: NameKind, canonical: &str, build: bool) {
        let toks = tokenize(surface);
        if toks.is_empty() {
            return;
        }
        let key = key_of(toks.iter().map(|t| t.text));
        let letters: Vec<char> = surface.chars().filter(|c| c.is_alphabetic()).collect();
        let case_sensitive = letters.len() <= 5 && letters.iter().all(|c| c.is_uppercase());
        let surface_key = toks.iter().map(|t| t.text).collect::<Vec<_>>().join(" ");
        self.max_tokens = self.max_tokens.max(toks.len());
        if build && !key.contains(' ') {
            self.word_mut(&key).entry_key = true;
        }
        if build && let Some(first) = key.split(' ').next() {
            let count = u16::try_from(key.split(' ').count()).unwrap_or(u16::MAX);
            let slot = &mut self.word_mut(first).entry_first;
            *slot = (*slot).max(count);
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
        first.contains(char::is_whitespace) || self.word_of_token(first).entry_first > 0
    }

    /// The entry for exactly these tokens, if any (letter case checked for acronyms, and the
    /// first token must be capitalised).
    pub fn lookup(&self, tokens: &[&str]) -> Option<&Entry> {
        let first = tokens.first()?;
        if !starts_upper(first) || !self.may_start_entry(first) {
            return None;
        }
        let entry = with_key(tokens, |key| self.entries.get(key))?;
        self.checked(tokens, entry)
    }

    /// `entry` if its letter case fits `tokens` (acronyms match only as listed).
    fn checked<'e>(&self, tokens: &[&str], entry: &'e Entry) -> Option<&'e Entry> {
        if entry.case_sensitive && !joined_is(&entry.surface, tokens) {
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
        self.lookup_any_case_unchecked(tokens)
    }

    /// [`Gazetteers::lookup_any_case`] once the first token is known to be able to start an
    /// entry.
    fn lookup_any_case_unchecked(&self, tokens: &[&str]) -> Option<&Entry> {
        with_key(tokens, |key| self.entries.get(key)).filter(|e| !e.case_sensitive)
    }

    /// [`Gazetteers::lookup_any_case`] told what the table says about the first token
    /// ([`Gazetteers::word_of_token`]).
    pub(crate) fn lookup_any_case_given(
        &self,
        tokens: &[&str],
        first_info: WordInfo,
    ) -> Option<&Entry> {
        let first = tokens.first()?;
        // No entry is longer than the longest starting with this word (a word holding white
        // space is keyed as more than one: asked in full).
        // (One token: its folded form must be a listed key itself.)
        let may_be_listed = match tokens.len() {
            1 => first_info.entry_key,
            n => usize::from(first_info.entry_first) >= n,
        };
        if !may_be_listed && !first.contains(char::is_whitespace) {
            return None;
        }
        self.lookup_any_case_unchecked(tokens)
    }

    /// The longest entry starting at `tokens[0]` and not longer than `tokens`; returns its
    /// length in tokens. (The key is built once, word by word.)
    pub fn longest(&self, tokens: &[&str]) -> Option<(usize, &Entry)> {
        let first = tokens.first()?;
        if !starts_upper(first) {
            return None;
        }
        self.longest_given(tokens, self.word_of_token(first))
    }

    /// [`Gazetteers::longest`] told what the table says about the first token
    /// ([`Gazetteers::word_of_token`]).
    pub(crate) fn longest_given(
        &self,
        tokens: &[&str],
        first_info: WordInfo,
    ) -> Option<(usize, &Entry)> {
        let first = tokens.first()?;
        if !starts_upper(first) {
            return None;
        }
        // No entry is longer than the longest one starting with this word.
        let span = if first.contains(char::is_whitespace) {
            self.max_tokens
        } else {
            match first_info.entry_first as usize {
                0 => return None,
                n => n,
            }
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
        with_key(tokens, |key| self.person_aliases.get(key)).map(String::as_str)
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
        self.word_of_token(token).title
    }

    /// [`Gazetteers::title_role`] of a token already folded ([`fold_token`]).
    pub fn title_role_folded(&self, folded: &str) -> Option<TitleRole> {
        self.word(folded).title
    }

    /// Is this a common given name?
    pub fn is_given_name(&self, token: &str) -> bool {
        self.word_of_token(token).given
    }

    /// [`Gazetteers::is_given_name`] of a token already folded ([`fold_token`]).
    pub fn is_given_name_folded(&self, folded: &str) -> bool {
        self.word(folded).given
    }

    /// Is this a word that never starts a name?
    pub fn is_stopword(&self, token: &str) -> bool {
        self.word_of_token(token).stopword
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
    // Every prefix below starts with one of these letters, and ends in '-', '\'' or '’'
    // within its first 7 bytes: most words start no prefix.
    if !matches!(
        token.as_bytes().first(),
        Some(b'a' | b'b' | b'd' | b'e' | b'i' | b'l')
    ) {
        return false;
    }
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
mod word_table_tests {
    use super::*;

    #[test]
    fn packing_is_the_bytes_zero_padded() {
        let text = b"abcdefghijklmnopq";
        for n in 0..=INLINE_KEY {
            let mut buf = [0u8; 16];
            buf[..n].copy_from_slice(&text[..n]);
            let lo = u64::from_le_bytes(buf[..8].try_into().unwrap());
            let hi = u64::from_le_bytes(buf[8..].try_into().unwrap());
            assert_eq!(pack(&text[..n]), (lo, hi), "{n}");
        }
        // Every ASCII byte folds as `to_ascii_lowercase` does.
        for b in 0u8..0x80 {
            let x = u64::from_le_bytes([b, b'A', b'Z', b'@', b'[', b'a', b'z', 0]);
            let folded = ascii_lower_packed(x).to_le_bytes();
            assert_eq!(folded[0], b.to_ascii_lowercase());
            assert_eq!(&folded[1..], b"az@[az\0");
        }
    }

    #[test]
    fn folding_char_by_char_is_lowercase_with_straight_apostrophes() {
        // 'Σ' lowercases by its neighbours ("ΟΔΟΣ" ends in 'ς'), 'İ' to two chars, the Kelvin
        // sign to ASCII; long words pass the stack buffers.
        let long = "Ünïcödé-wörd-thät-is-rather-lönger-than-the-stäck-buffer";
        for w in [
            "’s",
            "Trump’s",
            "Québec",
            "ΟΔΟΣ",
            "ΣΑΣ Σ",
            "İstanbul",
            "\u{212a}ELVIN",
            "straße",
            "ǅemal",
            "—",
            "é",
            long,
            &long.to_uppercase(),
            "Cafe",
            "",
        ] {
            let want = w.to_lowercase().replace('\u{2019}', "'");
            assert_eq!(fold_token(w), want, "{w}");
            assert_eq!(fold_cow(w), want, "{w}");
            assert_eq!(with_folded(w, str::to_string), want, "{w}");
            let mut buf = String::from("stale");
            assert_eq!(fold_with(w, &mut buf), want, "{w}");
            assert_eq!(key_of(["New", w]), format!("new {want}"), "{w}");
            assert_eq!(with_key(&["New", w], str::to_string), format!("new {want}"));
        }
    }

    #[test]
    fn the_word_table_answers_as_its_lists() {
        let mut t = WordTable::default();
        let words: Vec<String> = (0..3000)
            .map(|k| match k % 4 {
                0 => format!("w{k}"),
                1 => format!("a-rather-long-word-{k}"),
                2 => format!("é{k}"),
                _ => format!("{k}"),
            })
            .chain(["".to_string(), "ab cd".to_string()])
            .collect();
        for (k, w) in words.iter().enumerate() {
            let info = t.entry(w.as_bytes());
            info.geo_first = k as u16;
            info.given = k % 3 == 0;
        }
        for (k, w) in words.iter().enumerate() {
            let info = t.get(w.as_bytes());
            assert_eq!((info.geo_first, info.given), (k as u16, k % 3 == 0), "{w}");
            // Asked in capitals, a word is found folded.
            let upper = w.to_uppercase();
            if upper.is_ascii() || fold_token(&upper) == *w {
                assert_eq!(t.get_folded(&upper), info, "{upper}");
            }
            assert_eq!(t.get_folded(w), t.get(fold_token(w).as_bytes()));
        }
        for absent in [
            "w1",
            "x",
            "W2X",
            "a-rather-long-word-2",
            "é",
            "ABCDEFGHIJKLMNOPQ",
        ] {
            assert_eq!(t.get_folded(absent), t.get(fold_token(absent).as_bytes()));
        }
        assert_eq!(t.get(b"nothing"), WordInfo::default());
    }

    #[test]
    fn the_compiled_word_table_is_the_one_the_lists_build() {
        // The build script's image is the table these lists build, and reads back as it.
        let built = Gazetteers::read(None);
        let image = Gazetteers::word_table_image();
        assert_eq!(image, built.words.image());
        assert!(
            image.as_slice() == crate::WORD_TABLE_IMAGE,
            "build.rs is out of date"
        );
        let read = WordTable::from_image(&image).expect("the image reads");
        assert_eq!(read.image(), image);
        let g = Gazetteers::builtin();
        assert_eq!(g.words.image(), image);
        for w in words(COMMON_WORDS).chain(words(GIVEN_NAMES)).chain([
            "ministry",
            "cup",
            "putin",
            "zzqx",
            "san",
            "new york city",
        ]) {
            assert_eq!(g.word(w), built.word(w), "{w}");
        }
        for place in [
            "New York City",
            "San Francisco",
            "Rio de Janeiro",
            "Paris",
            "Nowhere Else",
        ] {
            let toks: Vec<&str> = place.split(' ').collect();
            assert_eq!(g.longest_geo(&toks), built.longest_geo(&toks), "{place}");
        }
        assert_eq!(g.longest_geo(&["New", "York", "City"]), Some(3));
    }

    #[test]
    fn a_damaged_word_table_image_is_not_read() {
        let image = Gazetteers::word_table_image();
        assert!(WordTable::from_image(&[]).is_none());
        assert!(WordTable::from_image(b"GLNWORD1").is_none());
        for cut in [9, 16, 100, image.len() / 2, image.len() - 1] {
            assert!(
                WordTable::from_image(image.get(..cut).unwrap()).is_none(),
                "{cut}"
            );
        }
        let mut longer = image.clone();
        longer.push(0);
        assert!(WordTable::from_image(&longer).is_none());
        // A slot count that is not a power of two.
        let mut odd = image.clone();
        odd[8] ^= 1;
        assert!(WordTable::from_image(&odd).is_none());
        // Flags no table writes.
        let mut flags = image;
        let first_flags = 8 + 4 + 4 + 4 + 8 + 8 + 1 + 4;
        flags[first_flags + 1] = 0xff;
        assert!(WordTable::from_image(&flags).is_none());
    }

    #[test]
    fn the_builtin_table_matches_the_word_files() {
        let g = Gazetteers::builtin();
        for w in words(GIVEN_NAMES) {
            assert!(g.is_given_name(w), "{w}");
            assert!(g.is_given_name(&w.to_uppercase()), "{w}");
        }
        for w in words(STOPWORDS) {
            assert!(g.is_stopword(w), "{w}");
        }
        for w in words(COMMON_WORDS) {
            assert!(g.is_common_word(w), "{w}");
        }
        assert!(!g.is_common_word("qzxvwkjpf"));
        assert_eq!(g.title_role("President"), Some(TitleRole::Head));
        assert_eq!(g.title_role("PRESIDENT"), Some(TitleRole::Head));
        assert_eq!(g.title_role("Potato"), None);
    }
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
