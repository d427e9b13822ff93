//! The hostile-source shapes of issue 16, shared by the `hostile` example (time and peak
//! memory) and the `hostile` criterion bench (time).

/// `unit` repeated to about `bytes` bytes.
fn repeat(unit: &str, bytes: usize) -> String {
    unit.repeat(bytes / unit.len().max(1) + 1)
}

/// The shapes' names, in order.
pub const NAMES: [&str; 7] = [
    "capitals",
    "giant_token",
    "short_sentences",
    "punctuation",
    "listed_capitals",
    "dates",
    "prose",
];

/// A shape's text at about `bytes` bytes: a run of capitals with no end ("Aaaa Aaaa …"), one
/// giant token, a million short sentences, all punctuation, capitalised words between commas
/// (a name per word in one endless sentence), a date every few bytes, and ordinary prose
/// (`prose` repeated).
pub fn shape(name: &str, bytes: usize, prose: &str) -> Option<String> {
    Some(match name {
        "capitals" => repeat("Aaaa ", bytes),
        "giant_token" => "a".repeat(bytes),
        "short_sentences" => repeat("Aa b. ", bytes),
        "punctuation" => repeat(".,;:!?-()\"'", bytes),
        "listed_capitals" => repeat("Aaaa, ", bytes),
        "dates" => repeat("in 2014 ", bytes),
        "prose" => repeat(prose, bytes),
        _ => return None,
    })
}
