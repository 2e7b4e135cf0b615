//! Generates the parser from `grammar/diffl.lalrpop` into `$OUT_DIR/diffl.rs`.
fn main() {
    println!("cargo:rerun-if-changed=grammar");
    if let Err(e) = lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
    {
        eprintln!("grammar error: {e}");
        std::process::exit(1);
    }
}
