//! Any `RUN --mount=…` value through the frontend: parsed with the instruction, checked early,
//! and expanded with variables in scope; no panic, and an error is a diagnostic inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_frontend::instructions::{parse_instructions, Command};
use skiff_frontend::shell::{Env, Lexer};

fuzz_target!(|data: &[u8]| {
    // A flag value ends at whitespace: keep the value one word.
    let value: String = String::from_utf8_lossy(data)
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let source = format!("FROM scratch\nARG T=cache\nRUN --mount={value} true\n");
    let Ok(dockerfile) = skiff_frontend::parse(&source) else {
        return;
    };
    let instructions = match parse_instructions(&dockerfile) {
        Ok(instructions) => instructions,
        Err(diagnostic) => {
            if let Some(span) = diagnostic.span {
                assert!(
                    span.end <= source.len(),
                    "{diagnostic:?} outside {source:?}"
                );
            }
            let _ = skiff_frontend::render(&diagnostic, "Dockerfile", &source);
            return;
        }
    };
    let env: Env = [("T", "cache"), ("ID", "x"), ("EMPTY", "")]
        .into_iter()
        .collect();
    for inst in &instructions {
        if matches!(inst.command, Command::Run(_)) {
            let _ = inst.command.expand(&Lexer::new('\\'), &env);
        }
    }
});
