//! Train gleaner's name model (an averaged structured perceptron) from CoNLL-format data and
//! write `model/names.bin`.
//!
//! ```text
//! cargo run --release -p gleaner-tag --example train -- \
//!     --conll ../shared/ner/conll2003/eng.train [--conll MORE.conll ...] \
//!     [--gum GUM.json] [--extra PARTIAL.conll[:W] ...] [--extra-weight 3] [--hold-out K/N ...] \
//!     [--lowercase 10] [--titlecase 20] [--runs 5] \
//!     [--dev ../shared/ner/conll2003/eng.testa] [--epochs 12] [--min-count 2] [--prune 0.01] \
//!     [--seed 1] [--out crates/gleaner-tag/model/names.bin]
//! ```
//!
//! Every `--conll` file is read as `token ... TAG` columns (the last column is the tag, IOB1 or
//! IOB2, types PER/LOC/ORG/MISC; blank lines end sentences; `-DOCSTART-` lines end documents,
//! whose sentences are featurised together as `Tagger::tag_document` does). `--lowercase P` and
//! `--titlecase P` add a lowercased copy of P % of the `--conll` sentences and a copy of another
//! P % with every word capitalised (a seeded draw). `--runs N` trains N models in different
//! orders (seeds seed … seed + N − 1) and writes their mean. The order is fixed (files in the
//! order given, sentences shuffled each epoch by a seeded generator), so the same data and
//! options give the same bytes. `--extra FILE` data (and `--gum`) are partially labelled: a MISC
//! name predicted where the gold says `O` is not an error; each of its sentences is seen
//! `--extra-weight` times per epoch, or W times for `--extra FILE:W`. `--hold-out K/N` leaves out
//! the `--extra`/`--gum` documents whose index is K modulo N; given several times, the documents
//! that match any of them (`--hold-out 4/5 --hold-out 0/5`: the test part and one CV fold). User
//! handles ("@jane") are tagged `O` in every file read. `--dev` only reports F1 after each epoch (for tuning; it is never
//! trained on). The data is not in the repository; the command says so and exits with status 2
//! when a file is missing. `model/README.md` has the command that made the shipped model.

use std::process::ExitCode;
use std::time::Instant;

use gleaner_tag::Tagger;
use gleaner_tag::model::{LABELS, NameModel, SequenceFeatures, Trainer, label_index};

struct Options {
    train: Vec<String>,
    extra: Vec<String>,
    gum: Vec<String>,
    /// `--hold-out K/N` (repeatable): documents of `--extra` and `--gum` data whose index is K
    /// modulo N for any of these pairs are left out.
    held_out: Vec<(usize, usize)>,
    extra_weight: usize,
    /// Per `--extra` file, its own weight (`PATH:W`), else `extra_weight`.
    extra_weights: Vec<Option<usize>>,
    dev: Option<String>,
    epochs: usize,
    min_count: u32,
    prune: f32,
    seed: u64,
    lowercase_pct: u64,
    titlecase_pct: u64,
    runs: u64,
    out: String,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        train: Vec::new(),
        extra: Vec::new(),
        gum: Vec::new(),
        held_out: Vec::new(),
        extra_weight: 1,
        extra_weights: Vec::new(),
        dev: None,
        epochs: 12,
        min_count: 2,
        prune: 0.01,
        seed: 1,
        lowercase_pct: 0,
        titlecase_pct: 0,
        runs: 1,
        out: "crates/gleaner-tag/model/names.bin".to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--conll" => o.train.push(value()?),
            "--extra" => {
                let v = value()?;
                match v.rsplit_once(':').map(|(p, w)| (p, w.parse::<usize>())) {
                    Some((p, Ok(w))) => {
                        o.extra.push(p.to_string());
                        o.extra_weights.push(Some(w));
                    }
                    _ => {
                        o.extra.push(v);
                        o.extra_weights.push(None);
                    }
                }
            }
            "--gum" => o.gum.push(value()?),
            "--extra-weight" => {
                o.extra_weight = value()?
                    .parse()
                    .map_err(|e| format!("--extra-weight: {e}"))?;
            }
            "--hold-out" => {
                let v = value()?;
                let (k, n) = v.split_once('/').ok_or("--hold-out K/N")?;
                let k: usize = k.parse().map_err(|e| format!("--hold-out: {e}"))?;
                let n: usize = n.parse().map_err(|e| format!("--hold-out: {e}"))?;
                if n == 0 || k >= n {
                    return Err("--hold-out K/N needs 0 <= K < N".into());
                }
                o.held_out.push((k, n));
            }
            "--dev" => o.dev = Some(value()?),
            "--epochs" => o.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--min-count" => {
                o.min_count = value()?.parse().map_err(|e| format!("--min-count: {e}"))?;
            }
            "--prune" => o.prune = value()?.parse().map_err(|e| format!("--prune: {e}"))?,
            "--lowercase" => {
                o.lowercase_pct = value()?.parse().map_err(|e| format!("--lowercase: {e}"))?;
            }
            "--titlecase" => {
                o.titlecase_pct = value()?.parse().map_err(|e| format!("--titlecase: {e}"))?;
            }
            "--runs" => {
                o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?;
                o.runs = o.runs.max(1);
            }
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => o.out = value()?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.train.is_empty() {
        return Err(
            "give at least one --conll FILE (e.g. ../shared/ner/conll2003/eng.train)".into(),
        );
    }
    Ok(o)
}

/// A featurised sentence and its gold labels.
type Example = (SequenceFeatures, Vec<usize>);

/// A sentence: its words and their IOB2 tags.
type Sentence = (Vec<String>, Vec<String>);

/// Sentences of a CoNLL file: words and IOB2 tags, with the index of their document
/// (counted by `-DOCSTART-` lines).
fn read_conll(path: &str) -> Result<Vec<(usize, Sentence)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {path}: {e}\n(the CoNLL-2003 and UNER data are not in the repository; \
             their licences keep them out — pass the path of your copy, e.g. \
             ../shared/ner/conll2003/eng.train)"
        )
    })?;
    let mut out = Vec::new();
    let mut words = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    let mut doc = 0;
    let mut flush = |words: &mut Vec<String>, tags: &mut Vec<String>, doc: usize| {
        if !words.is_empty() {
            out.push((doc, (std::mem::take(words), to_iob2(&std::mem::take(tags)))));
        }
    };
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() || cols.first() == Some(&"-DOCSTART-") {
            flush(&mut words, &mut tags, doc);
            if cols.first() == Some(&"-DOCSTART-") {
                doc += 1;
            }
            continue;
        }
        words.push(cols.first().copied().unwrap_or_default().to_string());
        tags.push(cols.last().copied().unwrap_or("O").to_string());
    }
    flush(&mut words, &mut tags, doc);
    for (_, (words, tags)) in &mut out {
        drop_mentions(words, tags);
    }
    Ok(out)
}

/// A user handle ("@jane", tagged a person in the Broad Twitter Corpus, `O` in WNUT 2017) is
/// not a name in the sense gleaner tags: its tag becomes `O` (and a name it began now begins
/// at its next word).
fn drop_mentions(words: &[String], tags: &mut [String]) {
    for k in 0..words.len() {
        let handle = words
            .get(k)
            .is_some_and(|w| w.len() > 1 && w.starts_with('@'));
        if !handle {
            continue;
        }
        if let Some(t) = tags.get_mut(k) {
            *t = "O".to_string();
        }
        if let Some(next) = tags.get_mut(k + 1)
            && let Some(ty) = next.strip_prefix("I-")
        {
            *next = format!("B-{ty}");
        }
    }
}

/// The word with its first letter in upper case.
fn capitalised(w: &str) -> String {
    let mut cs = w.chars();
    cs.next()
        .map(|c| c.to_uppercase().chain(cs).collect())
        .unwrap_or_default()
}

/// IOB1 (or IOB2) → IOB2.
fn to_iob2(tags: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(tags.len());
    let mut prev_ty = "";
    for t in tags {
        let (p, ty) = t.split_once('-').unwrap_or(("O", ""));
        let tag = match p {
            "I" if ty != prev_ty => format!("B-{ty}"),
            "B" | "I" => t.clone(),
            _ => "O".to_string(),
        };
        prev_ty = if p == "O" || ty.is_empty() { "" } else { ty };
        out.push(tag);
    }
    out
}

type Chunk = (usize, usize, usize);

fn chunks(labels: &[usize]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < labels.len() {
        let l = labels.get(k).copied().unwrap_or(0);
        if l == 0 || l % 2 == 0 {
            k += 1;
            continue;
        }
        let first = k;
        k += 1;
        while labels.get(k) == Some(&(l + 1)) {
            k += 1;
        }
        out.push((l, first, k));
    }
    out
}

/// Overall chunk F1 of a model on featurised sentences.
fn f1(model: &NameModel, data: &[Example]) -> f64 {
    let (mut gold, mut pred, mut correct) = (0usize, 0usize, 0usize);
    for (feats, g) in data {
        let p = model.decode(feats);
        let gc = chunks(g);
        let pc = chunks(&p);
        gold += gc.len();
        pred += pc.len();
        correct += pc.iter().filter(|c| gc.contains(c)).count();
    }
    let p = correct as f64 / pred.max(1) as f64;
    let r = correct as f64 / gold.max(1) as f64;
    if p + r == 0.0 {
        0.0
    } else {
        200.0 * p * r / (p + r)
    }
}

/// Featurised sentences, document by document (consecutive sentences with the same document
/// index), as `Tagger::tag_document` sees them.
fn featurise(tagger: &Tagger, sents: &[(usize, Sentence)]) -> Vec<Example> {
    let mut out = Vec::with_capacity(sents.len());
    for doc in sents.chunk_by(|a, b| a.0 == b.0) {
        let words: Vec<Vec<&str>> = doc
            .iter()
            .map(|(_, (w, _))| w.iter().map(String::as_str).collect())
            .collect();
        let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
        for (features, (_, (_, tags))) in tagger.document_features(&refs).into_iter().zip(doc) {
            out.push((features, tags.iter().map(|t| label_index(t)).collect()));
        }
    }
    out
}

/// One document of a GUM-style gold file: name, text, `(start, end, TYPE)` char spans.
type GoldDocument = (String, String, Vec<(usize, usize, String)>);

/// Featurised sentences of GUM-style documents (as `Tagger::tag` sees them), labelled from
/// their char spans; spans that do not fall on token boundaries are left out.
fn featurise_gum(tagger: &Tagger, docs: &[GoldDocument]) -> (Vec<Example>, usize) {
    let mut out = Vec::new();
    let mut unaligned = 0;
    for (_, text, spans) in docs {
        for (features, offsets) in tagger.text_features(text) {
            let mut gold = vec![0usize; offsets.len()];
            for (s, e, ty) in spans {
                let first = offsets.iter().position(|o| o.0 == *s);
                let last = offsets.iter().position(|o| o.1 == *e);
                let inside = offsets.iter().any(|o| o.0 >= *s && o.1 <= *e);
                match (first, last) {
                    (Some(a), Some(b)) if a <= b => {
                        let b_label = label_index(&format!("B-{ty}"));
                        for (k, g) in gold.iter_mut().enumerate().take(b + 1).skip(a) {
                            *g = if k == a { b_label } else { b_label + 1 };
                        }
                    }
                    _ if inside => unaligned += 1,
                    _ => {}
                }
            }
            out.push((features, gold));
        }
    }
    (out, unaligned)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("train: {e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut train = Vec::new();
    // Per --extra file: its sentences and how many times each is seen per epoch.
    let mut extra: Vec<(Vec<(usize, Sentence)>, usize)> = Vec::new();
    let keep = |doc: usize| opts.held_out.iter().all(|&(k, n)| doc % n != k);
    for (i, path) in opts.train.iter().chain(&opts.extra).enumerate() {
        let partial = i >= opts.train.len();
        match read_conll(path) {
            Ok(s) => {
                let all = s.len();
                let kept: Vec<(usize, Sentence)> = s
                    .into_iter()
                    .filter(|(doc, _)| !partial || keep(*doc))
                    .collect();
                eprintln!("train: {path}: {} of {all} sentences", kept.len());
                if partial {
                    let w = opts
                        .extra_weights
                        .get(i - opts.train.len())
                        .copied()
                        .flatten()
                        .unwrap_or(opts.extra_weight);
                    extra.push((kept, w));
                } else {
                    train.extend(kept);
                }
            }
            Err(e) => {
                eprintln!("train: {e}");
                return ExitCode::from(2);
            }
        }
    }
    // Case augmentation: a copy of every sentence of the fully labelled data whose (seeded)
    // draw falls under --lowercase percent, lowercased, and of those under --titlecase percent
    // (the next ones), every word capitalised: the weights should not lean on capitals alone
    // (web text writes "tampa bay", "lisa", and review titles "Great Service").
    if opts.lowercase_pct + opts.titlecase_pct > 0 {
        let mut draw = opts.seed ^ 0x5DEE_CE66_D1CE_4E5B;
        let mut copies: Vec<(usize, Sentence)> = Vec::new();
        for (_, (words, tags)) in &train {
            draw = draw
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let d = (draw >> 33) % 100;
            let words: Vec<String> = if d < opts.lowercase_pct {
                words.iter().map(|w| w.to_lowercase()).collect()
            } else if d < opts.lowercase_pct + opts.titlecase_pct {
                words.iter().map(|w| capitalised(w)).collect()
            } else {
                continue;
            };
            // Each copy is a document of its own.
            copies.push((usize::MAX - copies.len(), (words, tags.clone())));
        }
        eprintln!("train: {} case-changed copies", copies.len());
        train.extend(copies);
    }
    let mut gum_docs: Vec<GoldDocument> = Vec::new();
    for path in &opts.gum {
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {path}: {e} (the GUM gold is not in the repository)"))
            .and_then(|raw| {
                serde_json::from_str::<Vec<GoldDocument>>(&raw)
                    .map_err(|e| format!("{path}: not GUM-style gold: {e}"))
            });
        match parsed {
            Ok(docs) => {
                let all = docs.len();
                gum_docs.extend(
                    docs.into_iter()
                        .enumerate()
                        .filter(|(k, _)| keep(*k))
                        .map(|(_, d)| d),
                );
                eprintln!("train: {path}: {} of {all} documents", gum_docs.len());
            }
            Err(e) => {
                eprintln!("train: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let dev = match opts.dev.as_deref().map(read_conll).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("train: {e}");
            return ExitCode::from(2);
        }
    };
    let tagger = Tagger::with_model(NameModel::default());
    let full = featurise(&tagger, &train);
    let n_full = full.len();
    let mut train = full;
    // How many times each sentence is seen per epoch.
    let mut times = vec![1; n_full];
    for (sents, w) in &extra {
        let f = featurise(&tagger, sents);
        times.extend(std::iter::repeat_n(*w, f.len()));
        train.extend(f);
    }
    let (gum, unaligned) = featurise_gum(&tagger, &gum_docs);
    if !gum_docs.is_empty() {
        eprintln!(
            "train: GUM: {} sentences, {unaligned} gold spans off token boundaries left out",
            gum.len()
        );
    }
    times.extend(std::iter::repeat_n(opts.extra_weight, gum.len()));
    train.extend(gum);
    let dev = dev.map(|d| featurise(&tagger, &d));
    let sequences: Vec<Vec<Vec<u32>>> = train.iter().map(|(f, _)| f.clone()).collect();
    let n_features = Trainer::new(&sequences, opts.min_count).features();
    eprintln!(
        "train: {} sentences, {n_features} features (seen at least {} times), labels {:?}, {:.1}s",
        train.len(),
        opts.min_count,
        LABELS,
        started.elapsed().as_secs_f64()
    );
    // Sentences of --extra and --gum are seen --extra-weight times per epoch.
    let first_order: Vec<usize> = (0..train.len())
        .flat_map(|k| std::iter::repeat_n(k, times.get(k).copied().unwrap_or(1)))
        .collect();
    // --runs N: N models trained in different orders (seeds seed, seed + 1, …), averaged.
    let mut models = Vec::new();
    for run in 0..opts.runs {
        let mut trainer = Trainer::new(&sequences, opts.min_count);
        let mut order = first_order.clone();
        let mut rng = opts
            .seed
            .wrapping_add(run)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for epoch in 1..=opts.epochs {
            // Fisher–Yates with a fixed-seed LCG: the same order on every machine.
            for i in (1..order.len()).rev() {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let j = ((rng >> 33) % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let mut wrong = 0;
            for &k in &order {
                // Sentences after the fully labelled ones (--extra, --gum) have no MISC.
                if let Some((feats, gold)) = train.get(k)
                    && trainer.learn_partial(feats, gold, k >= n_full)
                {
                    wrong += 1;
                }
            }
            let dev_f1 = dev
                .as_ref()
                .map(|d| format!(", dev F1 {:.2}", f1(&trainer.averaged(), d)))
                .unwrap_or_default();
            eprintln!(
                "train: run {run}, epoch {epoch}: {wrong} sentences wrong{dev_f1}, {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        models.push(trainer.averaged());
    }
    drop(sequences);
    let model = if let [only] = models.as_slice() {
        only.clone()
    } else {
        NameModel::mean(&models)
    };
    let bytes = model.to_bytes(opts.prune);
    let written = NameModel::from_bytes(&bytes)
        .map(|m| m.features())
        .unwrap_or(0);
    if let Some(d) = &dev
        && let Ok(m) = NameModel::from_bytes(&bytes)
    {
        eprintln!("train: dev F1 of the written model {:.2}", f1(&m, d));
    }
    if let Err(e) = std::fs::write(&opts.out, &bytes) {
        eprintln!("train: cannot write {}: {e}", opts.out);
        return ExitCode::from(1);
    }
    eprintln!(
        "train: wrote {} ({} bytes, {written} features), {:.1}s",
        opts.out,
        bytes.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
