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
seed output_opts 1 'type=oci,dest=out.tar,name=app:1,reg.example/b'
seed output_opts 2 'type=image,"name=a,b",push=true'
seed output_opts 3 'type=registry,ref=localhost:5000/app:cache,mode=max,compression=zstd,ignore-error=true,cache-mounts=true,cache-mounts-exclude=x,cache-mounts-max-size=512m'
seed output_opts 4 'type=local,src=/tmp/c'
seed output_opts 5 'type=inline'
seed output_opts 6 'out/dir'
d=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
seed image_json 1 '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"'$d'","size":3},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"'$d'","size":5,"annotations":{"a":"b"}}]}'
seed image_json 2 '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"'$d'","size":7,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"'$d'","size":7,"platform":{"architecture":"amd64","os":"linux","os.features":["x"]}}]}'
seed image_json 3 '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],"Cmd":null,"Labels":{"a":"<&>"},"ExposedPorts":{"80/tcp":{}},"Volumes":{"/v":{}},"Healthcheck":{"Test":["CMD","true"],"Interval":1000000000}},"rootfs":{"type":"layers","diff_ids":["'$d'"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"RUN x","empty_layer":true}]}'
seed image_json 4 '{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}'
seed image_json 5 '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.skiff.cache.v1","config":{"mediaType":"application/vnd.skiff.cache.config.v1+json","digest":"'$d'","size":2},"layers":[]}'
seed image_json 6 '{"format":"skiff.cache","version":1,"key_format":3,"records":[{"key":"'$d'","manifest":"'$d'","config":"{}","layers":[{"descriptor":{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"'$d'","size":1},"diffId":"'$d'"}]}],"memos":[{"key":"k","value":"v"}],"mounts":[]}'
# Layers: a selector byte (overlay, flat, extract), then a tar, plain or compressed, with
# ordinary and hostile entries (512-byte records, so that inputs stay small).
mkdir -p "$here/corpus/layer_apply"
python3 - "$here/corpus/layer_apply" <<'EOF'
import gzip, io, shutil, subprocess, sys, tarfile
tarfile.RECORDSIZE = 512
def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    info = tarfile.TarInfo(name); info.type = kind; info.size = len(data)
    info.linkname = link; info.mode = mode; return info, data
layers = {
    "plain": [entry("etc/", tarfile.DIRTYPE, mode=0o755), entry("etc/hosts", data=b"127.0.0.1 x\n"),
              entry("etc/link", tarfile.SYMTYPE, link="hosts"), entry("etc/hard", tarfile.LNKTYPE, link="etc/hosts")],
    "whiteouts": [entry("a/", tarfile.DIRTYPE), entry("a/.wh..wh..opq"), entry("a/.wh.gone"), entry("b/c", data=b"c")],
    "escape": [entry("out", tarfile.SYMTYPE, link="../outside"), entry("out/x", data=b"x"),
               entry("../outside/y", data=b"y"), entry("/abs", data=b"z"), entry("h", tarfile.LNKTYPE, link="../outside")],
    "devices": [entry("dev/", tarfile.DIRTYPE), entry("dev/null", tarfile.CHRTYPE), entry("dev/fifo", tarfile.FIFOTYPE)],
    "pax": [entry("p" * 200, data=b"long name"), entry("dir/" + "q" * 120 + "/f", data=b"")],
}
for name, members in layers.items():
    buf = io.BytesIO()
    fmt = tarfile.PAX_FORMAT if name == "pax" else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    blobs = [("tar", raw), ("gz", gzip.compress(raw))]
    if shutil.which("zstd"):
        blobs.append(("zst", subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout))
    for suffix, blob in blobs:
        if suffix != "tar" and name not in ("plain", "escape"):
            continue
        for mode in range(3):
            open(f"{sys.argv[1]}/seed-{name}-{suffix}-{mode}", "wb").write(bytes([mode]) + blob)
EOF
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
