//! The prose of the benchmark blog's posts: shared by `xtask bench run` and the tagger's
//! number-rule benchmark (`crates/gleaner-tag/benches/numeric.rs` includes this file by path),
//! so both measure the same text.

/// `count` paragraphs of news prose (about 60 words each) for post `n`, with names, places,
/// organisations, dates, money and percentages for the tagger, varied by `n`. Every other
/// paragraph is written as news sites write it, outside ASCII: curly quotes and apostrophes,
/// a dash, the euro sign, accented names (real pages are rarely pure ASCII, and text outside
/// ASCII takes other paths: the numeric rules' stand-in, Unicode case folding).
pub fn post_text(n: usize, count: usize) -> Vec<String> {
    const PEOPLE: [&str; 6] = [
        "Elena Varga",
        "Tomasz Nowak",
        "Amara Okafor",
        "Daniel Brooks",
        "Mei Lin Chen",
        "Rafael Ortiz",
    ];
    const PEOPLE_ACCENTED: [&str; 6] = [
        "Elena Vargová",
        "Tomasz Nowak",
        "Amara Okafor",
        "Zoë Brooks",
        "Mei Lin Chen",
        "Rafael Ortíz",
    ];
    const PLACES: [&str; 6] = [
        "Lisbon",
        "Nairobi",
        "Gdansk",
        "Osaka",
        "Valparaiso",
        "Tromso",
    ];
    const PLACES_ACCENTED: [&str; 6] = [
        "Lisbon",
        "Nairobi",
        "Gdańsk",
        "Ōsaka",
        "Valparaíso",
        "Tromsø",
    ];
    const ORGS: [&str; 4] = [
        "the European Investment Bank",
        "Reuters",
        "the Port Authority",
        "the World Health Organization",
    ];
    (0..count)
        .map(|i| {
            let k = n * 7 + i;
            let org = ORGS[k % ORGS.len()];
            let (amount, rise, year) = (k % 90 + 10, k % 30 + 2, 2020 + k % 7);
            if k % 2 == 1 {
                let person = PEOPLE_ACCENTED[k % PEOPLE.len()];
                let other = PEOPLE_ACCENTED[(k + 3) % PEOPLE.len()];
                let place = PLACES_ACCENTED[k % PLACES.len()];
                return format!(
                    "{person} said on Tuesday that the harbour project in {place} would need another \
                     €{amount} million before March {year} — a rise of {rise}% on the first estimate. \
                     Speaking to {org}, {other} added that the council had approved the plan “after a \
                     long debate”, and that work on the northern quay should start within weeks if the \
                     weather allowed. Mr. {} declined to comment on the delay’s cost.",
                    person.rsplit(' ').next().unwrap_or(person)
                );
            }
            let person = PEOPLE[k % PEOPLE.len()];
            let other = PEOPLE[(k + 3) % PEOPLE.len()];
            let place = PLACES[k % PLACES.len()];
            format!(
                "{person} said on Tuesday that the harbour project in {place} would need another \
                 {amount} million euros before March {year}, a rise of {rise}% on the first estimate. \
                 Speaking to {org}, {other} added that the council had approved the plan after a \
                 long debate, and that work on the northern quay should start within weeks if the \
                 weather allowed. Mr. {} declined to comment on the cost of the delay.",
                person.rsplit(' ').next().unwrap_or(person)
            )
        })
        .collect()
}
