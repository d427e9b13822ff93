//! A search hit's snippet made from the body already read: the text that FTS5's
//! `snippet(articles_fts, 1, '[', ']', '…', 12)` gives (as `query.rs` asks for it), without
//! FTS5 tokenizing and Porter-stemming each shown body twice and walking the terms' doclists
//! once more to find the hits again.
//!
//! It follows what SQLite's `unicode61` tokenizer, its `porter` stemmer and its `snippet()`
//! function do, for the queries and bodies most searches have: queries of words and
//! `"phrases"`, with `*` prefixes, `AND`, `OR` and parentheses; text in Latin, Greek and
//! Cyrillic letters (folded as `unicode61` folds them: asked of SQLite once), digits, and
//! common punctuation, symbols and spaces. For anything else — `NOT`, `NEAR`, column
//! filters, `^`, `+`, other scripts, combining marks — it answers `None`, and the caller
//! asks FTS5. The tests compare both, word by word and snippet by snippet.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Tokens in a snippet (`query.rs`'s `SNIPPET_TOKENS`).
const SNIPPET_TOKENS: i64 = 12;
/// What `query.rs` marks a matched phrase and a cut with.
const OPEN: &str = "[";
const CLOSE: &str = "]";
const ELLIPSIS: &str = "…";
/// FTS5's porter stemmer passes longer tokens through unchanged.
const PORTER_MAX_TOKEN: usize = 64;
/// At most this many distinct query terms (a bit each per body token).
const MAX_TERMS: usize = 64;
/// At most this many tokens in all the query's phrases (finding the phrases in a body costs
/// its tokens times this).
const MAX_PHRASE_TOKENS: usize = 256;
/// At most this many distinct words remembered with the terms they are (see
/// [`SnippetQuery::known`]); past it, words are stemmed each time.
const KNOWN_MAX: usize = 65_536;

/// At most this many words kept stemmed per thread (see [`STEMS`]; about 3 MB).
const STEMS_MAX: usize = 50_000;

/// Written word -> its folded, stemmed form.
type Stems = HashMap<Box<[u8]>, Box<[u8]>, BuildHasherDefault<Fnv>>;

thread_local! {
    /// Words (as written in a body) folded and Porter-stemmed, kept for the next pages
    /// made on this thread: stemming a word costs about 2,000 instructions, and news bodies
    /// repeat their vocabulary from page to page. Emptied when full.
    static STEMS: RefCell<Stems> = RefCell::default();
}

/// FNV-1a: the remembered words are short, and SipHash cost more than the stemming it saves.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A query, parsed once for the snippets of a page.
#[derive(Debug)]
pub(crate) struct SnippetQuery {
    /// Distinct (stemmed term, prefix) pairs.
    terms: Vec<(Vec<u8>, bool)>,
    /// Each phrase of the query in FTS5's order (left to right): its terms' indices.
    phrases: Vec<Vec<usize>>,
    /// Which first bytes a matching token can have (a stem keeps its word's first byte).
    first: [bool; 256],
    /// Each word (as written in a body) seen in this query's snippets with the terms it is
    /// (a bit each): a page's bodies repeat their words, and folding and stemming each
    /// occurrence was a third of making a snippet.
    known: RefCell<HashMap<Box<[u8]>, u64, BuildHasherDefault<Fnv>>>,
}

/// A token's bytes in its text.
struct Token {
    start: usize,
    end: usize,
    /// Only ASCII letters and digits (folded by lower-casing alone).
    ascii: bool,
}

impl SnippetQuery {
    /// The query `terms` (FTS5 syntax), or `None` when it has anything this module does not
    /// follow exactly.
    pub(crate) fn parse(terms: &str) -> Option<Self> {
        let mut query = SnippetQuery {
            terms: Vec::new(),
            phrases: Vec::new(),
            first: [false; 256],
            known: RefCell::default(),
        };
        let bytes = terms.as_bytes();
        let mut i = 0;
        while let Some(&c) = bytes.get(i) {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' => i += 1,
                b'"' => {
                    // A string: `""` inside is one quote.
                    let mut text = Vec::new();
                    i += 1;
                    loop {
                        match bytes.get(i) {
                            None => return None,
                            Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                                text.push(b'"');
                                i += 2;
                            }
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(&b) => {
                                text.push(b);
                                i += 1;
                            }
                        }
                    }
                    let prefix = bytes.get(i) == Some(&b'*');
                    if prefix {
                        i += 1;
                    }
                    query.add_phrase(&text, prefix)?;
                }
                c if is_bareword(c) => {
                    let start = i;
                    while bytes.get(i).is_some_and(|&b| is_bareword(b)) {
                        i += 1;
                    }
                    let word = bytes.get(start..i)?;
                    match word {
                        b"AND" | b"OR" => continue,
                        b"NOT" | b"NEAR" => return None,
                        _ => {}
                    }
                    // A column filter (`title:`) is not followed.
                    let mut j = i;
                    while matches!(bytes.get(j), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b':') {
                        return None;
                    }
                    let prefix = bytes.get(i) == Some(&b'*');
                    if prefix {
                        i += 1;
                    }
                    query.add_phrase(word, prefix)?;
                }
                _ => return None,
            }
        }
        let tokens: usize = query.phrases.iter().map(Vec::len).sum();
        if query.phrases.is_empty() || query.phrases.len() > 64 || tokens > MAX_PHRASE_TOKENS {
            return None;
        }
        Some(query)
    }

    /// Tokenize and stem `text` as one phrase (its last token a prefix if `prefix`).
    fn add_phrase(&mut self, text: &[u8], prefix: bool) -> Option<()> {
        let text = std::str::from_utf8(text).ok()?;
        let tokens = tokenize(text)?;
        let count = tokens.len();
        if count == 0 {
            return None;
        }
        let mut phrase = Vec::with_capacity(count);
        let mut word = Vec::new();
        for (n, token) in tokens.iter().enumerate() {
            term_of(text, token, &mut word)?;
            porter(&mut word);
            let key = (word.clone(), prefix && n + 1 == count);
            let index = match self.terms.iter().position(|t| *t == key) {
                Some(index) => index,
                None => {
                    if self.terms.len() == MAX_TERMS {
                        return None;
                    }
                    let first = usize::from(*word.first()?);
                    *self.first.get_mut(first)? = true;
                    self.terms.push(key);
                    self.terms.len() - 1
                }
            };
            phrase.push(index);
        }
        self.phrases.push(phrase);
        Some(())
    }

    /// Which terms (a bit each) the word `token` of `text` is, folded and stemmed into
    /// `word`; `None` when it cannot be folded as `unicode61` does.
    fn terms_of(&self, text: &str, token: &Token, word: &mut Vec<u8>) -> Option<u64> {
        let raw = text.as_bytes().get(token.start..token.end)?;
        let stemmed = STEMS.with(|stems| {
            let stems = stems.borrow();
            let stem = stems.get(raw)?;
            word.clear();
            word.extend_from_slice(stem);
            Some(())
        });
        if stemmed.is_none() {
            term_of(text, token, word)?;
            porter(word);
            STEMS.with(|stems| {
                let mut stems = stems.borrow_mut();
                if stems.len() >= STEMS_MAX {
                    stems.clear();
                }
                stems.insert(raw.into(), word.as_slice().into());
            });
        }
        // A stem keeps its word's first byte.
        let first = word.first().map_or(0, |&b| usize::from(b));
        if !self.first.get(first).copied().unwrap_or(false) {
            return Some(0);
        }
        let mut set = 0u64;
        for (n, (term, prefix)) in self.terms.iter().enumerate() {
            let hit = if *prefix {
                word.starts_with(term)
            } else {
                *word == *term
            };
            if hit {
                set |= 1 << n;
            }
        }
        Some(set)
    }

    /// The snippet of `body`, or `None` when the body has characters this module does not
    /// tokenize as FTS5 does (letters beyond ASCII, most of all).
    pub(crate) fn snippet(&self, body: &str) -> Option<String> {
        let tokens = tokenize(body)?;
        if tokens.is_empty() {
            return None;
        }
        // Which terms each token is.
        let mut word = Vec::new();
        let mut bits = Vec::with_capacity(tokens.len());
        let mut known = self.known.borrow_mut();
        for token in &tokens {
            if token.ascii {
                let first = body.as_bytes().get(token.start)?.to_ascii_lowercase();
                if !self.first.get(usize::from(first)).copied().unwrap_or(false) {
                    bits.push(0u64);
                    continue;
                }
            }
            let raw = body.as_bytes().get(token.start..token.end)?;
            if let Some(&set) = known.get(raw) {
                bits.push(set);
                continue;
            }
            let set = self.terms_of(body, token, &mut word)?;
            if known.len() < KNOWN_MAX {
                known.insert(raw.into(), set);
            }
            bits.push(set);
        }
        drop(known);
        // Phrase instances in FTS5's order: by offset, then phrase.
        let mut instances: Vec<(usize, i64)> = Vec::new();
        for (offset, &set) in bits.iter().enumerate() {
            // A phrase starts only where a token is one of its terms.
            if set == 0 {
                continue;
            }
            for (p, phrase) in self.phrases.iter().enumerate() {
                let found = phrase.iter().enumerate().all(|(k, &term)| {
                    bits.get(offset + k)
                        .is_some_and(|&set| set & (1u64 << term) != 0)
                });
                if found {
                    instances.push((p, i64::try_from(offset).ok()?));
                }
            }
        }
        let size = |p: usize| -> i64 {
            self.phrases
                .get(p)
                .map_or(0, |ph| i64::try_from(ph.len()).unwrap_or(0))
        };
        let doc_size = i64::try_from(tokens.len()).ok()?;
        let firsts = sentence_starts(body, &tokens)?;

        // The window: as fts5SnippetFunction and fts5SnippetScore choose it. The instances
        // are in offset order, so those in a window are one run of them (FTS5 reads them
        // all for each window; the same answer).
        let score = |start: i64, adjust: bool| -> (i64, i64) {
            let end = start + SNIPPET_TOKENS;
            let from = instances.partition_point(|&(_, offset)| offset < start);
            let mut seen = 0u64;
            let (mut total, mut first, mut last) = (0i64, -1i64, 0i64);
            for &(p, offset) in instances.get(from..).unwrap_or_default() {
                if offset >= end {
                    break;
                }
                total += if seen & (1 << p) != 0 { 1 } else { 1000 };
                seen |= 1 << p;
                if first < 0 {
                    first = offset;
                }
                last = offset + size(p);
            }
            let mut at = 0;
            if adjust {
                at = first - (SNIPPET_TOKENS - (last - first)) / 2;
                if at + SNIPPET_TOKENS > doc_size {
                    at = doc_size - SNIPPET_TOKENS;
                }
                at = at.max(0);
            }
            (total, at)
        };
        let (mut best_score, mut best_start) = (0i64, 0i64);
        // The instances come in offset order, so each one's sentence is found on from the
        // last one's (FTS5 searches from the first sentence each time: the same one).
        let mut jj = 0;
        for &(_, offset) in &instances {
            let (total, at) = score(offset, true);
            if total > best_score {
                best_score = total;
                best_start = at;
            }
            if !firsts.is_empty() && doc_size > SNIPPET_TOKENS {
                while jj + 1 < firsts.len() {
                    if firsts.get(jj + 1).is_some_and(|&f| f > offset) {
                        break;
                    }
                    jj += 1;
                }
                let sentence = *firsts.get(jj)?;
                if sentence < offset {
                    let (mut total, _) = score(sentence, false);
                    total += if sentence == 0 { 120 } else { 100 };
                    if total > best_score {
                        best_score = total;
                        best_start = sentence;
                    }
                }
            }
        }

        // The text: as fts5HighlightCb writes it over the window.
        let mut coalesced = Coalesced {
            instances: &instances,
            next: 0,
            start: -1,
            end: -1,
            size: &size,
        };
        coalesced.advance();
        let range_start = best_start;
        let range_end = best_start + SNIPPET_TOKENS - 1;
        let mut out = String::new();
        if best_start > 0 {
            out.push_str(ELLIPSIS);
        }
        while coalesced.start >= 0 && coalesced.start < best_start {
            coalesced.advance();
        }
        let (mut off, mut open) = (0usize, false);
        let first_shown = usize::try_from(range_start).ok()?;
        let shown = usize::try_from(SNIPPET_TOKENS).ok()?;
        for (position, token) in tokens.iter().enumerate().skip(first_shown).take(shown) {
            let position = i64::try_from(position).ok()?;
            if range_start != 0 && position == range_start {
                off = token.start;
            }
            if open && (position <= coalesced.start || coalesced.start < 0) && token.start > off {
                out.push_str(CLOSE);
                open = false;
            }
            if position == coalesced.start && !open {
                out.push_str(body.get(off..token.start)?);
                out.push_str(OPEN);
                off = token.start;
                open = true;
            }
            if position == coalesced.end {
                if !open {
                    out.push_str(OPEN);
                    open = true;
                }
                out.push_str(body.get(off..token.end)?);
                off = token.end;
                coalesced.advance();
            }
            if position == range_end {
                if open {
                    if coalesced.start >= 0 && position >= coalesced.start {
                        out.push_str(body.get(off..token.end)?);
                        off = token.end;
                    }
                    out.push_str(CLOSE);
                    open = false;
                }
                out.push_str(body.get(off..token.end)?);
                off = token.end;
            }
        }
        if open {
            out.push_str(CLOSE);
        }
        if range_end >= doc_size - 1 {
            out.push_str(body.get(off..)?);
        } else {
            out.push_str(ELLIPSIS);
        }
        Some(out)
    }
}

/// Overlapping phrase instances taken as one (fts5CInstIterNext).
struct Coalesced<'a, F: Fn(usize) -> i64> {
    instances: &'a [(usize, i64)],
    next: usize,
    start: i64,
    end: i64,
    size: &'a F,
}

impl<F: Fn(usize) -> i64> Coalesced<'_, F> {
    fn advance(&mut self) {
        self.start = -1;
        self.end = -1;
        while let Some(&(p, offset)) = self.instances.get(self.next) {
            let end = offset - 1 + (self.size)(p);
            if self.start < 0 {
                self.start = offset;
                self.end = end;
            } else if offset <= self.end {
                self.end = self.end.max(end);
            } else {
                break;
            }
            self.next += 1;
        }
    }
}

/// The tokens that begin a sentence (fts5SentenceFinderCb): the first, and each one after
/// whitespace that follows a `.` or `:`.
fn sentence_starts(body: &str, tokens: &[Token]) -> Option<Vec<i64>> {
    let bytes = body.as_bytes();
    let mut firsts = Vec::new();
    for (position, token) in tokens.iter().enumerate() {
        if position == 0 {
            firsts.push(0);
            continue;
        }
        let before = bytes.get(..token.start)?;
        let trimmed = before
            .iter()
            .rev()
            .position(|&c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
        if let Some(spaces) = trimmed
            && spaces > 0
            && matches!(before.get(before.len() - 1 - spaces), Some(b'.' | b':'))
        {
            firsts.push(i64::try_from(position).ok()?);
        }
    }
    Some(firsts)
}

/// ASCII letters and digits, by byte.
const ALNUM: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
};

/// `text`'s tokens as `unicode61` splits them, or `None` when it has a character that is
/// neither ASCII, nor known punctuation, a symbol or a space, nor in [`folds`]' table.
fn tokenize(text: &str) -> Option<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(bytes.len() / 6);
    let mut start: Option<usize> = None;
    let mut ascii = true;
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        let len = if ALNUM[usize::from(b)] {
            start.get_or_insert(at);
            at += 1;
            // The rest of an ASCII run at once.
            while bytes.get(at).is_some_and(|&b| ALNUM[usize::from(b)]) {
                at += 1;
            }
            continue;
        } else if b.is_ascii() {
            1
        } else {
            let c = text.get(at..)?.chars().next()?;
            let letter = if probed(u32::from(c)) {
                folds()?.get(&c)?.is_some()
            } else if is_separator(c) {
                false
            } else {
                return None;
            };
            if letter {
                start.get_or_insert(at);
                ascii = false;
                at += c.len_utf8();
                continue;
            }
            c.len_utf8()
        };
        if let Some(s) = start.take() {
            tokens.push(Token {
                start: s,
                end: at,
                ascii,
            });
            ascii = true;
        }
        at += len;
    }
    if let Some(s) = start {
        tokens.push(Token {
            start: s,
            end: text.len(),
            ascii,
        });
    }
    Some(tokens)
}

/// The folded text of `token` (lower case, diacritics removed, as `unicode61` folds it)
/// into `out`.
fn term_of(text: &str, token: &Token, out: &mut Vec<u8>) -> Option<()> {
    let word = text.get(token.start..token.end)?;
    out.clear();
    if token.ascii {
        out.extend_from_slice(word.as_bytes());
        out.make_ascii_lowercase();
        return Some(());
    }
    let folds = folds()?;
    for c in word.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase() as u8);
        } else {
            out.extend_from_slice(folds.get(&c)?.as_deref()?.as_bytes());
        }
    }
    Some(())
}

/// What FTS5's query syntax takes as part of a bareword.
fn is_bareword(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Characters probed: Latin, Greek and Cyrillic (U+0080 to U+052F), without the combining
/// marks U+0300 to U+036F, which `unicode61` takes into a token only after a letter.
fn probed(c: u32) -> bool {
    (0x80..=0x52f).contains(&c) && !(0x300..=0x36f).contains(&c)
}

/// How `unicode61` (with its default `remove_diacritics 1`) takes each [`probed`]
/// character: a separator (`None`) or a letter and what it folds to. Asked once of SQLite's
/// own tokenizer, in a database in memory: so it is what FTS5 does, whatever its Unicode
/// tables; `None` if that fails (then only ASCII bodies get snippets made here).
fn folds() -> Option<&'static HashMap<char, Option<String>>> {
    static FOLDS: OnceLock<Option<HashMap<char, Option<String>>>> = OnceLock::new();
    FOLDS.get_or_init(|| probe_folds().ok()).as_ref()
}

fn probe_folds() -> rusqlite::Result<HashMap<char, Option<String>>> {
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE p USING fts5 (x, tokenize = 'unicode61');
         CREATE VIRTUAL TABLE v USING fts5vocab (p, 'instance');
         BEGIN;",
    )?;
    let chars: Vec<char> = (0x80..=0x52f)
        .filter(|&c| probed(c))
        .filter_map(char::from_u32)
        .collect();
    {
        // Between two letters: one token if it is a letter, two if a separator.
        let mut insert = conn.prepare("INSERT INTO p (rowid, x) VALUES (?1, ?2)")?;
        for &c in &chars {
            insert.execute(rusqlite::params![i64::from(u32::from(c)), format!("q{c}q")])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    let mut terms: HashMap<i64, Vec<String>> = HashMap::with_capacity(chars.len());
    let mut st = conn.prepare("SELECT doc, term FROM v ORDER BY doc, offset")?;
    let mut rows = st.query([])?;
    while let Some(row) = rows.next()? {
        terms.entry(row.get(0)?).or_default().push(row.get(1)?);
    }
    let mut out = HashMap::with_capacity(chars.len());
    for c in chars {
        let found = terms.remove(&i64::from(u32::from(c))).unwrap_or_default();
        match found.as_slice() {
            [one] => {
                if let Some(folded) = one.strip_prefix('q').and_then(|f| f.strip_suffix('q')) {
                    out.insert(c, Some(folded.to_string()));
                }
            }
            [a, b] if a == "q" && b == "q" => {
                out.insert(c, None);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Characters beyond ASCII that `unicode61` surely treats as separators (their Unicode
/// categories are punctuation, symbols, spaces and format characters, none of them a
/// letter, a digit or a diacritic mark): the ones news text has most.
fn is_separator(c: char) -> bool {
    matches!(c,
        '\u{a0}'..='\u{a9}' | '\u{ab}'..='\u{b1}' | '\u{b4}' | '\u{b6}'..='\u{b8}'
        | '\u{bb}' | '\u{bf}' | '\u{d7}' | '\u{f7}'
        | '\u{2000}'..='\u{206f}'   // general punctuation
        | '\u{20a0}'..='\u{20cf}'   // currency signs
        | '\u{2122}'
        | '\u{2190}'..='\u{22ff}'   // arrows, mathematical operators
        | '\u{25a0}'..='\u{26ff}'   // shapes, miscellaneous symbols
        | '\u{fe00}'..='\u{fe0f}'   // variation selectors
        | '\u{feff}' | '\u{fffd}'
        | '\u{1f300}'..='\u{1f64f}' | '\u{1f680}'..='\u{1f6ff}' | '\u{1f900}'..='\u{1f9ff}')
}

/// The Porter stemmer as FTS5's `porter` tokenizer applies it to a lower-case ASCII token
/// (shorter than 3 or longer than 64 bytes: unchanged).
fn porter(word: &mut Vec<u8>) {
    if word.len() < 3 || word.len() > PORTER_MAX_TOKEN {
        return;
    }
    step_1a(word);
    if step(word, STEP_1B) && !step(word, STEP_1B2) {
        let n = word.len();
        let last = word.last().copied().unwrap_or(b'a');
        let double = n >= 2
            && !is_vowel(last, false)
            && !matches!(last, b'l' | b's' | b'z')
            && word.get(n - 2) == Some(&last);
        if double {
            word.pop();
        } else if m_eq1(word) && o_star(word) {
            word.push(b'e');
        }
    }
    // Step 1c.
    if let Some((last, stem)) = word.split_last_mut()
        && *last == b'y'
        && has_vowel(stem)
    {
        *last = b'i';
    }
    step(word, STEP_2);
    step(word, STEP_3);
    step(word, STEP_4);
    // Step 5a.
    if let Some((&b'e', stem)) = word.split_last()
        && (m_gt1(stem) || (m_eq1(stem) && !o_star(stem)))
    {
        word.pop();
    }
    // Step 5b.
    let n = word.len();
    if n > 1 && word.ends_with(b"ll") && m_gt1(word.get(..n - 1).unwrap_or_default()) {
        word.pop();
    }
}

fn step_1a(word: &mut Vec<u8>) {
    let n = word.len();
    if word.last() != Some(&b's') {
        return;
    }
    if word.get(n - 2) == Some(&b'e') {
        let sses = n > 4 && word.get(n - 4..n - 2) == Some(b"ss");
        let ies = n > 3 && word.get(n - 3) == Some(&b'i');
        word.truncate(if sses || ies { n - 2 } else { n - 1 });
    } else if word.get(n - 2) != Some(&b's') {
        word.truncate(n - 1);
    }
}

/// When a rule's stem qualifies.
#[derive(Clone, Copy)]
enum Cond {
    Always,
    /// m > 0
    M0,
    /// m > 1
    M1,
    /// m > 1 and the stem ends in s or t
    M1ST,
    /// the stem has a vowel
    Vowel,
}

/// (suffix, replacement, condition).
type Rule = (&'static [u8], &'static [u8], Cond);

const STEP_1B: &[Rule] = &[
    (b"eed", b"ee", Cond::M0),
    (b"ed", b"", Cond::Vowel),
    (b"ing", b"", Cond::Vowel),
];
const STEP_1B2: &[Rule] = &[
    (b"at", b"ate", Cond::Always),
    (b"bl", b"ble", Cond::Always),
    (b"iz", b"ize", Cond::Always),
];
const STEP_2: &[Rule] = &[
    (b"ational", b"ate", Cond::M0),
    (b"tional", b"tion", Cond::M0),
    (b"enci", b"ence", Cond::M0),
    (b"anci", b"ance", Cond::M0),
    (b"izer", b"ize", Cond::M0),
    (b"logi", b"log", Cond::M0),
    (b"bli", b"ble", Cond::M0),
    (b"alli", b"al", Cond::M0),
    (b"entli", b"ent", Cond::M0),
    (b"eli", b"e", Cond::M0),
    (b"ousli", b"ous", Cond::M0),
    (b"ization", b"ize", Cond::M0),
    (b"ation", b"ate", Cond::M0),
    (b"ator", b"ate", Cond::M0),
    (b"alism", b"al", Cond::M0),
    (b"iveness", b"ive", Cond::M0),
    (b"fulness", b"ful", Cond::M0),
    (b"ousness", b"ous", Cond::M0),
    (b"aliti", b"al", Cond::M0),
    (b"iviti", b"ive", Cond::M0),
    (b"biliti", b"ble", Cond::M0),
];
const STEP_3: &[Rule] = &[
    (b"ical", b"ic", Cond::M0),
    (b"ness", b"", Cond::M0),
    (b"icate", b"ic", Cond::M0),
    (b"iciti", b"ic", Cond::M0),
    (b"ful", b"", Cond::M0),
    (b"ative", b"", Cond::M0),
    (b"alize", b"al", Cond::M0),
];
const STEP_4: &[Rule] = &[
    (b"al", b"", Cond::M1),
    (b"ance", b"", Cond::M1),
    (b"ence", b"", Cond::M1),
    (b"er", b"", Cond::M1),
    (b"ic", b"", Cond::M1),
    (b"able", b"", Cond::M1),
    (b"ible", b"", Cond::M1),
    (b"ant", b"", Cond::M1),
    (b"ement", b"", Cond::M1),
    (b"ment", b"", Cond::M1),
    (b"ent", b"", Cond::M1),
    (b"ion", b"", Cond::M1ST),
    (b"ou", b"", Cond::M1),
    (b"ism", b"", Cond::M1),
    (b"ate", b"", Cond::M1),
    (b"iti", b"", Cond::M1),
    (b"ous", b"", Cond::M1),
    (b"ive", b"", Cond::M1),
    (b"ize", b"", Cond::M1),
];

/// The first rule whose suffix `word` ends with (leaving a stem of at least one letter)
/// decides: replaced if its condition holds, else nothing. True when one was applied
/// (what step 1b asks).
fn step(word: &mut Vec<u8>, rules: &[Rule]) -> bool {
    let n = word.len();
    for &(suffix, replacement, cond) in rules {
        if n <= suffix.len() || !word.ends_with(suffix) {
            continue;
        }
        let stem_len = n - suffix.len();
        let stem = word.get(..stem_len).unwrap_or_default();
        let ok = match cond {
            Cond::Always => true,
            Cond::M0 => m_gt0(stem),
            Cond::M1 => m_gt1(stem),
            Cond::M1ST => matches!(stem.last(), Some(b's' | b't')) && m_gt1(stem),
            Cond::Vowel => has_vowel(stem),
        };
        if ok {
            word.truncate(stem_len);
            word.extend_from_slice(replacement);
        }
        return ok && !matches!(suffix, b"eed");
    }
    false
}

fn is_vowel(c: u8, y_is_vowel: bool) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u') || (y_is_vowel && c == b'y')
}

/// Past the first vowel-consonant sequence of `stem` (the letter before it a consonant if
/// `prev_consonant`): the length up to and including that consonant, or 0 if none.
fn gobble_vc(stem: &[u8], prev_consonant: bool) -> usize {
    let mut consonant = prev_consonant;
    let mut i = 0;
    while let Some(&c) = stem.get(i) {
        consonant = !is_vowel(c, consonant);
        if !consonant {
            break;
        }
        i += 1;
    }
    i += 1;
    while let Some(&c) = stem.get(i) {
        consonant = !is_vowel(c, consonant);
        if consonant {
            return i + 1;
        }
        i += 1;
    }
    0
}

fn m_gt0(stem: &[u8]) -> bool {
    gobble_vc(stem, false) != 0
}

fn m_gt1(stem: &[u8]) -> bool {
    let n = gobble_vc(stem, false);
    n != 0 && gobble_vc(stem.get(n..).unwrap_or_default(), true) != 0
}

fn m_eq1(stem: &[u8]) -> bool {
    let n = gobble_vc(stem, false);
    n != 0 && gobble_vc(stem.get(n..).unwrap_or_default(), true) == 0
}

/// Ends consonant-vowel-consonant, the last not w, x or y.
fn o_star(stem: &[u8]) -> bool {
    if matches!(stem.last(), None | Some(b'w' | b'x' | b'y')) {
        return false;
    }
    let mut mask = 0u8;
    let mut consonant = false;
    for &c in stem {
        consonant = !is_vowel(c, consonant);
        mask = ((mask << 1) | u8::from(consonant)) & 7;
    }
    mask == 5
}

/// (*v*): a vowel, `y` counting as one after the first letter.
fn has_vowel(stem: &[u8]) -> bool {
    stem.iter().enumerate().any(|(i, &c)| is_vowel(c, i > 0))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// Words that walk every rule: stems crossed with the suffixes the rules know, and
    /// pseudo-random letter strings.
    fn words() -> Vec<String> {
        let stems = [
            "relat", "condit", "happ", "hop", "fil", "agre", "general", "bat", "cr", "sens", "rat",
            "formal", "electr", "adopt", "depend", "feud", "irrit", "commun", "bow", "tr", "ca",
            "a", "oa", "y", "sky", "toy", "fizz", "fall", "controll", "roll", "hope", "sta",
            "sess", "pon", "ti", "cares", "analog", "vietnam", "predic", "eff",
        ];
        let suffixes = [
            "", "s", "es", "ies", "sses", "ss", "ed", "eed", "ing", "ings", "ation", "ational",
            "tional", "enci", "anci", "izer", "bli", "alli", "entli", "eli", "ousli", "ization",
            "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "logi",
            "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er",
            "ic", "able", "ible", "ant", "ement", "ment", "ent", "sion", "tion", "ou", "ism",
            "ate", "iti", "ous", "ive", "ize", "at", "bl", "iz", "y", "e", "ll", "li", "ingly",
            "edly", "ments", "ers", "ly", "ied", "ying", "ating",
        ];
        let mut out = Vec::new();
        for s in stems {
            for x in suffixes {
                out.push(format!("{s}{x}"));
            }
        }
        let letters = b"aeiouybcdglmnrstwxz";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = 1 + (seed >> 60) as usize % 12;
            let mut w = String::new();
            let mut s = seed;
            for _ in 0..len {
                w.push(char::from(letters[(s % letters.len() as u64) as usize]));
                s = s.rotate_right(5).wrapping_mul(31).wrapping_add(7);
            }
            out.push(w);
        }
        out.push("a".repeat(64) + "ing");
        out.push("b".repeat(61) + "ing");
        out
    }

    fn fts(conn: &Connection) {
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5 (title, body, tokenize = 'porter unicode61');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');",
        )
        .unwrap();
    }

    /// Every word stems as FTS5's porter tokenizer stems it.
    #[test]
    fn porter_stems_as_fts5_does() {
        let conn = Connection::open_in_memory().unwrap();
        fts(&conn);
        let words = words();
        for (i, chunk) in words.chunks(500).enumerate() {
            conn.execute(
                "INSERT INTO t (rowid, title, body) VALUES (?1, '', ?2)",
                rusqlite::params![i as i64 + 1, chunk.join(" ")],
            )
            .unwrap();
        }
        let mut st = conn
            .prepare("SELECT term FROM v WHERE doc = ?1 AND col = 'body' ORDER BY offset")
            .unwrap();
        let mut checked = 0;
        for (i, chunk) in words.chunks(500).enumerate() {
            let theirs: Vec<String> = st
                .query_map([i as i64 + 1], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(theirs.len(), chunk.len());
            for (word, want) in chunk.iter().zip(&theirs) {
                let mut mine = word.to_ascii_lowercase().into_bytes();
                porter(&mut mine);
                assert_eq!(String::from_utf8(mine).unwrap(), *want, "{word}");
                checked += 1;
            }
        }
        assert!(checked > 20_000);
    }

    /// Generated documents: words from a small vocabulary, sentences, colons, line breaks,
    /// punctuation beyond ASCII.
    fn documents() -> Vec<String> {
        let vocab = [
            "harbour",
            "harbours",
            "strike",
            "striking",
            "struck",
            "nuclear",
            "power",
            "plant",
            "plants",
            "planted",
            "the",
            "a",
            "of",
            "city",
            "council",
            "councils",
            "vote",
            "voted",
            "voting",
            "Harbour",
            "NUCLEAR",
            "run",
            "running",
            "runner",
            "x1",
            "2024",
            "connection",
            "connected",
            "connecting",
            "generalization",
            "general",
            "café",
            "CAFÉ",
            "cafe",
            "Málaga",
            "malaga",
            "naïve",
            "Ærøskøbing",
            "Straße",
            "Ελλάδα",
            "Москва",
            "Łódź",
            "ÉTÉ",
        ];
        let seps = [
            " ", " ", " ", " ", ", ", ". ", ": ", ".\n\n", " — ", "’s ", " “", "” ", "-", " (",
            ") ", "…", ".", " \t",
        ];
        let mut seed: u64 = 7;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        let mut docs = Vec::new();
        for _ in 0..600 {
            let len = next(60);
            let mut d = String::new();
            if next(4) == 0 {
                d.push_str(seps[next(seps.len())]);
            }
            for _ in 0..len {
                d.push_str(vocab[next(vocab.len())]);
                d.push_str(seps[next(seps.len())]);
            }
            if next(3) == 0 {
                d.push('.');
            }
            docs.push(d);
        }
        docs
    }

    /// The snippet of every matching document is FTS5's `snippet()`, byte for byte, for
    /// every query this module follows; the others it leaves to FTS5.
    #[test]
    fn snippets_are_fts5_snippets() {
        let conn = Connection::open_in_memory().unwrap();
        fts(&conn);
        for (i, d) in documents().iter().enumerate() {
            conn.execute(
                "INSERT INTO t (rowid, title, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![i as i64 + 1, if i % 5 == 0 { "harbour" } else { "" }, d],
            )
            .unwrap();
        }
        let followed = [
            "harbour",
            "nuclear power",
            "\"nuclear power\"",
            "\"power plant\" OR council",
            "strike OR struck",
            "run*",
            "harb*",
            "(vote OR voting) AND city",
            "connection",
            "general*",
            "the",
            "the the",
            "\"the city\" \"city council\"",
            "\"harbour harbour\"",
            "2024",
            "x1",
            "generalization",
            "a",
            "cafe",
            "café",
            "malaga",
            "\"naive cafe\"",
            "москва OR ελλαδα",
            "łódź",
            "straße",
            "ete",
        ];
        let mut st = conn
            .prepare(
                "SELECT body, snippet(t, 1, '[', ']', '…', 12) FROM t WHERE t MATCH ?1 ORDER BY rowid",
            )
            .unwrap();
        let mut compared = 0;
        for q in followed {
            let query = SnippetQuery::parse(q).unwrap_or_else(|| panic!("{q}"));
            let rows: Vec<(String, String)> = st
                .query_map([q], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(!rows.is_empty(), "{q}");
            for (body, want) in rows {
                let Some(mine) = query.snippet(&body) else {
                    assert!(!body.bytes().any(|b| b.is_ascii_alphanumeric()), "{body:?}");
                    continue;
                };
                assert_eq!(mine, want, "{q} in {body:?}");
                compared += 1;
            }
        }
        assert!(compared > 1000, "{compared}");
        for q in [
            "harbour NOT city",
            "NEAR(harbour city)",
            "title:harbour",
            "body : harbour",
            "^harbour",
            "harbour + city",
            "\"\"",
            "東京",
            "{title}: harbour",
        ] {
            assert!(SnippetQuery::parse(q).is_none(), "{q}");
        }
        let long = format!("\"{}\"", "harbour ".repeat(MAX_PHRASE_TOKENS + 1));
        assert!(SnippetQuery::parse(&long).is_none());
        let long = format!("\"{}\"", "harbour ".repeat(MAX_PHRASE_TOKENS));
        assert!(SnippetQuery::parse(&long).is_some());
        let query = SnippetQuery::parse("harbour").unwrap();
        assert!(query.snippet("the harbour of 東京").is_none());
        assert!(query.snippet("the harbour of Ba\u{301}le").is_none());
        assert!(query.snippet("the harbour of Málaga").is_some());
        assert!(query.snippet("").is_none());
    }
}
