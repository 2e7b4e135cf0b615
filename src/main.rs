//! The `diffl` command.
fn main() {
    println!("diffl");
}
