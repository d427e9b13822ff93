//! The statistical name model: an averaged structured perceptron over BIO labels
//! (PER, LOC, ORG, MISC) with first-order Viterbi decoding.
//!
//! Every token is described by hashed features ([`sequence_features`]): the word and its
//! lowercase form, shape, prefixes and suffixes, capitalisation class, its place in the
//! sentence, the words and shapes around it (±2), and what gleaner's own knowledge says about
//! it — the built-in gazetteers and the rule labeler's opinion ([`crate::names::RuleLabeler`]),
//! both as features that the weights may trust or not, never as hard decisions.
//!
//! The weights are trained by the `train` example from CoNLL-2003 (see `model/README.md`) and
//! compiled in with `include_bytes!`. [`NameModel::from_bytes`] reads the compact format
//! [`NameModel::to_bytes`] writes: keys delta-coded as varints, per feature a mask of the labels
//! it has weights for, and the weights as 16-bit fixed point. Reading never panics: a damaged
//! model reads as an error, and the tagger then runs on its rules alone.
//!
//! Training ([`Trainer`]) lives here too, because it must compute features exactly as tagging
//! does; it is pure (the example does the file reading and writing) and deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::NameKind;
use crate::gazetteer::{Gazetteers, TitleRole, WordInfo, starts_upper};
use crate::names::{
    Confidence, DocContext, NameLabeler, NameSpan, RuleLabeler, is_headline_known, known_words,
};
use crate::tokenize::Token;

/// The labels, in the model's order.
pub const LABELS: [&str; 9] = [
    "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC",
];
/// Number of labels.
pub const N_LABELS: usize = LABELS.len();
/// The "previous label" index at the start of a sequence.
const START: usize = N_LABELS;

/// The label index of an IOB2 tag (`O` for anything unknown).
pub fn label_index(tag: &str) -> usize {
    LABELS.iter().position(|l| *l == tag).unwrap_or(0)
}

/// The kind of a label (`None` for `O`); MISC is [`NameKind::Other`].
pub fn label_kind(label: usize) -> Option<NameKind> {
    match label {
        1 | 2 => Some(NameKind::Person),
        3 | 4 => Some(NameKind::Location),
        5 | 6 => Some(NameKind::Organization),
        7 | 8 => Some(NameKind::Other),
        _ => None,
    }
}

fn is_inside(label: usize) -> bool {
    label > 0 && label < N_LABELS && label.is_multiple_of(2)
}

/// May `cur` follow `prev` in IOB2? (An I- label continues a name of the same type.)
fn allowed(prev: usize, cur: usize) -> bool {
    !is_inside(cur) || (prev != START && prev != 0 && prev.div_ceil(2) == cur.div_ceil(2))
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, k: u32) {
        self.0 = u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeyMap<V> = HashMap<u32, V, BuildHasherDefault<KeyHasher>>;

/// Feature keys: each token's strings (the word, its lowercase form and shape, its prefixes
/// and suffixes) are hashed once ([`str_hash`]), and a feature's key is a cheap mix of its
/// template's id with one or two such hashes or with its small numbers packed into a word
/// ([`pack`]). (Until issue 12's second round every feature hashed its strings again, byte by
/// byte with FNV-1a: two thousand instructions a token. The same features, the same
/// information: a model trained on either scores alike; the keys differ, so the model file is
/// retrained with them.)
const P0: u64 = 0x243F_6A88_85A3_08D3;
const P1: u64 = 0x1319_8A2E_0370_7345;
const P2: u64 = 0xA409_3822_299F_31D1;
const P3: u64 = 0x082E_FA98_EC4E_6C89;
const P4: u64 = 0x4528_21E6_38D0_1377;
const P5: u64 = 0xBE54_66CF_34E9_0C6D;

/// The 128-bit product of `a` and `b`, its halves xored: a fast mix of two words.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A 64-bit hash of a string, eight bytes a step.
fn str_hash(s: &str) -> u64 {
    bytes_hash(s.as_bytes())
}

/// [`str_hash`] of a string's bytes.
fn bytes_hash(bytes: &[u8]) -> u64 {
    let mut h = (bytes.len() as u64) ^ P0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = chunk.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
        h = fold_mul(h ^ word, P1);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let word = rest.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b));
        h = fold_mul(h ^ word, P1);
    }
    fold_mul(h, P2)
}

/// Small numbers (capitalisation classes, labels, flags) packed into one word, a leading 1
/// marking how many there are.
#[inline]
fn pack(ns: &[u8]) -> u64 {
    ns.iter().fold(1u64, |v, &n| v << 8 | u64::from(n))
}

/// The seed of a template.
#[inline]
fn template_key(t: u8) -> u64 {
    (u64::from(t) + 1).wrapping_mul(P5)
}

#[inline]
fn fold32(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// The key of template `t` over one value (a string's hash, or numbers [`pack`]ed).
#[inline]
fn feat(t: u8, a: u64) -> u32 {
    fold32(fold_mul(a ^ template_key(t), P3))
}

/// The key of template `t` over two values, in order.
#[inline]
fn feat2(t: u8, a: u64, b: u64) -> u32 {
    fold32(fold_mul(fold_mul(a ^ template_key(t), P3) ^ b, P4))
}

/// What is known about one token before its features are built.
struct TokenInfo {
    /// The place of what the word's text decides ([`WordFacts`]) in the [`WordCache`].
    word: usize,
    cap: u8,
    /// Gazetteer label (index into [`LABELS`]) of the longest listed name covering it.
    gaz: u8,
    /// Rule labeler label × 3 + confidence.
    rule: u8,
    /// A listed given name (the word's other list flags are in its [`WordFacts::flags`]).
    given: bool,
    sentence_start: bool,
    /// A common English word in lowercase.
    common: bool,
    /// GeoNames city label: 0 none, then B/I (1/2) capitalised, (3/4) lowercase, (5/6) other.
    geo: u8,
    /// Word cluster (fine, coarse) of the lowercase word, if known.
    cluster: Option<(u8, u8)>,
}

/// Capitalisation classes.
fn cap_class(w: &str) -> u8 {
    let mut upper = 0;
    let mut lower = 0;
    let mut digit = 0;
    let mut other = 0;
    if w.is_ascii() {
        // The same classes, by the byte.
        for &b in w.as_bytes() {
            match b {
                b'A'..=b'Z' => upper += 1,
                b'a'..=b'z' => lower += 1,
                b'0'..=b'9' => digit += 1,
                _ => other += 1,
            }
        }
    } else {
        for c in w.chars() {
            if c.is_uppercase() {
                upper += 1;
            } else if c.is_lowercase() {
                lower += 1;
            } else if c.is_numeric() {
                digit += 1;
            } else {
                other += 1;
            }
        }
    }
    let first_upper = starts_upper(w);
    match (upper, lower, digit, other) {
        (0, 0, 0, _) => 0,                            // punctuation
        (0, _, 0, _) => 1,                            // lowercase
        (_, 0, 0, _) if upper == 1 && other > 0 => 2, // "U." an initial
        (_, 0, 0, _) => 3,                            // ALLCAPS
        _ if digit > 0 && upper + lower == 0 => 4,    // number
        _ if digit > 0 => 5,                          // alphanumeric
        _ if first_upper && upper == 1 => 6,          // Title
        _ if first_upper => 7,                        // MixedCase starting upper
        _ => 8,                                       // camelCase, iPhone
    }
}

/// The words' lowercase forms of a document, in one buffer (one allocation for the
/// document, not one for every word).
struct Texts(String);

impl Texts {
    fn get(&self, range: &std::ops::Range<usize>) -> &str {
        self.0.get(range.clone()).unwrap_or("")
    }
    /// Append `w` in lowercase (exactly `str::to_lowercase`), giving its place.
    fn push_lower(&mut self, w: &str) -> std::ops::Range<usize> {
        let start = self.0.len();
        if w.is_ascii() {
            self.0.push_str(w);
            if let Some(tail) = self.0.get_mut(start..) {
                tail.make_ascii_lowercase();
            }
        } else {
            // Final sigma and the like: the standard library's rules, as before.
            self.0.push_str(&w.to_lowercase());
        }
        start..self.0.len()
    }
}

/// [`str_hash`] of the shape of `w` (see [`TokenInfo::shape`]; only its hash is used): an
/// ASCII word's is made on the stack and hashed there, another's in `scratch`.
fn shape_hash(w: &str, scratch: &mut String) -> u64 {
    if w.is_ascii() {
        // The same, by the byte (the first 40 chars are the first 40 bytes).
        let mut buf = [0u8; 40];
        let mut n = 0;
        let mut last = 0u8;
        for &b in w.as_bytes().iter().take(40) {
            let s = match b {
                b'A'..=b'Z' => b'X',
                b'a'..=b'z' => b'x',
                b'0'..=b'9' => b'd',
                _ => b,
            };
            if s != last {
                if let Some(slot) = buf.get_mut(n) {
                    *slot = s;
                }
                n += 1;
                last = s;
            }
        }
        return bytes_hash(buf.get(..n.min(40)).unwrap_or(&[]));
    }
    scratch.clear();
    let out = scratch;
    let mut last = '\0';
    for (k, c) in w.chars().enumerate() {
        if k >= 40 {
            break;
        }
        let s = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if s != last {
            out.push(s);
            last = s;
        }
    }
    str_hash(out)
}

/// What a word's text alone decides of its features, made once per distinct word of a
/// document ([`WordCache`]): its lowercase form, the hashes its neighbours' features ask for,
/// its capitalisation class and cluster, and the sink's rows (or keys) of the features of the
/// word alone — the bias, the word, its lowercase form and shape (templates 0–3), and its
/// prefixes and suffixes (6 and 7), in the order they are given.
#[derive(Clone, Copy)]
struct WordFacts<R> {
    /// The lowercase word: its place in the cache's text buffer ([`Texts`]).
    lower: (usize, usize),
    /// [`str_hash`] of the lowercase word.
    lower_hash: u64,
    /// [`str_hash`] of the word as written.
    text_hash: u64,
    /// [`str_hash`] of the shape: "Xxxx" → "Xx", "IBM" → "X", "1996-08-22" → "d-d-d":
    /// character classes, runs collapsed ([`shape_hash`]).
    shape: u64,
    cap: u8,
    /// The lowercase word holds no '’' (it is its own folded form).
    plain: bool,
    /// Word cluster (fine, coarse) of the lowercase word, if known.
    cluster: Option<(u8, u8)>,
    /// Templates 0–3's rows.
    head: [R; 4],
    /// The rows of templates 10–13 over this word (its neighbours' features: the word one
    /// before, one after, two before, two after).
    near: [R; 4],
    /// The prefixes' and suffixes' rows, `affixes` of them (prefix then suffix of 1–4 chars).
    affix: [R; 8],
    affixes: u8,
    /// The rows of the small templates over the word alone: 4 (class), 8 (length, class),
    /// 50–52 (clusters, class).
    own: [R; 5],
    /// The rows of templates 53 and 54 over this word (its fine cluster as the word one
    /// before and one after).
    near_cluster: [R; 2],
    /// The rows of template 30 over the word's list flags, and of 31–34 over them as the
    /// flags of the word one before, one after, two after, two before.
    flags: [R; 5],
}

/// The rows of templates 10–13 over a lowercase word's hash (see [`WordFacts::near`]).
fn near_rows<R>(lower_hash: u64, f: &impl FeatureSink<Row = R>) -> [R; 4] {
    [
        f.row_of(feat(10, lower_hash)),
        f.row_of(feat(11, lower_hash)),
        f.row_of(feat(12, lower_hash)),
        f.row_of(feat(13, lower_hash)),
    ]
}

/// The most tokens a sequence given to the model has, for sizing a [`WordCache`] (a longer one
/// only makes it grow).
const MAX_SEQUENCE_WORDS: usize = crate::MAX_SENTENCE_TOKENS;

/// The most distinct words a [`WordCache`] keeps: past it, it starts again at the next
/// sequence (an article has a few hundred, a long one a few thousand; the bound keeps a
/// hostile page of distinct words from growing it with the page).
const WORD_CACHE_WORDS: usize = 8192;

/// Each distinct word's [`WordFacts`] over the sequences of one document: a word met again
/// (most words of an article are) costs one hash lookup instead of lowercasing, classing,
/// shaping and hashing it and probing the model's table for eleven of its features. The facts
/// are what the word's text decides, the rows those its keys find: the scores are the same to
/// the bit. Keyed by the word's text, hashed with a seeded foldhash (the keys are the page's
/// own words).
pub(crate) struct WordCache<'t, R> {
    index: foldhash::HashMap<&'t str, usize>,
    words: Vec<WordFacts<R>>,
    texts: Texts,
    scratch: String,
}

impl<R> Default for WordCache<'_, R> {
    fn default() -> Self {
        WordCache {
            index: foldhash::HashMap::default(),
            words: Vec::new(),
            texts: Texts(String::new()),
            scratch: String::new(),
        }
    }
}

/// The [`WordCache`] of tagging with a model read from bytes (its rows).
pub(crate) type WordRows<'t, 'm> = WordCache<'t, &'m [f32; N_LABELS]>;

impl<'t, R: Copy> WordCache<'t, R> {
    /// A cache with room for the words of a document of `tokens` tokens (up to its bound),
    /// so that it never grows while tagging it.
    pub(crate) fn for_tokens(tokens: usize) -> Self {
        let words = tokens.min(WORD_CACHE_WORDS + MAX_SEQUENCE_WORDS);
        WordCache {
            index: foldhash::HashMap::with_capacity_and_hasher(words, Default::default()),
            words: Vec::with_capacity(words),
            texts: Texts(String::with_capacity(words * 8)),
            scratch: String::new(),
        }
    }

    /// The place of `w`'s facts, made if `w` is new.
    /// `folded`: what the word lists say about `w` folded ([`Gazetteers::word_of_token`],
    /// which depends on `w` alone).
    fn place(
        &mut self,
        w: &'t str,
        folded: WordInfo,
        gaz: &Gazetteers,
        f: &impl FeatureSink<Row = R>,
    ) -> usize {
        if let Some(&at) = self.index.get(w) {
            return at;
        }
        let facts = self.make(w, folded, gaz, f);
        let at = self.words.len();
        self.words.push(facts);
        self.index.insert(w, at);
        at
    }

    /// The lowercase word of `facts`.
    fn lower(&self, facts: &WordFacts<R>) -> &str {
        self.texts.get(&(facts.lower.0..facts.lower.1))
    }

    /// Forget every word (the sequences after this start again).
    fn clear(&mut self) {
        self.index.clear();
        self.words.clear();
        self.texts.0.clear();
    }

    fn make(
        &mut self,
        w: &str,
        folded: WordInfo,
        gaz: &Gazetteers,
        f: &impl FeatureSink<Row = R>,
    ) -> WordFacts<R> {
        // Lowercase once; folded (straight apostrophes) for the word lists.
        let lower_at = self.texts.push_lower(w);
        let shape = shape_hash(w, &mut self.scratch);
        let lower = self.texts.get(&lower_at);
        let lower_hash = str_hash(lower);
        let text_hash = if w.len() == lower.len() && w == lower {
            lower_hash
        } else {
            str_hash(w)
        };
        let head = [
            f.row_of(feat(0, 0)),
            f.row_of(feat(1, text_hash)),
            f.row_of(feat(2, lower_hash)),
            f.row_of(feat(3, shape)),
        ];
        // Prefixes and suffixes (of up to 4 chars) of the first 64 chars, `len` of them
        // (ending at byte `end`): `first[k]` is where char `k` starts, `last[k]` where the
        // `k`-th char from the end starts (only those asked for are found).
        let mut first = [0usize; 5];
        let mut len = 0;
        let mut end = lower.len();
        for (b, _) in lower.char_indices() {
            if len == 64 {
                end = b;
                break;
            }
            if let Some(slot) = first.get_mut(len) {
                *slot = b;
            }
            len += 1;
        }
        let cut = lower.get(..end).unwrap_or("");
        let mut last = [end; 5];
        for (slot, (b, _)) in last.iter_mut().skip(1).zip(cut.char_indices().rev()) {
            *slot = b;
        }
        let mut affix = [head[0]; 8];
        let mut affixes = 0u8;
        for k in 1..=4usize {
            if len > k {
                let prefix = cut.get(..first.get(k).copied().unwrap_or(0)).unwrap_or("");
                let suffix = cut.get(last.get(k).copied().unwrap_or(end)..).unwrap_or("");
                for key in [
                    feat2(6, k as u64, str_hash(prefix)),
                    feat2(7, k as u64, str_hash(suffix)),
                ] {
                    if let Some(slot) = affix.get_mut(usize::from(affixes)) {
                        *slot = f.row_of(key);
                        affixes += 1;
                    }
                }
            }
        }
        let cap = cap_class(w);
        let cluster = gaz.word_cluster(lower);
        let len = len.min(12) as u8;
        // (The cluster codes as the features write them: 255 for a word without one.)
        let fine = cluster.map_or(255, |c| c.0);
        let coarse = cluster.map_or(255, |c| c.1);
        // The word's list flags, as `each_token_features` makes them for a token.
        let head_word = |listed: bool| listed || !w.is_ascii();
        let given = u8::from(folded.given);
        let title = match folded.title {
            None => 0,
            Some(TitleRole::Head) => 1,
            Some(TitleRole::Modifier) => 2,
        };
        let org = u8::from(head_word(folded.org_folded) && gaz.is_org_word(w));
        let misc = u8::from(head_word(folded.misc_folded) && gaz.is_misc_word(w));
        let alias = u8::from(folded.alias);
        let bits = given | title << 1 | org << 3 | misc << 4 | alias << 5;
        WordFacts {
            flags: [
                f.small_of::<30>(&[given, title, org, misc, alias]),
                f.small_of::<31>(&[bits]),
                f.small_of::<32>(&[bits]),
                f.small_of::<33>(&[bits]),
                f.small_of::<34>(&[bits]),
            ],
            own: [
                f.small_of::<4>(&[cap]),
                f.small_of::<8>(&[len, cap]),
                f.small_of::<50>(&[fine]),
                f.small_of::<51>(&[fine, cap]),
                f.small_of::<52>(&[coarse, cap]),
            ],
            near_cluster: [f.small_of::<53>(&[fine]), f.small_of::<54>(&[fine])],
            lower: (lower_at.start, lower_at.end),
            lower_hash,
            text_hash,
            shape,
            cap,
            plain: !lower.contains('\u{2019}'),
            cluster,
            head,
            near: near_rows(lower_hash, f),
            affix,
            affixes,
        }
    }
}

/// The gazetteer label of each token: the longest listed name starting at each position
/// (labels + 10 for a name of one or two words found in lowercase, "kerala", "taco bell").
/// `folded`: what the word table says about each word folded ([`Gazetteers::word_of_token`]).
fn gazetteer_labels(words: &[&str], folded: &[WordInfo], gaz: &Gazetteers) -> Vec<u8> {
    let mut out = vec![0u8; words.len()];
    let mut i = 0;
    let lowercase = |w: &&str| w.len() >= 3 && w.chars().all(char::is_lowercase);
    while i < words.len() {
        let info = folded.get(i).copied().unwrap_or_default();
        let mut found = words
            .get(i..)
            .and_then(|rest| gaz.longest_given(rest, info));
        let mut offset = 0;
        // (`lookup_any_case_given` finds nothing for a word no entry starts with, unless it
        // holds white space, which a lowercase word does not: the lowercase test is skipped
        // for such a word, most words.)
        if found.is_none() && info.entry_first > 0 && words.get(i).is_some_and(lowercase) {
            found = [2, 1].into_iter().find_map(|len| {
                let ws = words.get(i..i + len)?;
                if !ws.iter().all(lowercase) {
                    return None;
                }
                gaz.lookup_any_case_given(ws, info).map(|e| (len, e))
            });
            offset = 10;
        }
        let Some((len, entry)) = found else {
            i += 1;
            continue;
        };
        let b = offset
            + match entry.kind {
                NameKind::Person => 1,
                NameKind::Location => 3,
                NameKind::Organization => 5,
                NameKind::Group | NameKind::Other => 7,
            };
        for k in 0..len.max(1) {
            if let Some(slot) = out.get_mut(i + k) {
                *slot = if k == 0 { b } else { b + 1 };
            }
        }
        i += len.max(1);
    }
    out
}

/// The GeoNames label of each token (see [`TokenInfo::geo`]). `folded` as for
/// [`gazetteer_labels`].
fn geo_labels(words: &[&str], folded: &[WordInfo], gaz: &Gazetteers) -> Vec<u8> {
    let mut out = vec![0u8; words.len()];
    let mut i = 0;
    while i < words.len() {
        let rest = words.get(i..).unwrap_or(&[]);
        let first = rest.first().copied().unwrap_or("");
        // (`longest_geo` asks about a word without a capital or a '’' as it is, which is its
        // folded form unless it holds a title-case letter or the like.)
        let info = match folded.get(i) {
            Some(&info)
                if first.is_ascii()
                    || first.chars().any(|c| c.is_uppercase() || c == '\u{2019}')
                    || with_folded_eq(first) =>
            {
                info
            }
            _ => gaz.word(first),
        };
        let Some(len) = gaz.longest_geo_given(rest, info) else {
            i += 1;
            continue;
        };
        let b = if starts_upper(first) && first.chars().any(char::is_lowercase) {
            1
        } else if first.chars().all(|c| !c.is_uppercase()) {
            3
        } else {
            5
        };
        for (k, slot) in out.iter_mut().skip(i).take(len).enumerate() {
            *slot = if k == 0 { b } else { b + 1 };
        }
        i += len.max(1);
    }
    out
}

/// Is `w` its own folded form ([`crate::gazetteer::fold_token`])?
fn with_folded_eq(w: &str) -> bool {
    crate::gazetteer::fold_cow(w) == w
}

/// The rule labeler's names over a sequence, sentence by sentence (split at the tokens'
/// sentence starts), with token indices into the whole sequence.
pub(crate) fn rule_spans(toks: &[Token<'_>], gaz: &Gazetteers, doc: &DocContext) -> Vec<NameSpan> {
    rule_spans_known(toks, gaz, doc, None)
}

/// What [`rule_spans_known`] is told about a sequence that is one sentence: whether it is a
/// headline ([`is_headline`](crate::names::is_headline)) and what the word lists say about
/// each of its tokens ([`known_words`]).
#[derive(Clone, Copy)]
pub(crate) struct Known<'k> {
    pub headline: bool,
    pub words: &'k [WordInfo],
}

/// [`rule_spans`] told what [`Known`] holds of the whole sequence, used when the sequence is one
/// sentence (no sentence starts after its first token).
pub(crate) fn rule_spans_known(
    toks: &[Token<'_>],
    gaz: &Gazetteers,
    doc: &DocContext,
    known: Option<Known<'_>>,
) -> Vec<NameSpan> {
    let labeler = RuleLabeler::new(gaz);
    let mut out = Vec::new();
    let mut begin = 0;
    while begin < toks.len() {
        let mut end = begin + 1;
        while toks.get(end).is_some_and(|t| !t.sentence_start) {
            end += 1;
        }
        let sentence = toks.get(begin..end).unwrap_or(&[]);
        let spans = match known {
            Some(k) if begin == 0 && end == toks.len() => {
                labeler.label_known(sentence, k.words, doc, k.headline)
            }
            _ => labeler.label(sentence, doc),
        };
        for mut span in spans {
            span.first += begin;
            span.last += begin;
            out.push(span);
        }
        begin = end;
    }
    out
}

/// The rule labeler's label of each token: label × 3 + confidence.
fn rule_labels(len: usize, rules: &[NameSpan]) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for span in rules.iter().filter(|s| s.whole_tokens) {
        let b: u8 = match span.kind {
            NameKind::Person => 1,
            NameKind::Location => 3,
            NameKind::Organization => 5,
            NameKind::Group | NameKind::Other => 7,
        };
        let conf = match span.confidence {
            Confidence::Guess => 0,
            Confidence::Rule => 1,
            Confidence::Listed => 2,
        };
        for k in span.first..span.last {
            if let Some(slot) = out.get_mut(k) {
                *slot = if k == span.first { b } else { b + 1 } * 3 + conf;
            }
        }
    }
    out
}

const PAD: &str = "<pad>";

/// The hashed features of each token of a sequence.
pub type SequenceFeatures = Vec<Vec<u32>>;

/// The hashed features of every token of a sequence (one sentence, or one CoNLL line group).
pub fn sequence_features(toks: &[Token<'_>], gaz: &Gazetteers, doc: &DocContext) -> Vec<Vec<u32>> {
    sequence_features_with_rules(toks, gaz, &rule_spans(toks, gaz, doc), doc)
}

/// [`sequence_features`] given the rule labeler's names over the sequence ([`rule_spans`]).
pub(crate) fn sequence_features_with_rules(
    toks: &[Token<'_>],
    gaz: &Gazetteers,
    rules: &[NameSpan],
    doc: &DocContext,
) -> Vec<Vec<u32>> {
    let mut out = Vec::with_capacity(toks.len());
    let known = known_words(toks, gaz);
    let headline = is_headline_known(toks, &known);
    let mut keys = Keys::new(|_, f: &[u32]| out.push(f.to_vec()));
    let mut cache = WordCache::default();
    each_token_features(
        toks, gaz, &known, rules, doc, headline, &mut keys, &mut cache,
    );
    out
}

/// The most features a token has: fewer than 70 (every template once, the affixes four times
/// each), so this never fills up.
const MAX_TOKEN_FEATURES: usize = 128;

/// One token's features, in a buffer on the stack reused for every token: a push is a store
/// and an increment, not a `Vec`'s check of its capacity (sixty pushes a token). A push past
/// [`MAX_TOKEN_FEATURES`] (none: see there) goes to `more`, so nothing is ever lost.
struct TokenFeatures {
    buf: [u32; MAX_TOKEN_FEATURES],
    len: usize,
    more: Vec<u32>,
}

impl Default for TokenFeatures {
    fn default() -> Self {
        TokenFeatures {
            buf: [0; MAX_TOKEN_FEATURES],
            len: 0,
            more: Vec::new(),
        }
    }
}

impl TokenFeatures {
    fn clear(&mut self) {
        self.len = 0;
        self.more.clear();
    }

    #[inline]
    fn push(&mut self, feature: u32) {
        match self.buf.get_mut(self.len) {
            Some(slot) if self.more.is_empty() => {
                *slot = feature;
                self.len += 1;
            }
            _ => {
                if self.more.is_empty() {
                    self.more
                        .extend_from_slice(self.buf.get(..self.len).unwrap_or(&[]));
                }
                self.more.push(feature);
            }
        }
    }

    fn as_slice(&self) -> &[u32] {
        if self.more.is_empty() {
            self.buf.get(..self.len).unwrap_or(&[])
        } else {
            &self.more
        }
    }
}

/// Where [`each_token_features`] puts each token's features, in order: collected as keys
/// ([`Keys`], for training and [`sequence_features`]) or scored as they come ([`Scorer`]).
trait FeatureSink {
    /// What a feature's key resolves to: the key itself, or the row it finds.
    type Row: Copy;
    /// What `key` resolves to ([`FeatureSink::row`] of it is [`FeatureSink::key`] of it).
    fn row_of(&self, key: u32) -> Self::Row;
    /// A feature, resolved ([`FeatureSink::row_of`]).
    fn row(&mut self, row: Self::Row);
    /// What small template `T`'s feature over `ns` resolves to ([`FeatureSink::row`] of it is
    /// [`FeatureSink::small`] of `ns`).
    fn small_of<const T: u8>(&self, ns: &[u8]) -> Self::Row;
    /// A token's features begin.
    fn begin(&mut self);
    /// A feature, by its key.
    fn key(&mut self, key: u32);
    /// The feature of small template `T` ([`SMALL`]) over its numbers: the key
    /// `feat(T, pack(ns))`. (The template is a constant, so that its domains are too.)
    fn small<const T: u8>(&mut self, ns: &[u8]);
    /// Token `i`'s features are all given.
    fn end(&mut self, i: usize);
}

/// Each token's feature keys, handed to a function (its index and its keys, in one buffer
/// reused for every token).
struct Keys<F: FnMut(usize, &[u32])> {
    f: TokenFeatures,
    sink: F,
}

impl<F: FnMut(usize, &[u32])> Keys<F> {
    fn new(sink: F) -> Self {
        Keys {
            f: TokenFeatures::default(),
            sink,
        }
    }
}

impl<F: FnMut(usize, &[u32])> FeatureSink for Keys<F> {
    type Row = u32;
    fn row_of(&self, key: u32) -> u32 {
        key
    }
    fn small_of<const T: u8>(&self, ns: &[u8]) -> u32 {
        feat(T, pack(ns))
    }
    #[inline]
    fn row(&mut self, key: u32) {
        self.f.push(key);
    }
    fn begin(&mut self) {
        self.f.clear();
    }
    #[inline]
    fn key(&mut self, key: u32) {
        self.f.push(key);
    }
    #[inline]
    fn small<const T: u8>(&mut self, ns: &[u8]) {
        self.f.push(feat(T, pack(ns)));
    }
    fn end(&mut self, i: usize) {
        (self.sink)(i, self.f.as_slice());
    }
}

/// Each token's label scores, its features' rows added as they come, in their order (the
/// same sums, to the bit, as [`RowTable::sum`] of its keys: the same rows in the same order;
/// a small template's row is the one its key finds, from [`SmallRows`]).
struct Scorer<'m> {
    table: &'m RowTable,
    small: &'m SmallRows,
    /// The token's rows so far, in order, not yet added to `sum` (added in one tight loop
    /// when the token ends, or when this fills up: never, see [`MAX_TOKEN_FEATURES`]).
    rows: [&'m [f32; N_LABELS]; MAX_TOKEN_FEATURES],
    len: usize,
    sum: [f32; N_LABELS],
    scores: Vec<[f32; N_LABELS]>,
}

/// The row of a feature the model does not hold.
static ZEROS: [f32; N_LABELS] = [0.0; N_LABELS];

impl<'m> Scorer<'m> {
    fn new(table: &'m RowTable, small: &'m SmallRows, tokens: usize) -> Self {
        Scorer {
            table,
            small,
            rows: [&ZEROS; MAX_TOKEN_FEATURES],
            len: 0,
            sum: [0f32; N_LABELS],
            scores: vec![[0f32; N_LABELS]; tokens],
        }
    }

    #[inline(always)]
    fn push(&mut self, row: &'m [f32; N_LABELS]) {
        if self.len == MAX_TOKEN_FEATURES {
            self.flush();
        }
        if let Some(slot) = self.rows.get_mut(self.len) {
            *slot = row;
            self.len += 1;
        }
    }

    /// Add the rows held to `sum`, in their order.
    fn flush(&mut self) {
        let mut s = self.sum;
        for row in self.rows.get(..self.len).unwrap_or(&[]) {
            for (a, &w) in s.iter_mut().zip(row.iter()) {
                *a += w;
            }
        }
        self.sum = s;
        self.len = 0;
    }
}

impl<'m> FeatureSink for Scorer<'m> {
    type Row = &'m [f32; N_LABELS];
    #[inline]
    fn row_of(&self, key: u32) -> &'m [f32; N_LABELS] {
        let table = self.table;
        // (An absent key gives the row of zeros, as in `RowTable::sum`.)
        table.rows.get(table.place(key)).unwrap_or(&ZEROS)
    }
    #[inline]
    fn row(&mut self, row: &'m [f32; N_LABELS]) {
        self.push(row);
    }
    fn small_of<const T: u8>(&self, ns: &[u8]) -> &'m [f32; N_LABELS] {
        let small = self.small;
        match small.row::<T>(ns) {
            Some(row) => row,
            None => self.row_of(feat(T, pack(ns))),
        }
    }
    fn begin(&mut self) {
        self.sum = [0f32; N_LABELS];
        self.len = 0;
    }
    #[inline]
    fn key(&mut self, key: u32) {
        let row = self.row_of(key);
        self.push(row);
    }
    #[inline(always)]
    fn small<const T: u8>(&mut self, ns: &[u8]) {
        let small = self.small;
        match small.row::<T>(ns) {
            Some(row) => self.push(row),
            None => self.key(feat(T, pack(ns))),
        }
    }
    fn end(&mut self, i: usize) {
        self.flush();
        if let Some(s) = self.scores.get_mut(i) {
            *s = self.sum;
        }
    }
}

/// The hashed features of every token of a sequence, handed to `f` token by token, in order
/// ([`FeatureSink`]): what [`sequence_features_with_rules`] collects as keys ([`Keys`]) and
/// [`NameModel::decode_sequence`] scores without keeping them ([`Scorer`]; a small template's
/// feature by its numbers, [`SMALL`]). `known`: [`known_words`] of `toks`; `headline`:
/// [`is_headline`](crate::names::is_headline) of `toks`. `cache`: the document's words met
/// so far ([`WordCache`]), whose features over the word alone are resolved once.
#[allow(clippy::too_many_arguments)]
fn each_token_features<'t, F: FeatureSink>(
    toks: &[Token<'t>],
    gaz: &Gazetteers,
    known: &[WordInfo],
    rules: &[NameSpan],
    doc: &DocContext,
    headline: bool,
    f: &mut F,
    cache: &mut WordCache<'t, F::Row>,
) {
    if cache.words.len() >= WORD_CACHE_WORDS {
        cache.clear();
    }
    let words: Vec<&str> = toks.iter().map(|t| t.text).collect();
    // What the word lists say about each word, folded (one lookup a word for all of them,
    // made by the caller).
    let gaz_labels = gazetteer_labels(&words, known, gaz);
    let geo = geo_labels(&words, known, gaz);
    let rules = rule_labels(toks.len(), rules);
    let infos: Vec<TokenInfo> = toks
        .iter()
        .enumerate()
        .map(|(k, t)| {
            // The lists' answers about the word folded (`known`; the lowercase form is the
            // folded one unless it holds a '’'; a head word folds to a listed folded form).
            let folded = known.get(k).copied().unwrap_or_default();
            // What the word's text decides, made the first time the document has it.
            let word = cache.place(t.text, folded, gaz, &*f);
            let w = cache.words.get(word);
            let lower = w.map_or("", |w| cache.lower(w));
            let plain = w.is_none_or(|w| w.plain);
            TokenInfo {
                word,
                cap: w.map_or(0, |w| w.cap),
                gaz: gaz_labels.get(k).copied().unwrap_or(0),
                rule: rules.get(k).copied().unwrap_or(0),
                given: folded.given,
                sentence_start: t.sentence_start,
                geo: geo.get(k).copied().unwrap_or(0),
                common: if plain {
                    folded.common
                } else {
                    gaz.is_common_word(lower)
                },
                cluster: w.and_then(|w| w.cluster),
            }
        })
        .collect();
    let n = toks.len();
    // Each token's forms hashed once (every token's are asked for by five of its neighbours).
    let word_at = |x: &TokenInfo| cache.words.get(x.word);
    let lower_hashes: Vec<u64> = infos
        .iter()
        .map(|x| word_at(x).map_or(0, |w| w.lower_hash))
        .collect();
    let shape_hashes: Vec<u64> = infos
        .iter()
        .map(|x| word_at(x).map_or(0, |w| w.shape))
        .collect();
    let pad = str_hash(PAD);
    let pad_near = near_rows(pad, &*f);
    let pad_cluster = [f.small_of::<53>(&[254]), f.small_of::<54>(&[254])];
    let pad_flags = [
        f.small_of::<31>(&[99]),
        f.small_of::<32>(&[99]),
        f.small_of::<33>(&[99]),
        f.small_of::<34>(&[99]),
    ];
    for i in 0..toks.len() {
        f.begin();
        let Some(me) = infos.get(i) else { break };
        let at =
            |d: isize| -> Option<&TokenInfo> { i.checked_add_signed(d).and_then(|j| infos.get(j)) };
        let hash_at = |hashes: &[u64], d: isize| {
            i.checked_add_signed(d)
                .and_then(|j| hashes.get(j).copied())
                .unwrap_or(pad)
        };
        let lower_at = |d: isize| hash_at(&lower_hashes, d);
        let shape_at = |d: isize| hash_at(&shape_hashes, d);
        let Some(word) = cache.words.get(me.word) else {
            break;
        };
        let me_lower = cache.lower(word);
        let (h_lower, h_shape, h_text) = (lower_at(0), shape_at(0), word.text_hash);
        let cap_at = |d: isize| at(d).map_or(99, |x| x.cap);
        let cap = me.cap;
        // The bias, the word, its lowercase form and shape (templates 0–3).
        for &row in &word.head {
            f.row(row);
        }
        let [own4, own8, own50, own51, own52] = word.own;
        f.row(own4);
        f.small::<5>(&[cap, u8::from(me.sentence_start), u8::from(headline)]);
        // Prefixes and suffixes (of up to 4 chars) of the first 64 chars (6 and 7).
        for &row in word.affix.get(..usize::from(word.affixes)).unwrap_or(&[]) {
            f.row(row);
        }
        f.row(own8);
        if i == 0 {
            f.small::<9>(&[cap]);
        }
        // The words around (templates 10–13, their rows made with each word's facts).
        let near_at = |d: isize, k: usize| {
            at(d)
                .and_then(|x| cache.words.get(x.word))
                .and_then(|w| w.near.get(k))
                .or(pad_near.get(k))
                .copied()
        };
        for (d, k) in [(-1, 0), (1, 1), (-2, 2), (2, 3)] {
            if let Some(row) = near_at(d, k) {
                f.row(row);
            }
        }
        f.key(feat2(14, lower_at(-1), h_lower));
        f.key(feat2(15, h_lower, lower_at(1)));
        f.key(feat2(16, shape_at(-1), h_shape));
        f.key(feat2(17, h_shape, shape_at(1)));
        f.small::<18>(&[cap_at(-1), cap, cap_at(1)]);
        f.small::<19>(&[cap_at(-2), cap_at(-1), cap]);
        f.small::<20>(&[cap, cap_at(1), cap_at(2)]);
        // Gazetteers and rules.
        let gaz_at = |d: isize| at(d).map_or(99, |x| x.gaz);
        let rule_at = |d: isize| at(d).map_or(99, |x| x.rule);
        f.small::<21>(&[me.gaz]);
        f.small::<22>(&[me.gaz, cap]);
        f.small::<23>(&[gaz_at(-1), me.gaz]);
        f.small::<24>(&[me.gaz, gaz_at(1)]);
        f.small::<25>(&[me.rule]);
        f.small::<26>(&[me.rule / 3]);
        f.small::<27>(&[rule_at(-1), me.rule]);
        f.small::<28>(&[me.rule, rule_at(1)]);
        f.small::<29>(&[me.rule, me.gaz]);
        // The list flags of the word and those around (templates 30–34: made with each
        // word's facts; past a sequence's edge, over the 99 of no neighbour).
        f.row(word.flags[0]);
        let flags_near = |d: isize, k: usize| {
            at(d)
                .and_then(|x| cache.words.get(x.word))
                .and_then(|w| w.flags.get(k))
                .or(pad_flags.get(k - 1))
                .copied()
        };
        for (d, k) in [(-1, 1), (1, 2), (2, 3), (-2, 4)] {
            if let Some(row) = flags_near(d, k) {
                f.row(row);
            }
        }
        f.key(feat2(35, lower_at(-1), u64::from(cap)));
        f.key(feat2(36, u64::from(cap), lower_at(1)));
        f.small::<37>(&[n.min(5) as u8, cap]);
        // The same word elsewhere in the document: capitalised mid-sentence (a name), in
        // lowercase (a common word), by capitalisation class and place (a sentence's first
        // word, a headline, "florida" in lowercase).
        if cap != 0 && cap != 4 {
            let folded_owned;
            let folded = if me_lower.contains('\u{2019}') {
                folded_owned = me_lower.replace('\u{2019}', "'");
                folded_owned.as_str()
            } else {
                me_lower
            };
            // And what cues and lists said about the same word elsewhere in the document.
            let (lower, cap_mid, kinds) = doc.facts_folded(folded);
            if kinds != 0 {
                f.small::<48>(&[kinds, cap]);
                f.small::<49>(&[kinds, me.rule / 3]);
            }
            f.small::<40>(&[
                cap,
                u8::from(me.sentence_start) | u8::from(headline) << 1,
                u8::from(cap_mid) | u8::from(lower) << 1,
            ]);
        }
        // A common word capitalised is a name less often ("Great Service" in a review title).
        let common_at = |d: isize| at(d).map_or(99, |x| u8::from(x.common));
        f.small::<44>(&[
            u8::from(me.common),
            cap,
            u8::from(me.sentence_start) | u8::from(headline) << 1,
        ]);
        f.small::<45>(&[common_at(-1), u8::from(me.common), common_at(1), cap]);
        // GeoNames cities and towns.
        if me.geo > 0 {
            f.small::<41>(&[me.geo, me.gaz]);
            f.small::<42>(&[me.geo, u8::from(me.given), u8::from(me.sentence_start)]);
        }
        f.small::<43>(&[
            at(-1).map_or(99, |x| x.geo),
            me.geo,
            at(1).map_or(99, |x| x.geo),
        ]);
        // Word clusters learned from unlabelled text: words used alike share them.
        if gaz.has_clusters() {
            let coarse_at = |d: isize| at(d).map_or(Some(254), |x| x.cluster.map(|c| c.1));
            let code = |c: Option<u8>| c.unwrap_or(255);
            // (Templates 50–54 over the word alone or one neighbour: made with each word's
            // facts; at a sequence's edge, over the 254 of no neighbour.)
            f.row(own50);
            f.row(own51);
            f.row(own52);
            let cluster_near = |d: isize, k: usize| {
                at(d)
                    .and_then(|x| cache.words.get(x.word))
                    .and_then(|w| w.near_cluster.get(k))
                    .or(pad_cluster.get(k))
                    .copied()
            };
            for (d, k) in [(-1, 0), (1, 1)] {
                if let Some(row) = cluster_near(d, k) {
                    f.row(row);
                }
            }
            f.small::<55>(&[code(coarse_at(-1)), code(coarse_at(0)), code(coarse_at(1))]);
        }
        if cap != 1 {
            f.key(feat2(38, h_text, lower_at(1)));
            f.key(feat2(39, lower_at(-1), h_text));
        }
        f.end(i);
    }
}

/// Weights of a trained model, ready to tag.
#[derive(Debug, Default, Clone)]
pub struct NameModel {
    index: KeyMap<u32>,
    weights: Vec<[f32; N_LABELS]>,
    transitions: Vec<f32>,
    /// For a model read from bytes: each feature's weights in an open-addressing table
    /// ([`RowTable`]), each weight the stored 16-bit value already multiplied by the file's
    /// scale (once, when read), so that scoring a feature is a lookup and nine additions. The
    /// scores are the same to the bit as multiplying while scoring: each weight is the same
    /// product, added in the same order.
    stored: Option<StoredRows>,
}

#[derive(Debug, Default, Clone)]
struct StoredRows {
    rows: RowTable,
    /// The small templates' rows ([`SmallRows`]), from `rows`.
    small: SmallRows,
}

/// One slot of a [`RowTable`]: a feature's key and where its row is.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u32,
    row: u32,
}

/// Feature key → stored weights: the keys in an open-addressing table with linear probing,
/// at most half full, each slot 8 bytes with the place of the key's row in a dense list (so
/// the table's slack costs little memory). Scoring asks it about every feature of every
/// token, many absent from the model. Keys are already hashes (uniform in their top bits), so
/// a key's first slot is its own top bits: keys in ascending order (as a model file lists
/// them) fill the table front to back, one cache line after another, instead of each
/// landing somewhere at random (most of reading the model, at `Tagger::new`).
///
/// A free slot holds a key the table does not hold (`empty`, chosen when the table is built)
/// and the place of a row of zeros (row 0), so that a lookup stops at the first slot whose
/// key is the key asked about or `empty`, and its row can be added whether the key was found
/// or not: adding +0 leaves a sum as it was (a sum of weights starting at +0 is never -0), so
/// the scores are the same to the bit as skipping absent keys, without a branch that guesses
/// whether each feature is in the model.
#[derive(Debug, Clone)]
struct RowTable {
    slots: Vec<Slot>,
    /// Row 0 is zeros; the keys' rows follow.
    rows: Vec<[f32; N_LABELS]>,
    /// 64 − log2 of the slot count.
    shift: u32,
    /// The key of free slots: one that no row has.
    empty: u32,
}

impl Default for RowTable {
    fn default() -> Self {
        RowTable::build(Vec::new())
    }
}

impl RowTable {
    /// The table of these keys and rows (a key given twice keeps its last row).
    fn build(mut pairs: Vec<(u32, [f32; N_LABELS])>) -> Self {
        // Sorted by key (stable: of a key given twice, the last is kept below).
        pairs.sort_by_key(|&(k, _)| k);
        let mut unique: Vec<(u32, [f32; N_LABELS])> = Vec::with_capacity(pairs.len());
        for (k, r) in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == k => last.1 = r,
                _ => unique.push((k, r)),
            }
        }
        // The largest key not held (there is one: at most 2^32 − 1 keys fit in memory here,
        // and a sorted walk down from the top finds the first gap).
        let mut empty = u32::MAX;
        for &(k, _) in unique.iter().rev() {
            if k == empty {
                empty = empty.wrapping_sub(1);
            } else if k < empty {
                break;
            }
        }
        let count = unique.len().saturating_mul(2).max(16).next_power_of_two();
        let mut table = RowTable {
            slots: vec![Slot { key: empty, row: 0 }; count],
            rows: Vec::with_capacity(unique.len() + 1),
            shift: 64 - count.trailing_zeros(),
            empty,
        };
        table.rows.push([0.0; N_LABELS]);
        for (key, row) in unique {
            let Ok(place) = u32::try_from(table.rows.len()) else {
                break;
            };
            table.put(key, place);
            table.rows.push(row);
        }
        table
    }

    /// The table of `keys`, the `k`-th key's row at `rows[k + 1]` (`rows[0]`: zeros), without
    /// copying the rows when the keys ascend (as a model file lists them).
    fn from_rows(keys: Vec<u32>, mut rows: Vec<[f32; N_LABELS]>) -> Self {
        let ascending = keys.windows(2).all(|w| w.first() < w.get(1));
        if !ascending || rows.len() != keys.len() + 1 || rows.first() != Some(&[0.0; N_LABELS]) {
            let pairs = keys.into_iter().zip(rows.into_iter().skip(1)).collect();
            return RowTable::build(pairs);
        }
        let mut empty = u32::MAX;
        for &k in keys.iter().rev() {
            if k == empty {
                empty = empty.wrapping_sub(1);
            } else if k < empty {
                break;
            }
        }
        let count = keys.len().saturating_mul(2).max(16).next_power_of_two();
        rows.shrink_to_fit();
        let mut table = RowTable {
            slots: vec![Slot { key: empty, row: 0 }; count],
            rows,
            shift: 64 - count.trailing_zeros(),
            empty,
        };
        for (k, &key) in keys.iter().enumerate() {
            let Ok(place) = u32::try_from(k + 1) else {
                break;
            };
            table.put(key, place);
        }
        table
    }

    /// Put `key` with its row's place in a free slot (the key is not in the table yet).
    fn put(&mut self, key: u32, place: u32) {
        let count = self.slots.len();
        let mut at = self.home(key);
        for _ in 0..count {
            let Some(slot) = self.slots.get_mut(at) else {
                return;
            };
            if slot.key == self.empty {
                *slot = Slot { key, row: place };
                return;
            }
            at = (at + 1) & (count - 1);
        }
    }

    fn home(&self, key: u32) -> usize {
        // (`shift` is 64 − log2 of the slot count: the key's top bits.)
        ((u64::from(key) << 32) >> self.shift) as usize
    }

    /// The place of `key`'s row in `rows`: 0 (zeros) when the table does not hold it.
    #[inline]
    fn place(&self, key: u32) -> usize {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = self.home(key);
        // (At most half full: a free slot always ends the walk; the bound is for safety.)
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get(at) else {
                return 0;
            };
            if slot.key == key || slot.key == self.empty {
                return slot.row as usize;
            }
            at = (at + 1) & mask;
        }
        0
    }

    fn get(&self, key: &u32) -> Option<&[f32; N_LABELS]> {
        match self.place(*key) {
            0 => None,
            p => self.rows.get(p),
        }
    }

    fn len(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    fn keys(&self) -> impl Iterator<Item = &u32> {
        self.slots
            .iter()
            .filter(|s| s.key != self.empty)
            .map(|s| &s.key)
    }

    /// The sum of the rows of `keys`, in their order (what scoring a token is).
    fn sum(&self, keys: &[u32]) -> [f32; N_LABELS] {
        let mut s = [0f32; N_LABELS];
        for &k in keys {
            // (An absent key adds the row of zeros: no branch on whether it was found.)
            let row = self.rows.get(self.place(k)).unwrap_or(&[0.0; N_LABELS]);
            for (a, &w) in s.iter_mut().zip(row) {
                *a += w;
            }
        }
        s
    }
}

/// The values a small number of a feature takes: `0..=max`, then `extra` (the 99 of "no
/// neighbour", the 254/255 of the cluster codes). Its code is its place in that list.
#[derive(Debug, Clone, Copy)]
struct Domain {
    max: u8,
    extra: &'static [u8],
}

impl Domain {
    #[inline(always)]
    const fn size(self) -> usize {
        self.max as usize + 1 + self.extra.len()
    }

    /// The code of `v`, `None` outside the domain.
    #[inline(always)]
    fn code(self, v: u8) -> Option<usize> {
        if v <= self.max {
            return Some(usize::from(v));
        }
        let mut k = 0;
        while k < self.extra.len() {
            if let Some(&e) = self.extra.get(k)
                && e == v
            {
                return Some(self.max as usize + 1 + k);
            }
            k += 1;
        }
        None
    }

    /// The value of code `c` (the inverse of [`Domain::code`]).
    fn value(self, c: usize) -> u8 {
        if c <= self.max as usize {
            c as u8
        } else {
            self.extra
                .get(c - self.max as usize - 1)
                .copied()
                .unwrap_or(0)
        }
    }
}

/// A capitalisation class ([`cap_class`]), 99 where the neighbour is past the sequence's end.
const CAP: Domain = Domain {
    max: 8,
    extra: &[99],
};
const BOOL: Domain = Domain { max: 1, extra: &[] };
const BOOL99: Domain = Domain {
    max: 1,
    extra: &[99],
};
/// Two flags in two bits.
const BITS2: Domain = Domain { max: 3, extra: &[] };
const LEN: Domain = Domain {
    max: 12,
    extra: &[],
};
const N5: Domain = Domain { max: 5, extra: &[] };
/// A gazetteer label (+ 10 in lowercase).
const GAZ: Domain = Domain {
    max: 18,
    extra: &[99],
};
/// A rule label × 3 + confidence.
const RULE: Domain = Domain {
    max: 26,
    extra: &[99],
};
const KIND: Domain = Domain { max: 8, extra: &[] };
const TITLE: Domain = Domain { max: 2, extra: &[] };
const FLAGS: Domain = Domain {
    max: 63,
    extra: &[99],
};
const KINDS: Domain = Domain {
    max: 15,
    extra: &[],
};
const GEO: Domain = Domain {
    max: 6,
    extra: &[99],
};
const FINE: Domain = Domain {
    max: 255,
    extra: &[],
};
const COARSE: Domain = Domain {
    max: 31,
    extra: &[254, 255],
};

/// Templates whose features are a few small numbers ([`pack`]ed): their keys are few, so
/// their rows are looked up at `Tagger::new` once for every combination of the numbers, and a
/// feature of theirs is then scored by its numbers' place in a small dense table (hot in the
/// cache) instead of by hashing them and probing the model's table. `SMALL[t]`: the domains of
/// template `t`'s numbers, in order (empty: not a small template).
const SMALL: [&[Domain]; 56] = {
    let mut s: [&[Domain]; 56] = [&[]; 56];
    s[4] = &[CAP];
    s[5] = &[CAP, BOOL, BOOL];
    s[8] = &[LEN, CAP];
    s[9] = &[CAP];
    s[18] = &[CAP, CAP, CAP];
    s[19] = &[CAP, CAP, CAP];
    s[20] = &[CAP, CAP, CAP];
    s[21] = &[GAZ];
    s[22] = &[GAZ, CAP];
    s[23] = &[GAZ, GAZ];
    s[24] = &[GAZ, GAZ];
    s[25] = &[RULE];
    s[26] = &[KIND];
    s[27] = &[RULE, RULE];
    s[28] = &[RULE, RULE];
    s[29] = &[RULE, GAZ];
    s[30] = &[BOOL, TITLE, BOOL, BOOL, BOOL];
    s[31] = &[FLAGS];
    s[32] = &[FLAGS];
    s[33] = &[FLAGS];
    s[34] = &[FLAGS];
    s[37] = &[N5, CAP];
    s[40] = &[CAP, BITS2, BITS2];
    s[41] = &[GEO, GAZ];
    s[42] = &[GEO, BOOL, BOOL];
    s[43] = &[GEO, GEO, GEO];
    s[44] = &[BOOL, CAP, BITS2];
    s[45] = &[BOOL99, BOOL99, BOOL99, CAP];
    s[48] = &[KINDS, CAP];
    s[49] = &[KINDS, KIND];
    s[50] = &[FINE];
    s[51] = &[FINE, CAP];
    s[52] = &[COARSE, CAP];
    s[53] = &[FINE];
    s[54] = &[FINE];
    s[55] = &[COARSE, COARSE, COARSE];
    s
};

/// The number of combinations of template `t`'s numbers.
const fn small_size(t: usize) -> usize {
    let ds = SMALL[t];
    if ds.is_empty() {
        return 0;
    }
    let mut n = 1;
    let mut k = 0;
    while k < ds.len() {
        n *= ds[k].size();
        k += 1;
    }
    n
}

/// Where template `t`'s combinations start in [`SmallRows::places`].
const SMALL_OFFSET: [usize; 57] = {
    let mut o = [0usize; 57];
    let mut t = 0;
    while t < 56 {
        o[t + 1] = o[t] + small_size(t);
        t += 1;
    }
    o
};

/// The place of a small template's numbers among its combinations (`None`: a number outside
/// its domain, which is then scored by its key).
#[inline(always)]
fn small_index<const T: u8>(ns: &[u8]) -> Option<usize> {
    // (Evaluated when compiling: the domains and the offset are constants.)
    let ds: &'static [Domain] = const {
        if (T as usize) < SMALL.len() {
            SMALL[T as usize]
        } else {
            &[]
        }
    };
    let offset: usize = const {
        if (T as usize) < SMALL.len() {
            SMALL_OFFSET[T as usize]
        } else {
            0
        }
    };
    if ds.len() != ns.len() || ds.is_empty() {
        return None;
    }
    let mut at = 0usize;
    for (d, &v) in ds.iter().zip(ns) {
        at = at * d.size() + d.code(v)?;
    }
    Some(offset + at)
}

/// The rows of the small templates' keys ([`SMALL`]), by combination: `places[i]` is the place
/// in `rows` of combination `i`'s row (0: the zeros, the key is not in the model).
#[derive(Debug, Default, Clone)]
struct SmallRows {
    places: Vec<u32>,
    rows: Vec<[f32; N_LABELS]>,
}

impl SmallRows {
    /// Every small template's combinations looked up in `table`: the same rows, each the
    /// same floats, that scoring their keys finds there.
    fn build(table: &RowTable) -> Self {
        let total = SMALL_OFFSET.last().copied().unwrap_or(0);
        let mut places = vec![0u32; total];
        let mut rows = vec![[0f32; N_LABELS]];
        let mut ns = [0u8; 8];
        for (t, ds) in SMALL.iter().enumerate() {
            let (Some(&start), Some(&end)) = (SMALL_OFFSET.get(t), SMALL_OFFSET.get(t + 1)) else {
                continue;
            };
            for i in 0..end - start {
                // The numbers of combination `i` (the last number varies fastest).
                let mut rest = i;
                for (slot, d) in ns.iter_mut().zip(ds.iter()).rev() {
                    *slot = d.value(rest % d.size());
                    rest /= d.size();
                }
                let numbers = ns.get(..ds.len()).unwrap_or(&[]);
                let key = feat(t as u8, pack(numbers));
                let place = table.place(key);
                if place == 0 {
                    continue;
                }
                let (Some(row), Ok(at)) = (table.rows.get(place), u32::try_from(rows.len())) else {
                    continue;
                };
                if let Some(slot) = places.get_mut(start + i) {
                    *slot = at;
                    rows.push(*row);
                }
            }
        }
        SmallRows { places, rows }
    }

    /// The row of small template `T`'s numbers `ns`, if they are within its domains.
    #[inline(always)]
    fn row<const T: u8>(&self, ns: &[u8]) -> Option<&[f32; N_LABELS]> {
        let i = small_index::<T>(ns)?;
        let place = *self.places.get(i)?;
        self.rows.get(place as usize)
    }
}

/// Why a model could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFormatError(pub &'static str);

impl std::fmt::Display for ModelFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad name model: {}", self.0)
    }
}

impl std::error::Error for ModelFormatError {}

const MAGIC: &[u8; 8] = b"GLNMODL1";

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelFormatError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(ModelFormatError("length overflow"))?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or(ModelFormatError("truncated"))?;
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ModelFormatError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, ModelFormatError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

impl NameModel {
    /// The model compiled into gleaner (`model/names.bin`). A model that does not read gives an
    /// empty one (every token `O`), so that the tagger falls back to its rules.
    pub fn builtin() -> Self {
        NameModel::from_bytes(include_bytes!("../model/names.bin")).unwrap_or_default()
    }

    /// Does this model hold any weights?
    pub fn is_empty(&self) -> bool {
        self.features() == 0
    }

    /// The mean of several models' weights (a feature one of them lacks counts as zero there):
    /// models trained on the same data in different orders, averaged, vary less than one.
    pub fn mean(models: &[NameModel]) -> NameModel {
        let n = models.len().max(1) as f32;
        let mut index: KeyMap<u32> = KeyMap::default();
        let mut weights: Vec<[f32; N_LABELS]> = Vec::new();
        let mut transitions = vec![0f32; (N_LABELS + 1) * N_LABELS];
        for m in models {
            let m = m.unpacked();
            let mut keys: Vec<(u32, u32)> = m.index.iter().map(|(&k, &r)| (k, r)).collect();
            keys.sort_unstable();
            for (key, row) in keys {
                let slot = *index.entry(key).or_insert_with(|| {
                    weights.push([0.0; N_LABELS]);
                    (weights.len() - 1) as u32
                });
                if let (Some(w), Some(src)) =
                    (weights.get_mut(slot as usize), m.weights.get(row as usize))
                {
                    for (a, b) in w.iter_mut().zip(src) {
                        *a += b / n;
                    }
                }
            }
            for (a, b) in transitions.iter_mut().zip(&m.transitions) {
                *a += b / n;
            }
        }
        NameModel {
            index,
            weights,
            transitions,
            stored: None,
        }
    }

    /// Number of features with weights.
    pub fn features(&self) -> usize {
        self.stored
            .as_ref()
            .map_or(self.weights.len(), |s| s.rows.len())
    }

    /// The model with its weights as floats in `index` and `weights` (a model read from bytes
    /// keeps them as stored): each weight the same product as in scoring.
    fn unpacked(&self) -> std::borrow::Cow<'_, NameModel> {
        let Some(stored) = &self.stored else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut keys: Vec<u32> = stored.rows.keys().copied().collect();
        keys.sort_unstable();
        let mut index = KeyMap::default();
        let mut weights = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(q) = stored.rows.get(&key) else {
                continue;
            };
            let mut row = [0f32; N_LABELS];
            for (w, &v) in row.iter_mut().zip(q) {
                // A weight stored as 0 is 0 here (not the product's -0 of a negative scale).
                if v != 0.0 {
                    *w = v;
                }
            }
            index.insert(key, weights.len() as u32);
            weights.push(row);
        }
        std::borrow::Cow::Owned(NameModel {
            index,
            weights,
            transitions: self.transitions.clone(),
            stored: None,
        })
    }

    /// Read a model written by [`NameModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelFormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(ModelFormatError("not a gleaner name model"));
        }
        let n = r.u32()? as usize;
        if n > bytes.len() {
            return Err(ModelFormatError("feature count larger than the file"));
        }
        let scale = r.f32()?;
        if !scale.is_finite() {
            return Err(ModelFormatError("bad scale"));
        }
        let mut transitions = Vec::with_capacity((N_LABELS + 1) * N_LABELS);
        for _ in 0..(N_LABELS + 1) * N_LABELS {
            transitions.push(r.f32()?);
        }
        // The rows in the table's own list (row 0 the zeros), the keys beside them: the table
        // is built over them without a copy (the file lists keys in ascending order).
        let mut keys = Vec::with_capacity(n);
        // Every row made at once, each weight the product a label absent from its mask gets
        // (+0 for the positive scale a model file has: the rows are then allocated zeroed, not
        // written); row 0 is zeros. Each label present is then written in its place.
        let absent = f32::from(0i16) * scale;
        let mut rows = vec![[absent; N_LABELS]; n + 1];
        if let Some(first) = rows.first_mut() {
            *first = [0f32; N_LABELS];
        }
        // One pass over the body with a cursor (the same checks and errors as `Reader`'s
        // calls, without a bounds-checked call per byte: this loop is most of `Tagger::new`'s
        // reading of the model).
        let body = bytes.get(r.at..).unwrap_or(&[]);
        let mut at = 0usize;
        let truncated = ModelFormatError("truncated");
        let mut key: u32 = 0;
        for k in 0..n {
            let mut v: u64 = 0;
            let mut shift = 0;
            loop {
                let b = *body.get(at).ok_or(truncated.clone())?;
                at += 1;
                v |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift >= 35 {
                    return Err(ModelFormatError("varint too long"));
                }
            }
            let delta = u32::try_from(v).map_err(|_| ModelFormatError("varint too large"))?;
            key = key.wrapping_add(delta);
            if k > 0 && delta == 0 {
                return Err(ModelFormatError("duplicate feature"));
            }
            let &[lo, hi] = body.get(at..at + 2).ok_or(truncated.clone())? else {
                return Err(truncated);
            };
            at += 2;
            let mask = u16::from_le_bytes([lo, hi]);
            let row = rows.get_mut(k + 1).ok_or(truncated.clone())?;
            // The labels present, lowest first (bits past the labels are ignored, as ever).
            let mut present = mask & ((1 << N_LABELS) - 1);
            while present != 0 {
                let l = present.trailing_zeros() as usize;
                present &= present - 1;
                let &[lo, hi] = body.get(at..at + 2).ok_or(truncated.clone())? else {
                    return Err(truncated);
                };
                at += 2;
                // Multiplied by the scale here, once, and not at every use in `score`.
                if let Some(w) = row.get_mut(l) {
                    *w = f32::from(i16::from_le_bytes([lo, hi])) * scale;
                }
            }
            keys.push(key);
        }
        r.at += at;
        if r.at != bytes.len() {
            return Err(ModelFormatError("trailing bytes"));
        }
        let rows = RowTable::from_rows(keys, rows);
        // (The weights are kept as stored only; `unpacked` gives them as floats when asked.)
        Ok(NameModel {
            index: KeyMap::default(),
            weights: Vec::new(),
            transitions,
            stored: Some(StoredRows {
                small: SmallRows::build(&rows),
                rows,
            }),
        })
    }

    /// Write the model compactly; weights smaller than `prune` (in absolute value) are dropped.
    pub fn to_bytes(&self, prune: f32) -> Vec<u8> {
        let unpacked = self.unpacked();
        let model: &NameModel = &unpacked;
        let max = model
            .weights
            .iter()
            .flat_map(|r| r.iter())
            .fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32_000.0 } else { 1.0 };
        let mut keys: Vec<(u32, u32)> = model.index.iter().map(|(&k, &v)| (k, v)).collect();
        keys.sort_unstable();
        let mut body = Vec::new();
        let mut kept = 0u32;
        let mut last = 0u32;
        for (key, row) in keys {
            let Some(row) = model.weights.get(row as usize) else {
                continue;
            };
            let q: Vec<i16> = row
                .iter()
                .map(|w| {
                    if w.abs() < prune {
                        0
                    } else {
                        (w / scale).round() as i16
                    }
                })
                .collect();
            let mask = q
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0)
                .fold(0u16, |m, (l, _)| m | 1 << l);
            if mask == 0 {
                continue;
            }
            put_varint(&mut body, key.wrapping_sub(last));
            last = key;
            body.extend_from_slice(&mask.to_le_bytes());
            for v in q.iter().filter(|v| **v != 0) {
                body.extend_from_slice(&v.to_le_bytes());
            }
            kept += 1;
        }
        let mut out = Vec::with_capacity(body.len() + 512);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&kept.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for k in 0..(N_LABELS + 1) * N_LABELS {
            let t = self.transitions.get(k).copied().unwrap_or(0.0);
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(&body);
        out
    }

    /// Label scores of each token.
    fn scores(&self, features: &[Vec<u32>]) -> Vec<[f32; N_LABELS]> {
        features.iter().map(|fs| self.score(fs)).collect()
    }

    /// The best label sequence (indices into [`LABELS`]), always valid IOB2.
    pub fn decode(&self, features: &[Vec<u32>]) -> Vec<usize> {
        let scores = self.scores(features);
        viterbi(&scores, &self.transitions)
    }

    /// [`NameModel::decode_with_margins`] of a sequence's features
    /// ([`sequence_features_with_rules`]), each token's features scored as they are built and
    /// never kept.
    /// `words`: the document's words met so far ([`WordCache`]), kept from one sequence to the
    /// next of the same document and model.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decode_sequence<'t, 'm>(
        &'m self,
        toks: &[Token<'t>],
        gaz: &Gazetteers,
        known: &[WordInfo],
        rules: &[NameSpan],
        doc: &DocContext,
        headline: bool,
        words: &mut WordRows<'t, 'm>,
    ) -> (Vec<usize>, Vec<f32>) {
        let Some(stored) = &self.stored else {
            let mut scores = vec![[0f32; N_LABELS]; toks.len()];
            let mut keys = Keys::new(|i, fs: &[u32]| {
                if let Some(s) = scores.get_mut(i) {
                    *s = self.score(fs);
                }
            });
            let mut cache = WordCache::default();
            each_token_features(
                toks, gaz, known, rules, doc, headline, &mut keys, &mut cache,
            );
            return self.labels_and_margins(&scores);
        };
        let mut scorer = Scorer::new(&stored.rows, &stored.small, toks.len());
        each_token_features(toks, gaz, known, rules, doc, headline, &mut scorer, words);
        self.labels_and_margins(&scorer.scores)
    }

    /// Label scores of one token, from its features.
    fn score(&self, fs: &[u32]) -> [f32; N_LABELS] {
        let Some(stored) = &self.stored else {
            return NameModelRef {
                index: &self.index,
                weights: &self.weights,
            }
            .score(fs);
        };
        stored.rows.sum(fs)
    }

    /// [`NameModel::decode`], with each token's margin: how much more its label scored than
    /// `O` on the token's own features (0 for a token labelled `O`).
    pub fn decode_with_margins(&self, features: &[Vec<u32>]) -> (Vec<usize>, Vec<f32>) {
        self.labels_and_margins(&self.scores(features))
    }

    fn labels_and_margins(&self, scores: &[[f32; N_LABELS]]) -> (Vec<usize>, Vec<f32>) {
        let labels = viterbi(scores, &self.transitions);
        let margins = labels
            .iter()
            .zip(scores)
            .map(|(&l, s)| s.get(l).copied().unwrap_or(0.0) - s.first().copied().unwrap_or(0.0))
            .collect();
        (labels, margins)
    }
}

fn viterbi(scores: &[[f32; N_LABELS]], transitions: &[f32]) -> Vec<usize> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let trans = |p: usize, c: usize| transitions.get(p * N_LABELS + c).copied().unwrap_or(0.0);
    // The transitions between labels, minus infinity where IOB2 forbids one: adding it to a
    // score gives minus infinity, which never wins, exactly as skipping it did (a path score
    // that is already minus infinity stays so too). The weights are finite.
    let mut step = [[f32::NEG_INFINITY; N_LABELS]; N_LABELS];
    for (p, row) in step.iter_mut().enumerate() {
        for (c, slot) in row.iter_mut().enumerate() {
            if allowed(p, c) {
                *slot = trans(p, c);
            }
        }
    }
    let mut back = vec![[0u8; N_LABELS]; n];
    let mut prev = [f32::NEG_INFINITY; N_LABELS];
    if let Some(first) = scores.first() {
        for (c, (slot, e)) in prev.iter_mut().zip(first).enumerate() {
            if allowed(START, c) {
                *slot = e + trans(START, c);
            }
        }
    }
    for (emit, row) in scores.iter().zip(back.iter_mut()).skip(1) {
        // Every label's best predecessor, all labels at once (previous label by previous
        // label, in order: a later one wins only when strictly better, as before).
        let mut best = [f32::NEG_INFINITY; N_LABELS];
        let mut arg = [0u8; N_LABELS];
        for (p, (&pv, to)) in prev.iter().zip(&step).enumerate() {
            for ((b, a), &w) in best.iter_mut().zip(arg.iter_mut()).zip(to) {
                let v = pv + w;
                if v > *b {
                    *b = v;
                    *a = p as u8;
                }
            }
        }
        for ((slot, b), e) in prev.iter_mut().zip(best).zip(emit) {
            *slot = b + e;
        }
        *row = arg;
    }
    let mut best = 0;
    let mut best_score = f32::NEG_INFINITY;
    for (c, &v) in prev.iter().enumerate() {
        if v > best_score {
            best = c;
            best_score = v;
        }
    }
    let mut out = vec![0usize; n];
    let mut c = best;
    for (t, slot) in out.iter_mut().enumerate().rev() {
        *slot = c;
        if t > 0 {
            c = back
                .get(t)
                .and_then(|b| b.get(c))
                .map_or(0, |&p| usize::from(p));
        }
    }
    out
}

/// An averaged structured perceptron being trained.
#[derive(Debug)]
pub struct Trainer {
    index: KeyMap<u32>,
    weights: Vec<[f32; N_LABELS]>,
    /// Sum of (update step × change), for averaging.
    totals: Vec<[f64; N_LABELS]>,
    transitions: Vec<f32>,
    transition_totals: Vec<f64>,
    step: f64,
}

impl Trainer {
    /// A trainer for these features (those seen at least `min_count` times in `sequences`).
    pub fn new(sequences: &[Vec<Vec<u32>>], min_count: u32) -> Self {
        let mut counts: KeyMap<u32> = KeyMap::default();
        for seq in sequences {
            for fs in seq {
                for &f in fs {
                    *counts.entry(f).or_insert(0) += 1;
                }
            }
        }
        let mut keep: Vec<u32> = counts
            .into_iter()
            .filter(|&(_, c)| c >= min_count)
            .map(|(k, _)| k)
            .collect();
        keep.sort_unstable();
        let mut index = KeyMap::default();
        for (r, k) in keep.iter().enumerate() {
            index.insert(*k, r as u32);
        }
        let n = keep.len();
        Trainer {
            index,
            weights: vec![[0.0; N_LABELS]; n],
            totals: vec![[0.0; N_LABELS]; n],
            transitions: vec![0.0; (N_LABELS + 1) * N_LABELS],
            transition_totals: vec![0.0; (N_LABELS + 1) * N_LABELS],
            step: 1.0,
        }
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.weights.len()
    }

    fn current(&self) -> NameModel {
        NameModel {
            index: self.index.clone(),
            weights: self.weights.clone(),
            transitions: self.transitions.clone(),
            stored: None,
        }
    }

    fn bump(&mut self, features: &[u32], label: usize, by: f32) {
        for f in features {
            if let Some(&r) = self.index.get(f) {
                let r = r as usize;
                if let (Some(w), Some(t)) = (self.weights.get_mut(r), self.totals.get_mut(r))
                    && let (Some(w), Some(t)) = (w.get_mut(label), t.get_mut(label))
                {
                    *w += by;
                    *t += self.step * f64::from(by);
                }
            }
        }
    }

    fn bump_transition(&mut self, prev: usize, cur: usize, by: f32) {
        let k = prev * N_LABELS + cur;
        if let (Some(w), Some(t)) = (
            self.transitions.get_mut(k),
            self.transition_totals.get_mut(k),
        ) {
            *w += by;
            *t += self.step * f64::from(by);
        }
    }

    /// Learn from one sequence; returns whether the current weights got it wrong.
    pub fn learn(&mut self, features: &[Vec<u32>], gold: &[usize]) -> bool {
        self.learn_partial(features, gold, false)
    }

    /// Learn from one sequence whose gold may lack MISC (`misc_unlabelled`: UNER and GUM mark
    /// only PER, LOC and ORG): a MISC name predicted where the gold has only `O` is then not
    /// counted as a mistake.
    pub fn learn_partial(
        &mut self,
        features: &[Vec<u32>],
        gold: &[usize],
        misc_unlabelled: bool,
    ) -> bool {
        let model = NameModelRef {
            index: &self.index,
            weights: &self.weights,
        };
        let scores = model.scores(features);
        let predicted = viterbi(&scores, &self.transitions);
        let mut adjusted;
        let mut gold = gold;
        if misc_unlabelled {
            adjusted = gold.to_vec();
            let mut k = 0;
            while k < predicted.len() {
                if predicted.get(k) != Some(&7) {
                    k += 1;
                    continue;
                }
                let first = k;
                k += 1;
                while predicted.get(k) == Some(&8) {
                    k += 1;
                }
                if adjusted
                    .get(first..k)
                    .is_some_and(|g| g.iter().all(|&l| l == 0))
                {
                    for j in first..k {
                        if let (Some(a), Some(&p)) = (adjusted.get_mut(j), predicted.get(j)) {
                            *a = p;
                        }
                    }
                }
            }
            gold = &adjusted;
        }
        let wrong = predicted != gold;
        if wrong {
            let mut prev_g = START;
            let mut prev_p = START;
            for (t, fs) in features.iter().enumerate() {
                let g = gold.get(t).copied().unwrap_or(0);
                let p = predicted.get(t).copied().unwrap_or(0);
                if g != p {
                    self.bump(fs, g, 1.0);
                    self.bump(fs, p, -1.0);
                }
                if (prev_g, g) != (prev_p, p) {
                    self.bump_transition(prev_g, g, 1.0);
                    self.bump_transition(prev_p, p, -1.0);
                }
                prev_g = g;
                prev_p = p;
            }
        }
        self.step += 1.0;
        wrong
    }

    /// The averaged model so far.
    pub fn averaged(&self) -> NameModel {
        let mut m = self.current();
        let step = self.step;
        for (w, t) in m.weights.iter_mut().zip(&self.totals) {
            for (a, b) in w.iter_mut().zip(t) {
                *a = (f64::from(*a) - b / step) as f32;
            }
        }
        for (a, b) in m.transitions.iter_mut().zip(&self.transition_totals) {
            *a = (f64::from(*a) - b / step) as f32;
        }
        m
    }
}

/// Borrowed weights, for scoring during training without a copy.
struct NameModelRef<'m> {
    index: &'m KeyMap<u32>,
    weights: &'m [[f32; N_LABELS]],
}

impl NameModelRef<'_> {
    /// Label scores of each token: the sum of its features' weight rows.
    fn scores(&self, features: &[Vec<u32>]) -> Vec<[f32; N_LABELS]> {
        features.iter().map(|fs| self.score(fs)).collect()
    }

    /// Label scores of one token, from its features.
    fn score(&self, fs: &[u32]) -> [f32; N_LABELS] {
        let mut s = [0f32; N_LABELS];
        for f in fs {
            if let Some(row) = self
                .index
                .get(f)
                .and_then(|&r| self.weights.get(r as usize))
            {
                for (a, b) in s.iter_mut().zip(row) {
                    *a += b;
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::tokens_from_words;

    fn feats(words: &[&str], gaz: &Gazetteers) -> Vec<Vec<u32>> {
        let toks = tokens_from_words(words);
        let doc = DocContext::build(&[toks.as_slice()], gaz);
        sequence_features(&toks, gaz, &doc)
    }

    /// Features of a toy language and a model trained on it for ten epochs.
    fn toy_model(
        data: &[(Vec<&str>, Vec<usize>)],
        gaz: &Gazetteers,
    ) -> (Vec<Vec<Vec<u32>>>, NameModel) {
        let seqs: Vec<Vec<Vec<u32>>> = data.iter().map(|(w, _)| feats(w, gaz)).collect();
        let mut trainer = Trainer::new(&seqs, 1);
        for _ in 0..10 {
            for (s, (_, gold)) in seqs.iter().zip(data) {
                trainer.learn(s, gold);
            }
        }
        let model = trainer.averaged();
        (seqs, model)
    }

    /// The word cache kept over a document larger than it holds (so that it starts again
    /// mid-document) scores every token as a fresh cache per sentence does, to the bit, and
    /// stays within its bound.
    #[test]
    fn word_cache_starting_again_scores_the_same() {
        let gaz = Gazetteers::builtin();
        let model = NameModel::builtin();
        let stored = model.stored.as_ref().expect("the built-in model reads");
        // Sentences of distinct made-up words, some capitalised, with repeats between them.
        let mut text = String::new();
        for k in 0..(WORD_CACHE_WORDS + 3000) {
            let w = format!("{}{k:x}q", if k % 3 == 0 { "Zor" } else { "ven" });
            text.push_str(&w);
            text.push_str(if k % 20 == 19 { ". The " } else { " and " });
        }
        let toks = crate::tokenize::tokenize(&text);
        let mut words = WordCache::default();
        let mut checked = 0;
        let mut most = 0;
        for sentence in toks.split_inclusive(|t| t.text == ".") {
            let doc = DocContext::build(&[sentence], &gaz);
            let rules = rule_spans(sentence, &gaz, &doc);
            let known = known_words(sentence, &gaz);
            let headline = is_headline_known(sentence, &known);
            let mut scorer = Scorer::new(&stored.rows, &stored.small, sentence.len());
            each_token_features(
                sentence,
                &gaz,
                &known,
                &rules,
                &doc,
                headline,
                &mut scorer,
                &mut words,
            );
            most = most.max(words.words.len());
            let keys = sequence_features_with_rules(sentence, &gaz, &rules, &doc);
            for (fast, fs) in scorer.scores.iter().zip(&keys) {
                let slow = stored.rows.sum(fs);
                let bits = |s: &[f32; N_LABELS]| s.map(f32::to_bits);
                assert_eq!(bits(fast), bits(&slow));
                checked += 1;
            }
        }
        assert!(checked > 2 * WORD_CACHE_WORDS, "{checked}");
        assert!(most <= WORD_CACHE_WORDS + 64, "{most}");
        assert!(
            words.words.len() < WORD_CACHE_WORDS,
            "{}",
            words.words.len()
        );
    }

    /// Scoring as the features come ([`Scorer`]: small templates from [`SmallRows`], the rest
    /// probed) gives the same scores, to the bit, as summing each token's keys' rows
    /// ([`RowTable::sum`]), for the built-in model over the seed article's sentences.
    #[test]
    fn scoring_as_features_come_is_summing_their_keys_rows() {
        let gaz = Gazetteers::builtin();
        let model = NameModel::builtin();
        let stored = model.stored.as_ref().expect("the built-in model reads");
        let text = include_str!("../testdata/seed_000.txt");
        let toks = crate::tokenize::tokenize(text);
        let mut checked = 0;
        // (One cache over all the sentences, as tagging a document keeps it.)
        let mut words = WordCache::default();
        for sentence in toks.split_inclusive(|t| t.text == ".") {
            let doc = DocContext::build(&[sentence], &gaz);
            let rules = rule_spans(sentence, &gaz, &doc);
            let known = known_words(sentence, &gaz);
            let headline = is_headline_known(sentence, &known);
            let mut scorer = Scorer::new(&stored.rows, &stored.small, sentence.len());
            each_token_features(
                sentence,
                &gaz,
                &known,
                &rules,
                &doc,
                headline,
                &mut scorer,
                &mut words,
            );
            let keys = sequence_features_with_rules(sentence, &gaz, &rules, &doc);
            for (fast, fs) in scorer.scores.iter().zip(&keys) {
                let slow = stored.rows.sum(fs);
                let bits = |s: &[f32; N_LABELS]| s.map(f32::to_bits);
                assert_eq!(bits(fast), bits(&slow));
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
        // Every small template's combinations hold the rows their keys find.
        for (t, ds) in SMALL.iter().enumerate() {
            let size = SMALL_OFFSET[t + 1] - SMALL_OFFSET[t];
            assert_eq!(
                size,
                if ds.is_empty() {
                    0
                } else {
                    ds.iter().map(|d| d.size()).product()
                }
            );
        }
    }

    #[test]
    fn learns_a_toy_language_and_round_trips_through_bytes() {
        let gaz = Gazetteers::default();
        let data: Vec<(Vec<&str>, Vec<usize>)> = vec![
            (vec!["Zorg", "visited", "Plim", "."], vec![1, 0, 3, 0]),
            (vec!["Plim", "welcomed", "Zorg", "Bax"], vec![3, 0, 1, 2]),
            (vec!["the", "Qux", "Corp", "said"], vec![0, 5, 6, 0]),
        ];
        let (seqs, model) = toy_model(&data, &gaz);
        for (s, (_, gold)) in seqs.iter().zip(&data) {
            assert_eq!(&model.decode(s), gold);
        }
        let bytes = model.to_bytes(0.0);
        let back = NameModel::from_bytes(&bytes).unwrap();
        for (s, (_, gold)) in seqs.iter().zip(&data) {
            assert_eq!(&back.decode(s), gold);
        }
        // Damaged bytes never panic.
        for cut in 0..bytes.len().min(600) {
            let _ = NameModel::from_bytes(&bytes[..cut]);
        }
        assert!(NameModel::from_bytes(b"nonsense").is_err());
    }

    #[test]
    fn mean_of_models_averages_weights() {
        let gaz = Gazetteers::default();
        let data: Vec<(Vec<&str>, Vec<usize>)> = vec![
            (vec!["Zorg", "visited", "Plim", "."], vec![1, 0, 3, 0]),
            (vec!["the", "Qux", "Corp", "said"], vec![0, 5, 6, 0]),
        ];
        let (_, model) = toy_model(&data, &gaz);
        let mean = NameModel::mean(&[model.clone(), model.clone()]);
        assert_eq!(mean.features(), model.features());
        assert_eq!(mean.to_bytes(0.0), model.to_bytes(0.0));
        assert!(NameModel::mean(&[]).is_empty());
    }

    #[test]
    fn the_builtin_model_writes_back_what_it_read() {
        let model = NameModel::builtin();
        assert!(model.features() > 100_000, "{}", model.features());
        let again = NameModel::from_bytes(&model.to_bytes(0.0)).unwrap();
        assert_eq!(again.features(), model.features());
        let gaz = Gazetteers::builtin();
        let f = feats(
            &["Sergey", "Lavrov", "met", "Raisi", "in", "Moscow", "."],
            &gaz,
        );
        assert_eq!(again.decode(&f), model.decode(&f));
        assert_eq!(model.decode(&f), [1, 2, 0, 1, 0, 3, 0]);
        // The mean of one read model is that model.
        let mean = NameModel::mean(std::slice::from_ref(&model));
        assert_eq!(mean.features(), model.features());
        assert_eq!(mean.decode(&f), model.decode(&f));
    }

    #[test]
    fn the_row_table_finds_what_it_holds_and_nothing_else() {
        let t = RowTable::default();
        assert_eq!(t.get(&7), None);
        assert_eq!(t.get(&u32::MAX), None);
        assert_eq!(t.sum(&[7, 8]), [0.0; N_LABELS]);
        let row = |k: u32| {
            let mut r = [0f32; N_LABELS];
            r[(k % 9) as usize] = (k % 1000) as f32 + 1.0;
            r
        };
        // Keys that crowd one slot, the top keys (which free slots would otherwise use), and
        // a key given twice (the last row wins).
        let keys: Vec<u32> = (0..5000u32)
            .map(|k| k.wrapping_mul(2_654_435_761))
            .chain([u32::MAX, 0, 1, u32::MAX - 1, u32::MAX - 3])
            .collect();
        let mut std = std::collections::HashMap::new();
        let mut pairs = Vec::new();
        for &k in &keys {
            pairs.push((k, row(k.wrapping_add(1))));
            pairs.push((k, row(k)));
            std.insert(k, row(k));
        }
        let t = RowTable::build(pairs);
        assert_eq!(t.empty, u32::MAX - 2);
        assert_eq!(t.len(), std.len());
        for (k, r) in &std {
            assert_eq!(t.get(k), Some(r), "{k}");
        }
        for k in (0..5000u32).map(|k| k.wrapping_mul(2_654_435_761).wrapping_add(17)) {
            assert_eq!(t.get(&k).is_some(), std.contains_key(&k));
        }
        assert_eq!(t.get(&(u32::MAX - 2)), None);
        let mut listed: Vec<u32> = t.keys().copied().collect();
        listed.sort_unstable();
        let mut expected: Vec<u32> = std.keys().copied().collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        // A sum is the rows added in order, absent keys adding nothing; more keys than one
        // group of places.
        let asked: Vec<u32> = (0..150u32)
            .map(|k| k.wrapping_mul(2_654_435_761).wrapping_add(k % 2))
            .chain([u32::MAX - 2, u32::MAX])
            .collect();
        let mut expected = [0f32; N_LABELS];
        for k in &asked {
            if let Some(r) = std.get(k) {
                for (a, w) in expected.iter_mut().zip(r) {
                    *a += w;
                }
            }
        }
        let got = t.sum(&asked);
        assert_eq!(got.map(f32::to_bits), expected.map(f32::to_bits));
    }

    #[test]
    fn decoding_is_valid_iob2() {
        let model = NameModel::builtin();
        let gaz = Gazetteers::builtin();
        let labels = model.decode(&feats(&["of", "Smith", "and", "Jones", "Ltd"], &gaz));
        let mut prev = START;
        for l in labels {
            assert!(allowed(prev, l));
            prev = l;
        }
    }
}
