//! Any word through the shell lexer with every combination of options: no panic, and the
//! three entry points agree with each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_frontend::shell::{Env, Lexer};

fuzz_target!(|data: &[u8]| {
    let Some((&options, word)) = data.split_first() else {
        return;
    };
    let word = String::from_utf8_lossy(word);
    let mut lexer = Lexer::new(if options & 1 == 0 { '\\' } else { '`' });
    lexer.raw_quotes = options & 2 != 0;
    lexer.raw_escapes = options & 4 != 0;
    lexer.skip_unset_env = options & 8 != 0;
    lexer.skip_process_quotes = options & 16 != 0;
    let env: Env = [
        ("A", "a b"),
        ("EMPTY", ""),
        ("GLOB", "x*y/z?"),
        ("SPACES", "  lead and trail  "),
        ("KOREAN", "한국어"),
    ]
    .into_iter()
    .collect();

    let word_only = lexer.process_word(&word, &env);
    let words_only = lexer.process_words(&word, &env);
    let full = lexer.expand(&word, &env);
    match (&full, &word_only, &words_only) {
        (Ok(full), Ok(w), Ok(ws)) => {
            assert_eq!(&full.word, w);
            assert_eq!(&full.words, ws);
            assert!(ws.iter().all(|w| !w.is_empty()), "empty word in {ws:?}");
        }
        (Err(e), Err(e1), Err(e2)) => {
            assert_eq!(e, e1);
            assert_eq!(e, e2);
            assert!(
                e.message.starts_with("failed to process \""),
                "{}",
                e.message
            );
        }
        _ => panic!("entry points disagree on {word:?}: {full:?} / {word_only:?} / {words_only:?}"),
    }
    // Text without any special character comes back unchanged.
    let special = |c: char| matches!(c, '$' | '\'' | '"') || c == lexer.escape;
    if !word.contains(special) && !word.starts_with('\u{feff}') {
        assert_eq!(word_only.as_deref(), Ok(&*word));
    }
});
