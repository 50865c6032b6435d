//! Running the `cityloop` binary from the tests.

use std::path::Path;
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_cityloop");

/// Runs `cityloop` in `dir` with an empty settings file of that directory.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    run_with_env(dir, &[], args)
}

/// As [`run`], with environment variables of the test's own.
pub fn run_with_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .args(["--config", "none.toml"])
        .args(args)
        .output()
        .expect("run cityloop")
}

/// Standard output and error together.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
