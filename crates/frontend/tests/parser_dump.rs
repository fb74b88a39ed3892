//! BuildKit's dump format for shapes the corpus does not cover: unknown instructions,
//! quoting inside flags, flags on ONBUILD, nested ONBUILD, empty JSON and control characters.

use skiff_frontend::dump::{dump, go_quote};
use skiff_frontend::parse;

fn dumped(source: &str) -> String {
    dump(&parse(source).unwrap_or_else(|e| panic!("{source:?}: {e}")))
}

#[test]
fn shapes_outside_the_corpus() {
    let source = concat!(
        "FROM a\n",
        "FOO bar baz\n",
        "COPY --chown=\"me\\\\you\" --x='a\tb' src dst\n",
        "ONBUILD --flag ONBUILD RUN [\"a\"]\n",
        "ONBUILD\n",
        "CMD []\n",
        "ENTRYPOINT [\"\\u0001\\u007f\\u2028\"]\n",
        "stopSignal SIGKILL\n",
    );
    assert_eq!(
        dumped(source),
        concat!(
            "(from \"a\")\n",
            "(foo \"\")\n",
            "(copy [\"--chown=me\\\\you\" \"--x=a\\tb\"] \"src\" \"dst\")\n",
            "(onbuild [\"--flag\"] (onbuild (run \"a\")))\n",
            "(onbuild)\n",
            "(cmd)\n",
            "(entrypoint \"\\x01\\x7f\\u2028\")\n",
            "(stopsignal \"SIGKILL\")\n",
        )
    );
}

#[test]
fn go_quote_is_public_for_messages() {
    assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
}
