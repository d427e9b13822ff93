//! Rewrite a name model without its weights under a threshold (smaller and faster to score):
//! `cargo run --release -p gleaner-tag --example prune -- IN.bin OUT.bin 0.05`.

use gleaner_tag::model::NameModel;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, threshold] = args.as_slice() else {
        eprintln!("prune: IN.bin OUT.bin THRESHOLD");
        return ExitCode::from(2);
    };
    let Ok(threshold) = threshold.parse::<f32>() else {
        eprintln!("prune: {threshold} is not a number");
        return ExitCode::from(2);
    };
    let model = std::fs::read(input)
        .map_err(|e| e.to_string())
        .and_then(|b| NameModel::from_bytes(&b).map_err(|e| e.to_string()));
    let model = match model {
        Ok(m) => m,
        Err(e) => {
            eprintln!("prune: {input}: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = model.to_bytes(threshold);
    if let Err(e) = std::fs::write(output, &bytes) {
        eprintln!("prune: cannot write {output}: {e}");
        return ExitCode::from(1);
    }
    eprintln!(
        "prune: {} features → {} ({} bytes)",
        model.features(),
        NameModel::from_bytes(&bytes)
            .map(|m| m.features())
            .unwrap_or(0),
        bytes.len()
    );
    ExitCode::SUCCESS
}
