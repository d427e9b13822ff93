//! Score `Tagger::tag_tokens` on a CoNLL-format file, conlleval-style (exact chunk match).
//!
//! ```text
//! cargo run --release -p gleaner-tag --example conll_eval -- [FILE] [--ignore-misc] [--sentences] [--errors]
//! ```
//!
//! FILE defaults to `../shared/ner/conll2003/eng.testa` (relative to the workspace root).
//! The last column of each line is the gold tag (IOB1 or IOB2); blank lines end sentences;
//! `-DOCSTART-` lines separate documents: each is tagged whole by `Tagger::tag_document`
//! (`--sentences` tags sentence by sentence with `Tagger::tag_tokens`). `--model FILE` scores another model than the built-in one
//! (e.g. one written by the `train` example); `--fold K/N` scores only the documents whose
//! index (counted by `-DOCSTART-` lines) is K modulo N — the ones `train --hold-out K/N` left out. `--ignore-misc` scores PER, LOC and ORG only (for
//! UNER English-EWT, which has no MISC). `--predicted` scores a file that already holds the
//! predictions — the output of `gleaner tag --conll FILE`, whose last column is the predicted
//! tag and the one before it the gold tag — instead of tagging (conlleval's way):
//! `gleaner tag --conll eng.testa > out.conll && conll_eval out.conll --predicted`. `--errors` also prints every missed gold chunk and every predicted one (right or wrong). Prints per-type precision, recall and F1, and tokens/s.

#[path = "common/eval.rs"]
mod eval;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use eval::{Counts, EvalArgs, prf};

/// A chunk: (type, first token, one past the last token).
type Chunk = (String, usize, usize);

/// Chunks of a tag sequence, accepting IOB1 and IOB2 (conlleval's rules).
fn chunks(tags: &[String]) -> Vec<Chunk> {
    let split = |t: &str| -> (char, String) {
        match t.split_once('-') {
            Some((p, ty)) => (p.chars().next().unwrap_or('O'), ty.to_string()),
            None => ('O', String::new()),
        }
    };
    let mut out = Vec::new();
    let mut current: Option<(String, usize)> = None;
    let mut prev_ty = String::new();
    for (i, t) in tags.iter().enumerate() {
        let (p, ty) = split(t);
        let starts = p == 'B' || (p == 'I' && ty != prev_ty);
        let ends_prev = p == 'O' || starts;
        if let Some((cty, s)) = current.take_if(|_| ends_prev) {
            out.push((cty, s, i));
        }
        if starts {
            current = Some((ty.clone(), i));
        }
        prev_ty = if p == 'O' { String::new() } else { ty };
    }
    if let Some((cty, s)) = current {
        out.push((cty, s, tags.len()));
    }
    out
}

fn main() -> ExitCode {
    let cli = EvalArgs::parse("../shared/ner/conll2003/eng.testa");
    let ignore_misc = cli.flag("--ignore-misc");
    let by_sentence = cli.flag("--sentences");
    let given = cli.flag("--predicted");
    let EvalArgs {
        path,
        model_path,
        fold,
        show_errors,
        ..
    } = cli;

    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("conll_eval: cannot read {path}: {e}");
            eprintln!(
                "conll_eval: the CoNLL-2003 data is not in the repository (its licence forbids it);"
            );
            eprintln!(
                "conll_eval: pass the path of eng.testa (or another CoNLL-format file) as the first argument."
            );
            return ExitCode::from(2);
        }
    };
    let mut sentences: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    // The document index of each sentence.
    let mut docs: Vec<usize> = Vec::new();
    let mut words = Vec::new();
    let mut gold = Vec::new();
    // With `--predicted`: the predicted tags read from the file, per sentence.
    let mut given_tags: Vec<Vec<String>> = Vec::new();
    let mut given_sentence: Vec<String> = Vec::new();
    let mut doc = 0usize;
    let scored = |doc: usize| fold.is_none_or(|(k, n)| doc % n == k);
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() || cols.first() == Some(&"-DOCSTART-") {
            if !words.is_empty() && scored(doc) {
                sentences.push((std::mem::take(&mut words), std::mem::take(&mut gold)));
                given_tags.push(std::mem::take(&mut given_sentence));
                docs.push(doc);
            }
            words.clear();
            gold.clear();
            given_sentence.clear();
            if cols.first() == Some(&"-DOCSTART-") {
                doc += 1;
            }
            continue;
        }
        words.push(cols.first().copied().unwrap_or_default().to_string());
        let gold_column = if given {
            cols.len().saturating_sub(2)
        } else {
            cols.len() - 1
        };
        gold.push(cols.get(gold_column).copied().unwrap_or("O").to_string());
        if given {
            given_sentence.push(cols.last().copied().unwrap_or("O").to_string());
        }
    }
    if !words.is_empty() && scored(doc) {
        sentences.push((words, gold));
        given_tags.push(given_sentence);
        docs.push(doc);
    }
    let Some(tagger) = eval::load_tagger(model_path.as_deref(), "conll_eval") else {
        return ExitCode::from(2);
    };
    let keep = |ty: &str| !(ignore_misc && ty == "MISC");
    let mut per_type: BTreeMap<String, Counts> = BTreeMap::new();
    let mut tokens = 0usize;
    let started = Instant::now();
    let mut predictions = Vec::with_capacity(sentences.len());
    let mut begin = 0;
    if given {
        tokens = sentences.iter().map(|(w, _)| w.len()).sum();
        predictions = given_tags;
        begin = sentences.len();
    }
    while begin < sentences.len() {
        let mut end = begin + 1;
        while !by_sentence && end < sentences.len() && docs.get(end) == docs.get(begin) {
            end += 1;
        }
        let words: Vec<Vec<&str>> = sentences
            .get(begin..end)
            .unwrap_or(&[])
            .iter()
            .map(|(w, _)| w.iter().map(String::as_str).collect())
            .collect();
        let refs: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
        tokens += refs.iter().map(|w| w.len()).sum::<usize>();
        predictions.extend(tagger.tag_document(&refs));
        begin = end;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for ((words, gold), predicted) in sentences.iter().zip(&predictions) {
        let g: Vec<Chunk> = chunks(gold).into_iter().filter(|c| keep(&c.0)).collect();
        let p: Vec<Chunk> = chunks(predicted)
            .into_iter()
            .filter(|c| keep(&c.0))
            .collect();
        if show_errors {
            let text = |c: &Chunk| words.get(c.1..c.2).map(|w| w.join(" ")).unwrap_or_default();
            for c in g.iter().filter(|c| !p.contains(c)) {
                println!("MISSED\t{}\t{}", c.0, text(c));
            }
            for c in &p {
                let verdict = if g.contains(c) { "RIGHT" } else { "WRONG" };
                println!("{verdict}\t{}\t{}", c.0, text(c));
            }
        }
        for c in &g {
            per_type.entry(c.0.clone()).or_default().gold += 1;
        }
        for c in &p {
            let counts = per_type.entry(c.0.clone()).or_default();
            counts.predicted += 1;
            if g.contains(c) {
                counts.correct += 1;
            }
        }
    }
    let mut total = Counts::default();
    println!("file: {path}");
    println!(
        "{} sentences, {tokens} tokens, {:.0} tokens/s (tagging only)",
        sentences.len(),
        tokens as f64 / elapsed.max(1e-9)
    );
    println!(
        "{:<8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "type", "gold", "pred", "correct", "P", "R", "F1"
    );
    for (ty, c) in &per_type {
        let (p, r, f) = prf(c);
        println!(
            "{ty:<8} {:>7} {:>7} {:>7} {p:>7.2} {r:>7.2} {f:>7.2}",
            c.gold, c.predicted, c.correct
        );
        total.gold += c.gold;
        total.predicted += c.predicted;
        total.correct += c.correct;
    }
    let (p, r, f) = prf(&total);
    println!(
        "{:<8} {:>7} {:>7} {:>7} {p:>7.2} {r:>7.2} {f:>7.2}",
        "overall", total.gold, total.predicted, total.correct
    );
    ExitCode::SUCCESS
}
