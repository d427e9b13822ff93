//! whatlang's language detection for Latin-script text, computed the cheap way round, with the
//! same answer.
//!
//! whatlang (method "combined", the default) scores every Latin-script language by its
//! alphabet and by its trigrams: the text's trigrams ranked by count (at most 600), and for
//! each of 37 languages the distance between that ranking and the language's 300-trigram
//! profile — 37 × 300 hash lookups a text, most of its time. Here the profiles are indexed
//! the other way (trigram → the languages holding it, with its rank), so only the text's
//! trigrams are looked up, once each; the distances, the scores and the confidence come out
//! as the same integers and the same floating-point operations in the same order, and so do
//! the alphabet scores (a count per letter, then a sum per alphabet, where whatlang binary
//! searches its letter table for every character). When the answer could depend on how
//! whatlang orders equal scores (two languages tied for first), or on an edge its
//! arithmetic handles by wrapping, [`detect_latin`] says `None` and the caller asks whatlang.
//! `tests` compares the two on the evaluation texts' shapes and on generated mixtures.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use whatlang::Lang;

/// whatlang's profiles of its Latin-script languages (see the file's header).
const PROFILES: &str = include_str!("../data/whatlang-latin-trigrams.txt");

/// whatlang's `MAX_TRIGRAM_DISTANCE`: a profile's length, and what a missing trigram costs.
const MAX_TRIGRAM_DISTANCE: u32 = 300;
/// whatlang's `MAX_TOTAL_DISTANCE`.
const MAX_TOTAL_DISTANCE: u32 = MAX_TRIGRAM_DISTANCE * MAX_TRIGRAM_DISTANCE;
/// whatlang's `TEXT_TRIGRAMS_SIZE`: how many of the text's trigrams are ranked.
const TEXT_TRIGRAMS_SIZE: usize = 600;
/// whatlang's `RELIABLE_CONFIDENCE_THRESHOLD`.
const RELIABLE_CONFIDENCE: f64 = 0.9;

/// A trigram as one integer: three chars of 21 bits, the first highest, so that integer
/// order is whatlang's `Trigram` order (char by char).
fn pack(a: char, b: char, c: char) -> u64 {
    (u64::from(a) << 42) | (u64::from(b) << 21) | u64::from(c)
}

/// A multiplicative hasher for packed trigrams (SipHash costs more than the lookups save).
#[derive(Default)]
struct TrigramHasher(u64);

impl Hasher for TrigramHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }
}

type TrigramMap<V> = HashMap<u64, V, BuildHasherDefault<TrigramHasher>>;

/// The profiles indexed by trigram: for each, the (language, rank) pairs that hold it.
struct Index {
    langs: Vec<Lang>,
    /// Trigram → where its (language, rank) pairs are in `postings`: one table of ranges
    /// and one array of pairs, so a lookup reads two places (a `Vec` per trigram, each its
    /// own allocation, was a third, and the lookups wait on memory more than they compute).
    lists: TrigramMap<(u32, u32)>,
    postings: Vec<(u8, u16)>,
    /// Each language's alphabet (in `langs` order), each letter as its slot in
    /// `letter_slots`.
    alphabets: Vec<Vec<u8>>,
    /// Char → its slot (one per letter of any alphabet), `NO_SLOT` for the rest; indexed
    /// directly, every alphabet letter being below `LETTER_LIMIT`.
    letter_slots: Vec<u8>,
}

/// Every letter of whatlang's Latin alphabets is below this (the highest is U+1EF9).
const LETTER_LIMIT: usize = 0x2000;
/// A char in no alphabet.
const NO_SLOT: u8 = u8::MAX;

static INDEX: LazyLock<Option<Index>> = LazyLock::new(build_index);

/// `None` when the profile file cannot be read as expected (then whatlang answers alone).
fn build_index() -> Option<Index> {
    let mut langs = Vec::new();
    let mut postings: TrigramMap<Vec<(u8, u16)>> = TrigramMap::default();
    let mut alphabets: Vec<(Lang, Vec<char>)> = Vec::new();
    for line in PROFILES.lines().filter(|l| !l.starts_with('#')) {
        if let Some(alphabet) = line.strip_prefix("alphabet\t") {
            let (code, letters) = alphabet.split_once('\t')?;
            alphabets.push((Lang::from_code(code)?, letters.chars().collect()));
            continue;
        }
        let (code, trigrams) = line.split_once('\t')?;
        let lang = Lang::from_code(code)?;
        let index = u8::try_from(langs.len()).ok()?;
        langs.push(lang);
        let chars: Vec<char> = trigrams.chars().collect();
        if chars.len() != 3 * MAX_TRIGRAM_DISTANCE as usize {
            return None;
        }
        for (rank, t) in chars.chunks_exact(3).enumerate() {
            let (&[a, b, c], Ok(rank)) = (t, u16::try_from(rank)) else {
                return None;
            };
            postings
                .entry(pack(a, b, c))
                .or_default()
                .push((index, rank));
        }
    }
    // Every language has both a profile and an alphabet (whatlang's combined score gives a
    // missing one 0; this scoring does not handle that case).
    if alphabets.len() != langs.len() {
        return None;
    }
    let alphabets = langs
        .iter()
        .map(|lang| {
            alphabets
                .iter()
                .find(|(l, _)| l == lang)
                .map(|(_, a)| a.clone())
        })
        .collect::<Option<Vec<_>>>()?;
    let mut letter_slots = vec![NO_SLOT; LETTER_LIMIT];
    let mut next_slot = 0u8;
    let alphabets = alphabets
        .into_iter()
        .map(|letters| {
            letters
                .into_iter()
                .map(|c| {
                    let slot = letter_slots.get_mut(c as usize)?;
                    if *slot == NO_SLOT {
                        *slot = next_slot;
                        next_slot = next_slot.checked_add(1).filter(|&n| n != NO_SLOT)?;
                    }
                    Some(*slot)
                })
                .collect::<Option<Vec<u8>>>()
        })
        .collect::<Option<Vec<_>>>()?;
    let mut lists = TrigramMap::with_capacity_and_hasher(postings.len(), Default::default());
    let mut flat = Vec::with_capacity(langs.len() * MAX_TRIGRAM_DISTANCE as usize);
    for (trigram, pairs) in postings {
        let from = u32::try_from(flat.len()).ok()?;
        flat.extend(pairs);
        lists.insert(trigram, (from, u32::try_from(flat.len()).ok()?));
    }
    (!langs.is_empty()).then_some(Index {
        langs,
        lists,
        postings: flat,
        alphabets,
        letter_slots,
    })
}

/// whatlang's stop characters (ASCII punctuation, digits, spaces, controls) become a space.
#[inline(always)]
fn trigram_char(c: char) -> char {
    match STOP.get(c as usize) {
        Some(true) => ' ',
        _ => c,
    }
}

/// Which ASCII chars are whatlang's stop characters, by code.
const STOP: [bool; 128] = {
    let mut stop = [false; 128];
    let mut c = 0;
    while c < 128 {
        stop[c] = matches!(c, 0x00..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E);
        c += 1;
    }
    stop
};

/// Buffers kept between calls on a thread: the trigram counting table and its entries.
#[derive(Default)]
struct Scratch {
    /// Slot → 1 + the trigram's place in `counts` (0: empty): an open-addressing table keyed
    /// by the packed trigram, at most half full, all zero between texts.
    table: Vec<u32>,
    /// The text's trigrams and their counts, in first-seen order.
    counts: Vec<(u32, u64)>,
    /// The slots `counts` filled, to empty them for the next text.
    used: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scratch {
    /// Empties the table (only the slots used) and sizes it for about `chars` trigrams.
    fn reset(&mut self, chars: usize) {
        let wanted = (2 * (chars + 2)).next_power_of_two().max(16);
        if self.table.len() < wanted || self.table.len() > 8 * wanted.max(4096) {
            self.table = vec![0; wanted];
        } else {
            for &slot in &self.used {
                if let Some(s) = self.table.get_mut(slot as usize) {
                    *s = 0;
                }
            }
        }
        self.used.clear();
        self.counts.clear();
    }

    /// The empty slot where `key` goes, or the slot holding it.
    fn probe(&self, key: u64) -> Option<usize> {
        let mask = self.table.len() - 1;
        let shift = 64 - self.table.len().trailing_zeros();
        let mut slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize;
        loop {
            let entry = *self.table.get(slot)?;
            if entry == 0 || self.counts.get(entry as usize - 1)?.1 == key {
                return Some(slot);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Counts one more `key`. The table is never more than half full (it doubles first), so
    /// a probe always ends.
    #[inline(always)]
    fn add(&mut self, key: u64) -> Option<()> {
        let mask = self.table.len() - 1;
        let shift = 64 - self.table.len().trailing_zeros();
        let mut slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize;
        loop {
            let entry = *self.table.get(slot)?;
            if entry == 0 {
                break;
            }
            let pair = self.counts.get_mut(entry as usize - 1)?;
            if pair.1 == key {
                pair.0 += 1;
                return Some(());
            }
            slot = (slot + 1) & mask;
        }
        let entry = self.table.get_mut(slot)?;
        self.counts.push((1, key));
        *entry = u32::try_from(self.counts.len()).ok()?;
        self.used.push(u32::try_from(slot).ok()?);
        if 2 * self.counts.len() >= self.table.len() {
            self.grow()?;
        }
        Some(())
    }

    /// Doubles the table and puts every trigram back.
    fn grow(&mut self) -> Option<()> {
        self.table = vec![0; 2 * self.table.len()];
        self.used.clear();
        for place in 0..self.counts.len() {
            let key = self.counts.get(place)?.1;
            let slot = self.probe(key)?;
            *self.table.get_mut(slot)? = u32::try_from(place + 1).ok()?;
            self.used.push(u32::try_from(slot).ok()?);
        }
        Some(())
    }
}

/// The chars of `text.to_lowercase()` (what whatlang lowercases with), without building it:
/// ASCII by itself, every other char by its own lowercase. Text with a capital sigma
/// (lowercased by its context) takes the standard one.
struct Lower<'a> {
    source: LowerSource<'a>,
    /// The rest of a char whose lowercase is more than one char.
    pending: Option<std::char::ToLowercase>,
}

enum LowerSource<'a> {
    Text(std::str::Chars<'a>),
    Lowered(std::vec::IntoIter<char>),
}

fn lower(text: &str) -> Lower<'_> {
    let source = if text.contains('Σ') {
        LowerSource::Lowered(text.to_lowercase().chars().collect::<Vec<_>>().into_iter())
    } else {
        LowerSource::Text(text.chars())
    };
    Lower {
        source,
        pending: None,
    }
}

impl Iterator for Lower<'_> {
    type Item = char;

    #[inline(always)]
    fn next(&mut self) -> Option<char> {
        if let Some(rest) = &mut self.pending {
            if let Some(c) = rest.next() {
                return Some(c);
            }
            self.pending = None;
        }
        match &mut self.source {
            LowerSource::Lowered(chars) => chars.next(),
            LowerSource::Text(chars) => loop {
                let c = chars.next()?;
                if c.is_ascii() {
                    return Some(c.to_ascii_lowercase());
                }
                let mut lowered = c.to_lowercase();
                if let Some(first) = lowered.next() {
                    self.pending = Some(lowered);
                    return Some(first);
                }
            },
        }
    }
}

/// The text's trigrams, most frequent first (ties: the larger trigram first), at most 600
/// (whatlang's `get_trigrams_with_positions`), whatlang's alphabet scores in `index.langs`
/// order, and the count of letters; `None` if the counting table failed.
fn scan(index: &Index, text: &str, scratch: &mut Scratch) -> Option<(Vec<u64>, Vec<f64>, usize)> {
    scratch.reset(text.len());
    // A count per alphabet letter (by slot), and of letters (chars that are not stop chars).
    let mut in_alphabets = [0u32; NO_SLOT as usize];
    let mut letters = 0usize;
    // whatlang's `count_trigrams`: stop characters are spaces, and no trigram is a space
    // between spaces or at a word's edge. Starting from two spaces and ending with one more
    // gives the same trigrams as its start at the first char.
    #[inline(always)]
    fn push_char(
        c: char,
        index: &Index,
        scratch: &mut Scratch,
        window: &mut (char, char),
        in_alphabets: &mut [u32; NO_SLOT as usize],
        letters: &mut usize,
    ) -> Option<()> {
        let c3 = trigram_char(c);
        if c3 != ' ' {
            *letters += 1;
            if let Some(&slot) = index.letter_slots.get(c3 as usize)
                && let Some(n) = in_alphabets.get_mut(usize::from(slot))
            {
                *n += 1;
            }
        }
        let (c1, c2) = *window;
        if !(c2 == ' ' && (c1 == ' ' || c3 == ' ')) {
            scratch.add(pack(c1, c2, c3))?;
        }
        *window = (c2, c3);
        Some(())
    }
    let mut window = (' ', ' ');
    for c in lower(text).chain(Some(' ')) {
        push_char(
            c,
            index,
            scratch,
            &mut window,
            &mut in_alphabets,
            &mut letters,
        )?;
    }
    // whatlang's alphabet scores (`generic_alphabet_calculate_scores`) in `index.langs`
    // order: each letter of the text in a language's alphabet counts +1, each other one −1,
    // floored at 0, over the count of letters.
    let alphabet = index
        .alphabets
        .iter()
        .map(|alphabet| {
            let inside: usize = alphabet
                .iter()
                .map(|&slot| {
                    in_alphabets
                        .get(usize::from(slot))
                        .map_or(0, |&n| n as usize)
                })
                .sum();
            let raw = (2 * inside).saturating_sub(letters);
            raw as f64 / letters as f64
        })
        .collect();
    Some((rank(&scratch.counts), alphabet, letters))
}

/// The trigrams of `counts` (count, trigram) in whatlang's order — most frequent first,
/// ties the larger trigram first — at most [`TEXT_TRIGRAMS_SIZE`]. Placed in buckets by
/// count (a counting sort: counts are small), then each bucket that reaches the first 600
/// sorted as plain integers, which costs a fraction of sorting the (count, trigram) pairs;
/// the pairs are all distinct, so the order is the same total order a full sort gives.
fn rank(counts: &[(u32, u64)]) -> Vec<u64> {
    let most = counts.iter().map(|&(n, _)| n as usize).max().unwrap_or(0);
    // starts[n]: where the bucket of count n begins (counts above n come first).
    let mut starts = vec![0usize; most + 2];
    for &(n, _) in counts {
        if let Some(s) = starts.get_mut(n as usize) {
            *s += 1;
        }
    }
    let mut next = 0;
    for s in starts.iter_mut().rev() {
        let size = *s;
        *s = next;
        next += size;
    }
    let mut ordered = vec![0u64; counts.len()];
    let mut fill = starts.clone();
    for &(n, t) in counts {
        if let Some(f) = fill.get_mut(n as usize)
            && let Some(slot) = ordered.get_mut(*f)
        {
            *slot = t;
            *f += 1;
        }
    }
    let larger_first = |a: &u64, b: &u64| b.cmp(a);
    // Bucket n spans starts[n]..starts[n - 1] (count n - 1 comes right after it).
    for n in (1..=most).rev() {
        let (Some(&from), Some(&to)) = (starts.get(n), starts.get(n - 1)) else {
            continue;
        };
        if from >= TEXT_TRIGRAMS_SIZE {
            break;
        }
        let Some(bucket) = ordered.get_mut(from..to) else {
            continue;
        };
        // The bucket the 600th place falls in: only its part above the cut is sorted.
        let keep = TEXT_TRIGRAMS_SIZE - from;
        if bucket.len() > keep {
            bucket.select_nth_unstable_by(keep - 1, larger_first);
            if let Some(top) = bucket.get_mut(..keep) {
                top.sort_unstable_by(larger_first);
            }
        } else {
            bucket.sort_unstable_by(larger_first);
        }
    }
    ordered.truncate(TEXT_TRIGRAMS_SIZE);
    ordered
}

/// whatlang's `calculate_confidence`.
fn confidence(highest: f64, second: f64, count: usize) -> f64 {
    if highest == 0.0 {
        return 0.0;
    }
    if second == 0.0 {
        return highest;
    }
    let confident_rate = (3.0 / count as f64) + 0.015;
    let rate = (highest - second) / second;
    if rate > confident_rate {
        1.0
    } else {
        rate / confident_rate
    }
}

/// whatlang's `calc_alphabet_weight`.
fn alphabet_weight(count: usize) -> f64 {
    let weight = -(count as f64 / 300.0) + 2.0 / 3.0;
    weight.clamp(1.0 / 3.0, 2.0 / 3.0)
}

/// What whatlang's default detector says of `text` whose main script is Latin: the language
/// and whether the guess is reliable. `None` when this cannot be sure to give whatlang's
/// answer (a tie for first place, an arithmetic edge, the index unreadable): ask whatlang.
pub(crate) fn detect_latin(text: &str) -> Option<(Lang, bool)> {
    let index = INDEX.as_ref()?;
    let (ranked, alphabet, letters) = SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => scan(index, text, &mut scratch),
            Err(_) => scan(index, text, &mut Scratch::default()),
        })
        .unwrap_or_else(|_| scan(index, text, &mut Scratch::default()))?;
    let count = ranked.len();
    if count == 0 {
        return None;
    }
    // Per language: the sum of |text rank − profile rank| over the trigrams both hold, and
    // how many those are; the others cost MAX_TRIGRAM_DISTANCE each.
    let mut matched_distance = vec![0u32; index.langs.len()];
    let mut matched = vec![0u32; index.langs.len()];
    for (position, trigram) in ranked.iter().enumerate() {
        let Some(&(from, to)) = index.lists.get(trigram) else {
            continue;
        };
        let position = u32::try_from(position).ok()?;
        for &(lang, rank) in index.postings.get(from as usize..to as usize)? {
            let l = usize::from(lang);
            *matched_distance.get_mut(l)? += position.abs_diff(u32::from(rank));
            *matched.get_mut(l)? += 1;
        }
    }
    let count32 = u32::try_from(count).ok()?;
    let max_distance = count32.checked_mul(MAX_TRIGRAM_DISTANCE)?;
    let mut trigram_scores = Vec::with_capacity(index.langs.len());
    for ((&lang, &sum), &n) in index.langs.iter().zip(&matched_distance).zip(&matched) {
        let missing = MAX_TRIGRAM_DISTANCE.checked_sub(n)?;
        let mut total = sum.checked_add(missing.checked_mul(MAX_TRIGRAM_DISTANCE)?)?;
        if MAX_TRIGRAM_DISTANCE > count32 {
            total = total.checked_sub((MAX_TRIGRAM_DISTANCE - count32) * MAX_TRIGRAM_DISTANCE)?;
        }
        let distance = total.min(MAX_TOTAL_DISTANCE);
        // whatlang's `max_distance - distance` would wrap here: leave that to whatlang.
        let similarity = max_distance.checked_sub(distance)?;
        trigram_scores.push((lang, f64::from(similarity) / f64::from(max_distance)));
    }

    let a_weight = alphabet_weight(letters);
    let t_weight = 1.0 - a_weight;
    // Every language scored as whatlang's `combined::raw_detect` does; kept: the best and
    // the second-best score.
    let mut best: Option<(Lang, f64)> = None;
    let mut second: Option<f64> = None;
    for ((lang, t), a) in trigram_scores.into_iter().zip(alphabet) {
        let score = a * a_weight + t * t_weight;
        if score.is_nan() {
            return None;
        }
        match best {
            Some((_, top)) if score <= top => {
                if second.is_none_or(|s| score > s) {
                    second = Some(score);
                }
            }
            _ => {
                if let Some((_, top)) = best {
                    second = Some(top);
                }
                best = Some((lang, score));
            }
        }
    }
    let (lang, top) = best?;
    // Equal first scores: which one whatlang names depends on its unstable sort.
    if second == Some(top) {
        return None;
    }
    let confidence = match second {
        Some(second) => confidence(top, second, count),
        None => 1.0,
    };
    Some((lang, confidence > RELIABLE_CONFIDENCE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// whatlang's answer in the same shape.
    fn whatlang_says(text: &str) -> Option<(Lang, bool)> {
        whatlang::detect(text).map(|i| (i.lang(), i.is_reliable()))
    }

    fn check(text: &str) -> bool {
        if whatlang::detect_script(text) != Some(whatlang::Script::Latin) {
            return false;
        }
        match detect_latin(text) {
            Some(answer) => {
                assert_eq!(Some(answer), whatlang_says(text), "on {text:?}");
                true
            }
            None => false,
        }
    }

    /// Real texts: `GLEANER_LANGUAGE_CHECK=FILE.jsonl cargo test -p gleaner-clean --release
    /// --lib trigrams -- --ignored` compares the two detectors on the `body` of every line
    /// (`gleaner extract` output) — the whole body, the sample clean reads, and every
    /// 300-byte window of the body's first 3 KB — and prints how many it compared.
    #[test]
    #[ignore = "needs GLEANER_LANGUAGE_CHECK=FILE.jsonl"]
    fn the_same_answer_as_whatlang_on_real_bodies() {
        let Ok(path) = std::env::var("GLEANER_LANGUAGE_CHECK") else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let (mut compared, mut texts) = (0, 0);
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let body = value["body"].as_str().unwrap_or_default();
            let mut pieces = vec![body.to_string()];
            pieces.push(body.chars().take(1536).collect());
            let chars: Vec<char> = body.chars().take(3000).collect();
            for start in (0..chars.len()).step_by(100) {
                pieces.push(chars[start..].iter().take(300).collect());
            }
            for piece in pieces {
                texts += 1;
                if check(&piece) {
                    compared += 1;
                }
            }
        }
        println!("{compared} of {texts} texts compared (the rest: not Latin, or left to whatlang)");
    }

    /// The bucketed ranking is the full sort of (count, trigram) pairs, largest first, cut at
    /// 600: with few and many trigrams, and with the cut inside a bucket.
    #[test]
    fn rank_is_the_full_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for (len, most) in [
            (0, 1),
            (1, 1),
            (5, 3),
            (599, 2),
            (600, 1),
            (601, 1),
            (1500, 4),
            (3000, 40),
        ] {
            let mut seen = std::collections::HashSet::new();
            let mut counts = Vec::new();
            while counts.len() < len {
                let trigram = next(1 << 20);
                if seen.insert(trigram) {
                    let n = 1 + u32::try_from(next(most)).unwrap();
                    counts.push((n, trigram));
                }
            }
            let mut expected = counts.clone();
            expected.sort_unstable_by(|a, b| b.cmp(a));
            expected.truncate(TEXT_TRIGRAMS_SIZE);
            let expected: Vec<u64> = expected.into_iter().map(|(_, t)| t).collect();
            assert_eq!(
                rank(&counts),
                expected,
                "{len} trigrams, counts up to {most}"
            );
        }
    }

    /// The counting table grows past its first size (a lowercase can have more chars than
    /// the text) and is empty again for the next text.
    #[test]
    fn the_counting_table_grows_and_resets() {
        let mut scratch = Scratch::default();
        for round in 0..2u64 {
            scratch.reset(0);
            for key in 0..1000u64 {
                for _ in 0..=(key % 3) {
                    assert_eq!(scratch.add(key * 7 + round), Some(()));
                }
            }
            assert_eq!(scratch.counts.len(), 1000);
            assert!(scratch.table.len() >= 2000);
            for (place, &(n, key)) in scratch.counts.iter().enumerate() {
                assert_eq!(key, place as u64 * 7 + round);
                assert_eq!(u64::from(n), 1 + place as u64 % 3);
            }
        }
        scratch.reset(10);
        assert_eq!(scratch.table.iter().filter(|&&s| s != 0).count(), 0);
    }

    #[test]
    fn lowercase_is_the_standard_one() {
        for text in [
            "",
            "Hello WORLD",
            "Grüße aus KÖLN, İstanbul and ΑΘΗΝΑ",
            "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ",
            "ǅ ǈ ẞ Ⅻ ＡＢＣ",
            "mixed ÉCOLE ascii ÆRØ then ASCII again",
        ] {
            assert_eq!(
                lower(text).collect::<String>(),
                text.to_lowercase(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_index_reads_all_37_profiles() {
        let index = INDEX.as_ref().map(|i| i.langs.len());
        assert_eq!(index, Some(37));
    }

    #[test]
    fn the_same_answer_as_whatlang_on_many_languages() {
        let texts = [
            "The government said on Tuesday that the new rules would apply from next year, \
             after talks with the unions broke down over pay and pensions.",
            "Die Bundesregierung hat am Mittwoch beschlossen, dass die neuen Regeln für den \
             Wohnungsbau ab dem kommenden Jahr gelten sollen.",
            "El gobierno anunció el martes que las nuevas normas se aplicarán a partir del \
             próximo año, tras la ruptura de las negociaciones con los sindicatos.",
            "Le gouvernement a annoncé mardi que les nouvelles règles s'appliqueront à partir \
             de l'année prochaine, après l'échec des négociations avec les syndicats.",
            "O governo anunciou na terça-feira que as novas regras serão aplicadas a partir do \
             próximo ano, depois do fracasso das negociações com os sindicatos.",
            "Il governo ha annunciato martedì che le nuove regole si applicheranno dal prossimo \
             anno, dopo il fallimento dei negoziati con i sindacati.",
            "Rząd ogłosił we wtorek, że nowe przepisy będą obowiązywać od przyszłego roku, po \
             zerwaniu rozmów ze związkami zawodowymi.",
            "De regering maakte dinsdag bekend dat de nieuwe regels vanaf volgend jaar gelden, \
             nadat de gesprekken met de vakbonden waren mislukt.",
            "Pemerintah mengumumkan pada hari Selasa bahwa aturan baru akan berlaku mulai tahun \
             depan, setelah perundingan dengan serikat pekerja gagal.",
            "Hükümet salı günü yeni kuralların gelecek yıldan itibaren uygulanacağını açıkladı; \
             sendikalarla görüşmeler başarısız olmuştu.",
            "Regeringen meddelade på tisdagen att de nya reglerna ska gälla från nästa år, \
             sedan förhandlingarna med facket har brutit samman.",
            "Chính phủ thông báo hôm thứ Ba rằng các quy định mới sẽ được áp dụng từ năm sau.",
            "ok",
            "a b c d e f g",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
        ];
        let mut compared = 0;
        for text in texts {
            for n in [1, 3, 12] {
                if check(&format!("{text} ").repeat(n)) {
                    compared += 1;
                }
            }
        }
        assert!(compared >= 30, "only {compared} compared");
    }

    #[test]
    fn the_same_answer_as_whatlang_on_generated_mixtures() {
        let words: Vec<&str> = "the of and to in government said Tuesday rules year der die \
            und nicht Regierung Jahr el la los que gobierno año le les des gouvernement année \
            o os que governo ano il che governo anno się że rząd roku de het een regering jaar \
            yang dan pemerintah tahun ve bir hükümet yıl och att regeringen år São Paulo Łódź \
            Øresund Ærø İstanbul naïve café façade 2022 €5 — “quoted” ‘x’ 12% U.S."
            .split_whitespace()
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % (n as u64)).unwrap_or(0)
        };
        let mut compared = 0;
        for _ in 0..400 {
            let len = 5 + next(250);
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(words[next(words.len())]);
                text.push(if next(9) == 0 { '\n' } else { ' ' });
            }
            if check(&text) {
                compared += 1;
            }
        }
        assert!(compared >= 300, "only {compared} compared");
    }
}
