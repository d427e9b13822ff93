//! Builds the word table of the built-in word lists (`data/*`) at compile time, from the same
//! lists and with the same code as at run time (`src/gazetteer.rs` and `src/tokenize.rs` are
//! compiled into this script), and writes its image to `$OUT_DIR/word_table.bin`, which the
//! crate compiles in: `Tagger::new` then reads the table instead of parsing, tokenising and
//! folding the lists (about 120 M instructions, at every start of `gleaner`). The lists stay
//! the source of truth; nothing generated is checked in.

// (Only the parts of the modules that build the table are used here.)
#![allow(dead_code)]

use std::path::PathBuf;

#[path = "src/gazetteer.rs"]
mod gazetteer;
#[path = "src/tokenize.rs"]
mod tokenize;

/// The kinds of name, as `NameKind` in `src/lib.rs` (which `gazetteer.rs` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum NameKind {
    Person,
    Location,
    Organization,
    Group,
    Other,
}

/// No image here: `gazetteer.rs` builds the table from the lists.
const WORD_TABLE_IMAGE: &[u8] = &[];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in ["build.rs", "src/gazetteer.rs", "src/tokenize.rs", "data"] {
        println!("cargo::rerun-if-changed={path}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("word_table.bin");
    std::fs::write(out, gazetteer::Gazetteers::word_table_image())?;
    Ok(())
}
