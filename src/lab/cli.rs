//! `ferry lab ...`
pub fn run(args: &[String]) -> i32 {
    let _ = args;
    1
}
