#!/usr/bin/env bash
# Fills fuzz/corpus/{parse,expand} with starting inputs from BuildKit's conformance corpus
# (../shared/conformance, or $SKIFF_CONFORMANCE_DIR): every Dockerfile for `parse`, every
# word of the shell tables (with a zero option byte) for `expand`. Safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
conf="${SKIFF_CONFORMANCE_DIR:-$here/../../shared/conformance}"
if [ ! -d "$conf/buildkit-parser" ]; then
    echo "no conformance corpus at $conf; set SKIFF_CONFORMANCE_DIR" >&2
    exit 1
fi
mkdir -p "$here/corpus/parse" "$here/corpus/expand"
n=0
for f in "$conf"/buildkit-parser/testfiles/*/Dockerfile "$conf"/buildkit-parser/testfiles-negative/*/Dockerfile "$conf"/buildkit-parser/testfile-line/Dockerfile; do
    n=$((n + 1))
    cp "$f" "$here/corpus/parse/seed-$n"
done
n=0
while IFS= read -r line; do
    case "$line" in ''|'#'*|ENV\ *) continue ;; esac
    word="$(printf '%s' "$line" | awk -F'|' '{ if (NF == 3) print $2; else print $1 }' | sed 's/^ *//; s/ *$//')"
    n=$((n + 1))
    { printf '\0'; printf '%s' "$word"; } > "$here/corpus/expand/seed-$n"
done < <(cat "$conf/buildkit-parser/shell/envVarTest" "$conf/buildkit-parser/shell/wordsTest")
echo "seeded $(ls "$here/corpus/parse" | wc -l) parse and $(ls "$here/corpus/expand" | wc -l) expand inputs"
