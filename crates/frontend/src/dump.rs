//! BuildKit's AST dump format (`Node.Dump()`), used to check the parser against BuildKit's corpus.
