//! Extraction F1 on every evaluation set, both halves, gleaner beside trafilatura.
//!
//! ```text
//! cargo run --release -p gleaner-scrape --example eval_extraction -- \
//!     [--eval DIR] [--out DIR] [--trafilatura PYTHON] [--show-tune-losses] [--tune-only] [--folds]
//! ```
//!
//! * `--eval DIR`: the evaluation data (default `../shared/eval` beside the workspace). Every
//!   subfolder with a `ground-truth.json` and an `html/` folder is a set (`aeb-dev`,
//!   `readability-dev`, `modern-dev`). A missing folder is reported and the command exits 2.
//! * `--out DIR` (default `target/eval-extraction`): predictions and truth halves per set.
//! * `--gleaner PATH`: also score the pages *through the binary* (`PATH extract FILE...`:
//!   charset detection, `gleaner-clean`), the body as `gleaner extract` prints it, in the
//!   columns "binary F1", "binary empty" and "binary lost" (`binary.jsonl` in the out folder).
//! * `--trafilatura PYTHON`: a Python with trafilatura installed; its predictions are made once
//!   per set with `examples/trafilatura_predictions.py` and kept in the out folder
//!   (`trafilatura.jsonl`; delete it to redo). Without the flag, an existing file is used.
//!
//! **The split** (fixed before any tuning, whole pages): a page is in the *tune* half when the
//! first hex digit of `sha256(id)` is `0`–`7`, else in the *held-out* half. Extraction rules
//! were tuned on tune halves only; held-out figures are reported untouched, and this command
//! lists the pages it counts as lost only for the tune half (`--show-tune-losses`).
//! `--folds` adds rows for four folds of each tune half (fold = second hex digit of
//! `sha256(id)` mod 4), for choosing a rule by cross-validation inside the tune halves.
//!
//! Scores come from `score_extraction.py` of the eval folder (run with `python3`): F1 of word
//! 4-shingles, precision and recall averaged over pages. Per page it also counts **lost**
//! pages: trafilatura's F1 ≥ 0.8 and gleaner's body empty or F1 < 0.5.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use sha2::{Digest, Sha256};

/// The fixed split rule: `true` for the tune half.
fn in_tune_half(id: &str) -> bool {
    let digest = Sha256::digest(id.as_bytes());
    digest.first().is_some_and(|b| b >> 4 < 8)
}

/// The fold (0–3) of a tune-half page for cross-validation: the second hex digit of
/// `sha256(id)`, mod 4.
fn tune_fold(id: &str) -> u8 {
    let digest = Sha256::digest(id.as_bytes());
    digest.first().map_or(0, |b| (b & 0x0f) % 4)
}

fn read_page(set: &Path, id: &str) -> String {
    let base = set.join("html");
    let gz = base.join(format!("{id}.html.gz"));
    let plain = base.join(format!("{id}.html"));
    let mut bytes = std::fs::read(&gz)
        .or_else(|_| std::fs::read(&plain))
        .unwrap_or_default();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        if flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut raw)
            .is_ok()
        {
            bytes = raw;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Per-page F1 (and the summary line) from `score_extraction.py --per-page`.
fn score(scorer: &Path, truth: &Path, pred: &Path) -> Option<(BTreeMap<String, f64>, f64)> {
    let out = Command::new("python3")
        .arg(scorer)
        .arg(truth)
        .arg(pred)
        .arg("--per-page")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "eval_extraction: scorer failed on {}: {}",
            pred.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pages = BTreeMap::new();
    let mut f1 = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("pages=") {
            f1 = rest
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("F1="))
                .and_then(|v| v.parse().ok());
            continue;
        }
        let mut parts = line.split('\t');
        let (Some(id), Some(p), Some(r)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let p: f64 = p.trim_start_matches("P=").parse().unwrap_or(0.0);
        let r: f64 = r.trim_start_matches("R=").parse().unwrap_or(0.0);
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        pages.insert(id.to_string(), f);
    }
    Some((pages, f1?))
}

/// Prediction lines `{"id", "body"}`. The scorer reads lines with Python's `splitlines`, which
/// also breaks at U+0085, U+2028 and U+2029: those are written escaped.
fn jsonl(bodies: &[(String, String)]) -> String {
    bodies
        .iter()
        .map(|(id, body)| {
            serde_json::json!({"id": id, "body": body})
                .to_string()
                .replace('\u{85}', "\\u0085")
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
                + "\n"
        })
        .collect()
}

/// The bodies `gleaner extract` prints for the pages `ids` of `set` (matched back to the
/// ids by the file URL of each line; a page the binary printed nothing for is empty).
fn binary_bodies(bin: &Path, set: &Path, ids: &[&String]) -> Option<Vec<(String, String)>> {
    let files: Vec<PathBuf> = ids
        .iter()
        .map(|id| {
            let gz = set.join("html").join(format!("{id}.html.gz"));
            if gz.exists() {
                gz
            } else {
                set.join("html").join(format!("{id}.html"))
            }
        })
        .collect();
    let out = match Command::new(bin).arg("extract").args(&files).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("eval_extraction: cannot run {}: {e}", bin.display());
            return None;
        }
    };
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let url = v.get("url").and_then(|u| u.as_str()).unwrap_or_default();
        let file = url.rsplit('/').next().unwrap_or_default();
        let id = file.split('.').next().unwrap_or_default().to_string();
        let body = v.get("body").and_then(|b| b.as_str()).unwrap_or_default();
        by_id.insert(id, body.to_string());
    }
    Some(
        ids.iter()
            .map(|id| ((*id).clone(), by_id.remove(*id).unwrap_or_default()))
            .collect(),
    )
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `--eval`, else `$GLEANER_EVAL_DIR`, else `../shared/eval` beside the checkout (a
    // worktree under `wt/NAME` looks two levels up).
    let eval = arg(&args, "--eval")
        .or_else(|| std::env::var("GLEANER_EVAL_DIR").ok())
        .map_or_else(
            || {
                [root.join("../shared/eval"), root.join("../../shared/eval")]
                    .into_iter()
                    .find(|p| p.is_dir())
                    .unwrap_or_else(|| root.join("../shared/eval"))
            },
            PathBuf::from,
        );
    let out_dir =
        arg(&args, "--out").map_or_else(|| root.join("target/eval-extraction"), PathBuf::from);
    let python = arg(&args, "--trafilatura");
    let binary = arg(&args, "--gleaner").map(PathBuf::from);
    let show_losses = args.iter().any(|a| a == "--show-tune-losses");
    // While tuning, look at the tune halves only.
    let tune_only = args.iter().any(|a| a == "--tune-only");
    let folds = args.iter().any(|a| a == "--folds");
    let scorer = eval.join("score_extraction.py");
    if !scorer.exists() {
        eprintln!(
            "eval_extraction: {} is missing: the evaluation data (../shared/eval) is not here; \
             nothing measured",
            scorer.display()
        );
        return ExitCode::from(2);
    }
    let mut sets: Vec<PathBuf> = std::fs::read_dir(&eval)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("ground-truth.json").exists() && p.join("html").is_dir())
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    if sets.is_empty() {
        eprintln!(
            "eval_extraction: no sets (ground-truth.json + html/) in {}",
            eval.display()
        );
        return ExitCode::from(2);
    }
    if binary.is_some() {
        println!(
            "| set | half | pages | gleaner F1 | trafilatura F1 | gleaner empty | lost (traf ≥ 0.8, gleaner empty or < 0.5) | binary F1 | binary empty | binary lost |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    } else {
        println!(
            "| set | half | pages | gleaner F1 | trafilatura F1 | gleaner empty | lost (traf ≥ 0.8, gleaner empty or < 0.5) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
    }
    let mut total_secs = 0.0;
    let mut total_pages = 0usize;
    for set in &sets {
        let name = set
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let truth: serde_json::Map<String, serde_json::Value> =
            match std::fs::read_to_string(set.join("ground-truth.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
            {
                Some(t) => t,
                None => {
                    eprintln!("eval_extraction: {name}: unreadable ground-truth.json");
                    continue;
                }
            };
        let dir = out_dir.join(&name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("eval_extraction: cannot create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        let traf = dir.join("trafilatura.jsonl");
        if let Some(py) = &python
            && !traf.exists()
        {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/trafilatura_predictions.py");
            let status = Command::new(py).arg(&script).arg(set).arg(&traf).status();
            if !status.is_ok_and(|s| s.success()) {
                eprintln!("eval_extraction: {name}: trafilatura predictions failed");
            }
        }
        // gleaner's predictions, timed over extraction only.
        let pages: Vec<(String, String)> = truth
            .keys()
            .map(|id| (id.clone(), read_page(set, id)))
            .collect();
        let start = Instant::now();
        let bodies: Vec<(String, String)> = pages
            .iter()
            .map(|(id, html)| {
                let a = gleaner_scrape::extract(html, "");
                let body = a
                    .blocks
                    .iter()
                    .map(|b| b.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                (id.clone(), body)
            })
            .collect();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "eval_extraction: {name}: {} pages in {secs:.2} s",
            pages.len()
        );
        total_secs += secs;
        total_pages += pages.len();
        let pred = dir.join("gleaner.jsonl");
        if let Err(e) = std::fs::write(&pred, jsonl(&bodies)) {
            eprintln!("eval_extraction: cannot write {}: {e}", pred.display());
            return ExitCode::from(2);
        }
        // Through the binary: the same pages, in the same order, read by `gleaner extract`.
        let through_binary = binary.as_ref().and_then(|bin| {
            let ids: Vec<&String> = truth.keys().collect();
            let bodies = binary_bodies(bin, set, &ids)?;
            let file = dir.join("binary.jsonl");
            std::fs::write(&file, jsonl(&bodies)).ok()?;
            let empty: BTreeMap<String, bool> = bodies
                .iter()
                .map(|(id, b)| (id.clone(), b.trim().is_empty()))
                .collect();
            Some((file, empty))
        });
        let empty: BTreeMap<&str, bool> = bodies
            .iter()
            .map(|(id, b)| (id.as_str(), b.trim().is_empty()))
            .collect();
        // Halves (and, where the set says page types, articles apart).
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (half, tune) in [("tune", true), ("held-out", false)] {
            if tune_only && !tune {
                continue;
            }
            let ids: Vec<String> = truth
                .keys()
                .filter(|id| in_tune_half(id) == tune)
                .cloned()
                .collect();
            groups.push((half.to_string(), ids.clone()));
            if folds && tune {
                for k in 0..4u8 {
                    let fold: Vec<String> = ids
                        .iter()
                        .filter(|id| tune_fold(id) == k)
                        .cloned()
                        .collect();
                    groups.push((format!("tune fold {k}"), fold));
                }
            }
            let typed = ids.iter().any(|id| truth[id].get("page_type").is_some());
            if typed {
                let articles: Vec<String> = ids
                    .iter()
                    .filter(|id| {
                        matches!(
                            truth[*id].get("page_type").and_then(|t| t.as_str()),
                            Some("article" | "blog")
                        )
                    })
                    .cloned()
                    .collect();
                let others: Vec<String> = ids
                    .iter()
                    .filter(|id| !articles.contains(id))
                    .cloned()
                    .collect();
                groups.push((format!("{half}, articles"), articles));
                groups.push((format!("{half}, other types"), others));
            }
        }
        for (label, ids) in groups {
            let subset: serde_json::Map<String, serde_json::Value> = ids
                .iter()
                .map(|id| (id.clone(), truth[id].clone()))
                .collect();
            let file = dir.join(format!("truth-{}.json", label.replace([',', ' '], "_")));
            if std::fs::write(&file, serde_json::Value::Object(subset).to_string()).is_err() {
                continue;
            }
            let Some((g_pages, g_f1)) = score(&scorer, &file, &pred) else {
                continue;
            };
            let t = traf
                .exists()
                .then(|| score(&scorer, &file, &traf))
                .flatten();
            let n_empty = ids
                .iter()
                .filter(|id| empty.get(id.as_str()) == Some(&true))
                .count();
            let lost: Vec<&String> = match &t {
                Some((t_pages, _)) => ids
                    .iter()
                    .filter(|id| {
                        t_pages.get(*id).copied().unwrap_or(0.0) >= 0.8
                            && (empty.get(id.as_str()) == Some(&true)
                                || g_pages.get(*id).copied().unwrap_or(0.0) < 0.5)
                    })
                    .collect(),
                None => Vec::new(),
            };
            let binary_cells =
                through_binary
                    .as_ref()
                    .map_or_else(String::new, |(file_b, empty_b)| {
                        let Some((b_pages, b_f1)) = score(&scorer, &file, file_b) else {
                            return " – | – | – |".to_string();
                        };
                        let n_empty = ids
                            .iter()
                            .filter(|id| empty_b.get(*id) == Some(&true))
                            .count();
                        let lost = t.as_ref().map_or_else(
                            || "–".to_string(),
                            |(t_pages, _)| {
                                ids.iter()
                                    .filter(|id| {
                                        t_pages.get(*id).copied().unwrap_or(0.0) >= 0.8
                                            && (empty_b.get(*id) == Some(&true)
                                                || b_pages.get(*id).copied().unwrap_or(0.0) < 0.5)
                                    })
                                    .count()
                                    .to_string()
                            },
                        );
                        format!(" {b_f1:.3} | {n_empty} | {lost} |")
                    });
            println!(
                "| {name} | {label} | {} | {g_f1:.3} | {} | {n_empty} | {} |{binary_cells}",
                ids.len(),
                t.as_ref()
                    .map_or("–".to_string(), |(_, f)| format!("{f:.3}")),
                if t.is_some() {
                    lost.len().to_string()
                } else {
                    "–".to_string()
                }
            );
            if show_losses && label == "tune" {
                for id in &lost {
                    eprintln!(
                        "  lost {name}/{id}: gleaner {:.2}, trafilatura {:.2}",
                        g_pages.get(*id).copied().unwrap_or(0.0),
                        t.as_ref()
                            .and_then(|(p, _)| p.get(*id))
                            .copied()
                            .unwrap_or(0.0)
                    );
                }
            }
        }
    }
    eprintln!(
        "eval_extraction: {total_pages} pages extracted in {total_secs:.2} s ({:.0} pages/s, one core)",
        total_pages as f64 / total_secs.max(1e-9)
    );
    ExitCode::SUCCESS
}
