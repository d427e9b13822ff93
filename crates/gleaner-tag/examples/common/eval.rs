//! What the evaluation examples (`conll_eval`, `gum_eval`) share: exact-match counts with
//! precision/recall/F1, and their command line (`PATH --model FILE --fold K/N --errors`).
#![allow(dead_code)]

/// The shipped tagger, or one with the weights in `model_path` (`--model FILE`); `None`
/// after printing why, prefixed with `who`, when that file cannot be read.
pub fn load_tagger(model_path: Option<&str>, who: &str) -> Option<gleaner_tag::Tagger> {
    let Some(p) = model_path else {
        return Some(gleaner_tag::Tagger::new());
    };
    let model = std::fs::read(p)
        .map_err(|e| e.to_string())
        .and_then(|b| gleaner_tag::model::NameModel::from_bytes(&b).map_err(|e| e.to_string()));
    match model {
        Ok(m) => Some(gleaner_tag::Tagger::with_model(m)),
        Err(e) => {
            eprintln!("{who}: cannot use model {p}: {e}");
            None
        }
    }
}

/// Exact-match span counts for one type (or all together).
#[derive(Default)]
pub struct Counts {
    pub gold: usize,
    pub predicted: usize,
    pub correct: usize,
}

/// Precision, recall and F1 in percent (0 where undefined).
pub fn prf(c: &Counts) -> (f64, f64, f64) {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let p = ratio(c.correct, c.predicted);
    let r = ratio(c.correct, c.gold);
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (100.0 * p, 100.0 * r, 100.0 * f)
}

/// The evaluation examples' command line.
pub struct EvalArgs {
    /// The data file: the first argument that is not an option or an option's value.
    pub path: String,
    /// `--model FILE`: score these weights instead of the shipped ones.
    pub model_path: Option<String>,
    /// `--fold K/N`: score only the documents whose index is K modulo N.
    pub fold: Option<(usize, usize)>,
    /// `--errors`: print each wrong span.
    pub show_errors: bool,
    /// Every argument, for example-specific flags.
    pub args: Vec<String>,
}

impl EvalArgs {
    /// Read `std::env::args`, with `default_path` when no data file is named.
    pub fn parse(default_path: &str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let option = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|k| args.get(k + 1))
                .cloned()
        };
        let model_path = option("--model");
        let fold = option("--fold").and_then(|v| {
            let (k, n) = v.split_once('/')?;
            Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?.max(1)))
        });
        let path = args
            .iter()
            .enumerate()
            .find(|(k, a)| {
                !a.starts_with("--")
                    && (*k == 0 || !matches!(args[k - 1].as_str(), "--model" | "--fold"))
            })
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| default_path.to_string());
        let show_errors = args.iter().any(|a| a == "--errors");
        EvalArgs {
            path,
            model_path,
            fold,
            show_errors,
            args,
        }
    }

    /// True when `flag` was given.
    pub fn flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }
}
