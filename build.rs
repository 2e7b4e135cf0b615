//! Build steps: generates the parser from `grammar/diffl.lalrpop` into
//! `$OUT_DIR/diffl.rs`, and embeds every `stdlib/*.dl` module into the binary
//! (`$OUT_DIR/stdlib.rs`) so that `import nn;` works wherever diffl runs.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=grammar");
    println!("cargo:rerun-if-changed=stdlib");
    if let Err(e) = lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
    {
        eprintln!("grammar error: {e}");
        std::process::exit(1);
    }
    if let Err(e) = embed_stdlib() {
        eprintln!("stdlib embedding failed: {e}");
        std::process::exit(1);
    }
}

fn embed_stdlib() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let dir = Path::new(&manifest).join("stdlib");
    let mut entries: Vec<(String, String)> = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "dl") {
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                entries.push((name, path.display().to_string()));
            }
        }
    }
    entries.sort();
    let mut out = String::from("/// Standard-library modules embedded at build time: (name, source).\n");
    out.push_str("pub static STDLIB: &[(&str, &str)] = &[\n");
    for (name, path) in &entries {
        writeln!(out, "    ({name:?}, include_str!({path:?})),")?;
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out_dir).join("stdlib.rs"), out)?;
    Ok(())
}
