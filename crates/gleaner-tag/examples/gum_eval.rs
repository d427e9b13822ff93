//! Score `Tagger::tag` on GUM-style JSON gold: exact-span precision, recall and F1 over
//! person, location and organization (what `gleaner tag` prints, mapped to PER/LOC/ORG).
//!
//! ```text
//! cargo run --release -p gleaner-tag --example gum_eval -- [FILE] [--errors]
//! ```
//!
//! FILE defaults to `../shared/ner/gum/gum_interview_ner_gold.json`: a JSON list of
//! `[document, text, [[start, end, TYPE], ...]]` with char offsets (GUM corpus, Zeldes 2017,
//! CC BY; not in the repository). `--model FILE` scores another model than the built-in one;
//! `--fold K/N` scores only the documents whose index in the file is K modulo N (the ones
//! `train --gum FILE --hold-out K/N` left out).

#[path = "common/eval.rs"]
mod eval;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use eval::{Counts, EvalArgs, prf};
use gleaner_model::EntityKind;

/// One document of the gold file: name, text, and `(start, end, TYPE)` spans.
type GoldDocument = (String, String, Vec<(usize, usize, String)>);

fn main() -> ExitCode {
    let EvalArgs {
        path,
        model_path,
        fold,
        show_errors,
        ..
    } = EvalArgs::parse("../shared/ner/gum/gum_interview_ner_gold.json");

    let raw = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("gum_eval: cannot read {path}: {e}");
            eprintln!(
                "gum_eval: the GUM gold file is not in the repository; pass its path as the first argument."
            );
            return ExitCode::from(2);
        }
    };
    let docs: Vec<GoldDocument> = match serde_json::from_str::<Vec<GoldDocument>>(&raw) {
        Ok(d) => d
            .into_iter()
            .enumerate()
            .filter(|(k, _)| fold.is_none_or(|(f, n)| k % n == f))
            .map(|(_, d)| d)
            .collect(),
        Err(e) => {
            eprintln!("gum_eval: {path} is not [[doc, text, [[start, end, TYPE], …]], …]: {e}");
            return ExitCode::from(2);
        }
    };
    let loading = std::time::Instant::now();
    let Some(tagger) = eval::load_tagger(model_path.as_deref(), "gum_eval") else {
        return ExitCode::from(2);
    };
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    // Speed of `tag` on whole documents (tokenising, names, numbers, resolution), best of 5.
    let tokens: usize = docs
        .iter()
        .map(|(_, text, _)| gleaner_tag::tokenize(text).len())
        .sum();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = std::time::Instant::now();
        for (_, text, _) in &docs {
            std::hint::black_box(tagger.tag(text, None));
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    let mut per_type: BTreeMap<String, Counts> = BTreeMap::new();
    for (doc, text, gold) in &docs {
        let gold: BTreeSet<(usize, usize, String)> = gold.iter().cloned().collect();
        let predicted: BTreeSet<(usize, usize, String)> = tagger
            .tag(text, None)
            .into_iter()
            .filter_map(|e| {
                let ty = match e.kind {
                    EntityKind::Person => "PER",
                    EntityKind::Location => "LOC",
                    EntityKind::Organization => "ORG",
                    _ => return None,
                };
                Some((e.start, e.end, ty.to_string()))
            })
            .collect();
        for g in &gold {
            per_type.entry(g.2.clone()).or_default().gold += 1;
        }
        for p in &predicted {
            let c = per_type.entry(p.2.clone()).or_default();
            c.predicted += 1;
            if gold.contains(p) {
                c.correct += 1;
            }
        }
        if show_errors {
            let slice = |s: usize, e: usize| {
                text.chars()
                    .skip(s)
                    .take(e.saturating_sub(s))
                    .collect::<String>()
            };
            for g in gold.difference(&predicted) {
                println!("MISSED\t{doc}\t{}\t{}", g.2, slice(g.0, g.1));
            }
            for p in predicted.difference(&gold) {
                println!("WRONG\t{doc}\t{}\t{}", p.2, slice(p.0, p.1));
            }
        }
    }
    let mut total = Counts::default();
    println!("file: {path} ({} documents)", docs.len());
    println!(
        "Tagger::new: {load_ms:.1} ms; tag: {tokens} tokens in {:.1} ms = {:.0} tokens/s (one thread)",
        best * 1000.0,
        tokens as f64 / best.max(1e-9)
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
