//! Learn the word clusters of `data/word_clusters.bin` from the raw text of CoNLL-format and
//! GUM-style files (their words only; the tags are not read).
//!
//! ```text
//! cargo run --release -p gleaner-tag --example clusters -- \
//!     --conll ../shared/ner/conll2003/eng.train --conll ../shared/ner/extra/btc.conll ... \
//!     --gum ../shared/ner/gum/gum_interview_ner_gold.json --skip 4/5 \
//!     --out crates/gleaner-tag/data/word_clusters.bin
//! ```
//!
//! Each word (lowercased) seen at least `--min-count` (3) times is described by the words
//! around it: how often each of the `--context` (600) most frequent words, or a class of rarer
//! word (capitalised, number, other), stands right before and right after it. The counts,
//! square-rooted and scaled to unit length, are clustered twice by spherical k-means (cosine,
//! a fixed start: every (V/K)-th word by frequency, 12 rounds): into `--fine` (256) clusters
//! and into `--coarse` (32). Words that occur in the same places ("Tuesday"/"Friday",
//! "Ltd"/"Corp", "inc."/"plc") share a cluster, even where the labelled data never tagged one
//! of them: a feature that carries to text nobody labelled.
//!
//! `--text FILE` adds unlabelled text: a JSON object of pages whose `articleBody` holds plain
//! text (the ground-truth files of `../shared/eval/`), read by id, line by line. With
//! `--vocab-labelled` the words clustered are still only those seen `--min-count` times in the
//! `--conll`/`--gum` files; the `--text` pages add to what is known of their contexts.
//!
//! `--skip K/N` leaves out the documents whose index is K modulo N (every file's test part).
//! The output holds no words: per word, the FNV-1a hash of its lowercase form (u32), then its
//! fine and coarse cluster (u8 each), sorted by hash, after the magic `GLNCLUS1` and the count
//! (u32), little-endian. The same inputs give the same bytes.

use std::collections::HashMap;
use std::process::ExitCode;

use gleaner_tag::gazetteer::cluster_key as fnv;

struct Options {
    conll: Vec<String>,
    gum: Vec<String>,
    text: Vec<String>,
    vocab_labelled: bool,
    skip: Option<(usize, usize)>,
    min_count: u32,
    context: usize,
    fine: usize,
    coarse: usize,
    out: String,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        conll: Vec::new(),
        gum: Vec::new(),
        text: Vec::new(),
        vocab_labelled: false,
        skip: None,
        min_count: 3,
        context: 600,
        fine: 256,
        coarse: 32,
        out: "crates/gleaner-tag/data/word_clusters.bin".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{e}"));
        match a.as_str() {
            "--conll" => o.conll.push(value()?),
            "--gum" => o.gum.push(value()?),
            "--text" => o.text.push(value()?),
            "--vocab-labelled" => o.vocab_labelled = true,
            "--skip" => {
                let v = value()?;
                let (k, n) = v.split_once('/').ok_or("--skip K/N")?;
                let (k, n) = (num(k.into())?, num(n.into())?);
                if n == 0 || k >= n {
                    return Err("--skip K/N needs 0 <= K < N".into());
                }
                o.skip = Some((k, n));
            }
            "--min-count" => o.min_count = num(value()?)? as u32,
            "--context" => o.context = num(value()?)?,
            "--fine" => o.fine = num(value()?)?.clamp(2, 255),
            "--coarse" => o.coarse = num(value()?)?.clamp(2, 255),
            "--out" => o.out = value()?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(o)
}

/// Sentences of the files (lowercased words), test parts left out.
fn read(o: &Options) -> Result<(Vec<Vec<String>>, usize), String> {
    let skipped = |doc: usize| o.skip.is_some_and(|(k, n)| doc % n == k);
    let mut out = Vec::new();
    for path in &o.conll {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut doc = 0;
        let mut sent = Vec::new();
        for line in text.lines() {
            let first = line.split_whitespace().next();
            match first {
                None | Some("-DOCSTART-") => {
                    if !sent.is_empty() && !skipped(doc) {
                        out.push(std::mem::take(&mut sent));
                    }
                    sent.clear();
                    if first.is_some() {
                        doc += 1;
                    }
                }
                Some(w) => sent.push(w.to_string()),
            }
        }
        if !sent.is_empty() && !skipped(doc) {
            out.push(sent);
        }
    }
    type Doc = (String, String, serde_json::Value);
    for path in &o.gum {
        let raw = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let docs: Vec<Doc> = serde_json::from_str(&raw).map_err(|e| format!("{path}: {e}"))?;
        for (k, (_, text, _)) in docs.iter().enumerate() {
            if skipped(k) {
                continue;
            }
            push_lines(text, &mut out);
        }
    }
    let labelled = out.len();
    // Unlabelled text: a JSON object of pages (`{"id": {"articleBody": text, ...}}`, the
    // ground-truth files of ../shared/eval/), read in the order of their ids, line by line.
    // These are not NER sets: no test part, --skip does not apply.
    for path in &o.text {
        let raw = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let pages: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&raw).map_err(|e| format!("{path}: {e}"))?;
        let mut ids: Vec<&String> = pages.keys().collect();
        ids.sort();
        for id in ids {
            let body = pages
                .get(id)
                .and_then(|p| p.get("articleBody"))
                .and_then(|b| b.as_str())
                .unwrap_or("");
            push_lines(body, &mut out);
        }
    }
    Ok((out, labelled))
}

/// Spherical k-means: the cluster of each vector. Starts from every (V/K)-th vector.
fn kmeans(vectors: &[Vec<(u32, f32)>], dims: usize, k: usize, rounds: usize) -> Vec<u8> {
    let v = vectors.len();
    let k = k.min(v.max(1));
    let mut centroids = vec![0f32; k * dims];
    for c in 0..k {
        if let Some(vec) = vectors.get(c * v / k) {
            for &(d, x) in vec {
                if let Some(slot) = centroids.get_mut(c * dims + d as usize) {
                    *slot = x;
                }
            }
        }
    }
    let mut assign = vec![0u8; v];
    for _ in 0..rounds {
        for (a, vec) in assign.iter_mut().zip(vectors) {
            let mut best = (f32::MIN, 0usize);
            for c in 0..k {
                let row = centroids.get(c * dims..(c + 1) * dims).unwrap_or(&[]);
                let dot: f32 = vec
                    .iter()
                    .map(|&(d, x)| x * row.get(d as usize).copied().unwrap_or(0.0))
                    .sum();
                if dot > best.0 {
                    best = (dot, c);
                }
            }
            *a = best.1 as u8;
        }
        centroids.iter_mut().for_each(|x| *x = 0.0);
        for (a, vec) in assign.iter().zip(vectors) {
            for &(d, x) in vec {
                if let Some(slot) = centroids.get_mut(usize::from(*a) * dims + d as usize) {
                    *slot += x;
                }
            }
        }
        for row in centroids.chunks_mut(dims) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
    }
    assign
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("clusters: {e}");
            return ExitCode::from(2);
        }
    };
    let (sents, labelled) = match read(&o) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("clusters: {e} (the data is not in the repository; pass your copy's path)");
            return ExitCode::from(2);
        }
    };
    let lower: Vec<Vec<String>> = sents
        .iter()
        .map(|s| s.iter().map(|w| w.to_lowercase()).collect())
        .collect();
    let mut freq: HashMap<&str, u32> = HashMap::new();
    for w in lower.iter().flatten() {
        *freq.entry(w.as_str()).or_default() += 1;
    }
    // Words by falling frequency, ties by the word: a fixed order.
    let mut by_freq: Vec<(&str, u32)> = freq.iter().map(|(w, c)| (*w, *c)).collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let context: HashMap<&str, u32> = by_freq
        .iter()
        .take(o.context)
        .enumerate()
        .map(|(k, (w, _))| (*w, k as u32))
        .collect();
    let slots = o.context as u32 + 4;
    // The context slot of a word (raw form): a frequent word, else its class.
    let slot = |raw: Option<&String>, low: Option<&String>| -> u32 {
        match (raw, low) {
            (Some(r), Some(l)) => context.get(l.as_str()).copied().unwrap_or_else(|| {
                if r.chars().next().is_some_and(char::is_uppercase) {
                    o.context as u32
                } else if r.chars().any(|c| c.is_ascii_digit()) {
                    o.context as u32 + 1
                } else {
                    o.context as u32 + 2
                }
            }),
            _ => o.context as u32 + 3,
        }
    };
    // With --vocab-labelled, the words clustered are those seen often enough in the
    // --conll/--gum text; --text only adds to what is known of their contexts.
    let mut labelled_freq: HashMap<&str, u32> = HashMap::new();
    if o.vocab_labelled {
        for w in lower.iter().take(labelled).flatten() {
            *labelled_freq.entry(w.as_str()).or_default() += 1;
        }
    }
    let vocab: Vec<&str> = by_freq
        .iter()
        .filter(|(w, c)| {
            if o.vocab_labelled {
                labelled_freq.get(w).is_some_and(|n| *n >= o.min_count)
            } else {
                *c >= o.min_count
            }
        })
        .map(|(w, _)| *w)
        .collect();
    let index: HashMap<&str, usize> = vocab.iter().enumerate().map(|(k, w)| (*w, k)).collect();
    let mut counts: Vec<HashMap<u32, f32>> = vec![HashMap::new(); vocab.len()];
    for (raw, low) in sents.iter().zip(&lower) {
        for (i, w) in low.iter().enumerate() {
            let Some(&v) = index.get(w.as_str()) else {
                continue;
            };
            let left = slot(
                i.checked_sub(1).and_then(|j| raw.get(j)),
                i.checked_sub(1).and_then(|j| low.get(j)),
            );
            let right = slot(raw.get(i + 1), low.get(i + 1)) + slots;
            if let Some(c) = counts.get_mut(v) {
                *c.entry(left).or_default() += 1.0;
                *c.entry(right).or_default() += 1.0;
            }
        }
    }
    let vectors: Vec<Vec<(u32, f32)>> = counts
        .into_iter()
        .map(|c| {
            let mut v: Vec<(u32, f32)> = c.into_iter().map(|(d, x)| (d, x.sqrt())).collect();
            v.sort_by_key(|e| e.0);
            let norm = v.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt().max(1e-9);
            v.iter_mut().for_each(|e| e.1 /= norm);
            v
        })
        .collect();
    let dims = 2 * slots as usize;
    eprintln!(
        "clusters: {} sentences, {} words seen {}+ times",
        sents.len(),
        vocab.len(),
        o.min_count
    );
    let fine = kmeans(&vectors, dims, o.fine, 12);
    let coarse = kmeans(&vectors, dims, o.coarse, 12);
    let mut rows: Vec<(u32, u8, u8)> = vocab
        .iter()
        .zip(fine.iter().zip(&coarse))
        .map(|(w, (f, c))| (fnv(w), *f, *c))
        .collect();
    rows.sort();
    rows.dedup_by_key(|r| r.0);
    let mut bytes = b"GLNCLUS1".to_vec();
    bytes.extend((rows.len() as u32).to_le_bytes());
    for (h, f, c) in &rows {
        bytes.extend(h.to_le_bytes());
        bytes.push(*f);
        bytes.push(*c);
    }
    if let Err(e) = std::fs::write(&o.out, &bytes) {
        eprintln!("clusters: cannot write {}: {e}", o.out);
        return ExitCode::from(1);
    }
    // A few words per cluster, for the eye.
    for c in 0..o.fine.min(12) {
        let some: Vec<&str> = vocab
            .iter()
            .zip(&fine)
            .filter(|(_, f)| usize::from(**f) == c)
            .map(|(w, _)| *w)
            .take(10)
            .collect();
        eprintln!("clusters: fine {c}: {}", some.join(" "));
    }
    eprintln!("clusters: wrote {} ({} words)", o.out, rows.len());
    ExitCode::SUCCESS
}

/// Each line of `text` with words, as its tokens' texts.
fn push_lines(text: &str, out: &mut Vec<Vec<String>>) {
    for line in text.lines() {
        let words: Vec<String> = gleaner_tag::tokenize::tokenize(line)
            .iter()
            .map(|t| t.text.to_string())
            .collect();
        if !words.is_empty() {
            out.push(words);
        }
    }
}
