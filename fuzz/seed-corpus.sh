#!/usr/bin/env bash
# Fills fuzz/corpus/{parse,expand} with starting inputs from BuildKit's conformance corpus
# (../shared/conformance, or $SKIFF_CONFORMANCE_DIR): every Dockerfile for `parse`, every
# word of the shell tables (with a zero option byte) for `expand`. Safe to re-run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
conf="${SKIFF_CONFORMANCE_DIR:-$here/../../shared/conformance}"
# Hand-written starting inputs for the targets that do not read the conformance corpus.
seed() { mkdir -p "$here/corpus/$1"; printf '%b' "$3" > "$here/corpus/$1/seed-$2"; }
seed dockerignore 1 '*.md\n!README.md\nnode_modules\n**/*.tmp\0README.md\ndocs/a.md\nx/y.tmp'
seed dockerignore 2 'build/\n!build/keep\n# comment\n/abs/../x\n[a-c]?\0build/keep/f\nbuild/other\nb1'
seed dockerignore 3 '**\n!**/*.go\n!vendor/**\0a/b.go\nvendor/x/y\nz'
seed reference 1 'golang:1.22-alpine'
seed reference 2 'localhost:5000/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
seed reference 3 'docker.io/library/busybox:latest'
seed reference 4 '[::1]:5000/x:tag'
seed mount 1 'type=cache,target=/root/.cache,id=$T,sharing=locked,mode=0755,uid=1,gid=2'
seed mount 2 'type=bind,from=builder,source=/src,target=/dst,rw'
seed mount 3 'type=secret,id=aws,env=AWS_KEY,required=true'
seed mount 4 'type=tmpfs,target=/t,size=64m'
seed mount 5 '"type=ssh,id=default,target=/run/ssh.sock"'
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
