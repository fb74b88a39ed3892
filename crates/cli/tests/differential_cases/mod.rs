//! The differential test's cases: multi-stage Dockerfiles with their contexts and flags.
//! `allowed.rs` lists the expected differences. `rules.rs` and `rules_args.rs` hold one case per rule of issue #12 item 1 (semantics of current
//! BuildKit).

pub mod allowed;
mod rules;
mod rules_args;

use skiff_testkit::project::Project;

/// One Dockerfile, its context files and the build flags given to both builders.
pub struct Case {
    pub name: &'static str,
    pub dockerfile: &'static str,
    /// (path in the context, content, mode).
    pub files: &'static [(&'static str, &'static str, u32)],
    /// Flags after `--build-arg BASE=…` (the same for skiff and docker).
    pub args: &'static [&'static str],
    /// Paths BuildKit's image must hold: proof that the case built what it means to test.
    pub built: &'static [&'static str],
    /// Run on the context before the build (archives, xattrs, fifos: what `files` cannot say).
    pub setup: Option<fn(&Project)>,
    /// Why dockerd 20.10's BuildKit cannot build the case at all (a feature it lacks): the
    /// case then runs only against the current BuildKit (`SKIFF_REFERENCE=buildkit`).
    pub dockerd_cannot: Option<&'static str>,
    /// A rule skiff does not follow yet (issue #12): the case runs and its differences are
    /// reported as a known gap, without failing the test; once it agrees the test says so.
    pub skiff_gap: Option<&'static str>,
}

impl Case {
    /// The optional fields unset, for `..Case::DEFAULT`.
    pub const DEFAULT: Case = Case {
        name: "",
        dockerfile: "",
        files: &[],
        args: &[],
        built: &[],
        setup: None,
        dockerd_cannot: None,
        skiff_gap: None,
    };
}

/// Every case: the general ones below, then one per rule.
pub fn all_cases() -> impl Iterator<Item = &'static Case> {
    CASES.iter().chain(rules::CASES).chain(rules_args::CASES)
}

/// The cases, each built by both builders.
const CASES: &[Case] = &[
    Case {
        name: "run-filesystem",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir -p /data/sub /data/empty /data/keep \
 && echo hello > /data/file && chmod 640 /data/file \
 && ln -s file /data/link && ln -s /nowhere /data/dangling \
 && echo linked > /data/keep/orig && ln /data/keep/orig /data/keep/hard \
 && chown 65534:65534 /data/sub && chmod 1777 /data/sub \
 && chmod 700 /home && chown 1:2 /data/file \
 && rm /usr/bin/wget && rm -r /var
RUN echo again >> /data/file && rm /data/link && rm -r /data/empty \
 && mkdir /var && touch /var/new && printf 'no newline' > /data/raw
"#,
        files: &[],
        args: &[],
        built: &["/data/keep/hard", "/data/raw", "/var/new"],
        ..Case::DEFAULT
    },
    Case {
        name: "env-arg-workdir",
        // BuildKit v0.26 adds its tracing variables (OTEL_*, TRACEPARENT: a new trace id
        // each build) to RUN's environment when buildkitd traces; they are left out.
        dockerfile: r#"ARG BASE
FROM ${BASE}
ARG VERSION=1.0
ARG EMPTY
ARG UNSET_ARG
ENV APP=demo OTHER="a b" PATH=/opt/tools/bin:$PATH
ENV DERIVED=${APP}-${VERSION}
WORKDIR /work
WORKDIR sub/dir
RUN echo "$VERSION $APP $OTHER $DERIVED [$EMPTY] [$UNSET_ARG]" > v.txt && pwd > pwd.txt \
 && env | grep -v -e ^OTEL_ -e ^TRACEPARENT= | sort > /env.txt
"#,
        files: &[],
        args: &["--build-arg", "VERSION=2.0", "--build-arg", "EMPTY="],
        built: &["/work/sub/dir/v.txt", "/env.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "user",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd \
 && echo 'app:x:1000:' >> /etc/group && echo 'extra:x:2000:app' >> /etc/group \
 && mkdir -p /home/app && chown app:app /home/app
USER app
WORKDIR /home/app/work
RUN id > id.txt && echo "$HOME" > home.txt && touch owned-by-app
USER 1000:0
RUN id > /tmp/id2.txt && touch /tmp/by-uid
"#,
        files: &[],
        args: &[],
        built: &["/home/app/work/owned-by-app", "/tmp/by-uid"],
        ..Case::DEFAULT
    },
    Case {
        name: "copy-from",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS builder
RUN mkdir -p /out/dir/nested && echo app > /out/app && chmod 755 /out/app \
 && echo a > /out/dir/a && echo n > /out/dir/nested/n && ln -s app /out/applink \
 && chown -R 123:456 /out/dir && chmod 750 /out/dir

FROM ${BASE} AS unused
RUN echo "this stage is not needed by the target and must not run" && exit 1

FROM ${BASE}
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
COPY --from=builder /out/app /usr/local/bin/
COPY --from=builder /out/dir /opt/dir
COPY --from=builder /out/applink /opt/
COPY --from=builder --chown=app:app /out/ /srv/
COPY --chown=1000:1000 ctx/ /ctx/
COPY --chmod=600 secret.txt /etc/secret
COPY ctx/a.txt ctx/run.sh /multi/
COPY ctx/*.txt /glob/
COPY --chown=1000:1000 ctx/a.txt /deep/er/path/
COPY --from=builder /out/dir/ /etc/
"#,
        files: &[
            ("ctx/a.txt", "a\n", 0o644),
            ("ctx/b.txt", "b\n", 0o600),
            ("ctx/run.sh", "#!/bin/sh\necho run\n", 0o755),
            ("ctx/sub/c.txt", "c\n", 0o644),
            ("secret.txt", "s3cret\n", 0o644),
        ],
        args: &[],
        built: &[
            "/opt/applink",
            "/srv/dir/nested/n",
            "/etc/secret",
            "/deep/er/path/a.txt",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "target-inner-stage",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS base
ENV STAGE=base
RUN echo base > /base.txt

FROM base AS inner
LABEL stage=inner
RUN echo "inner of $STAGE" > /inner.txt
CMD ["cat", "/inner.txt"]

FROM inner AS final
RUN echo "the final stage is past the target and must not run" && exit 1
"#,
        files: &[],
        args: &["--target", "inner"],
        built: &["/base.txt", "/inner.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "metadata",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ARG VERSION=3.1
LABEL org.example.name="demo app" org.example.version=$VERSION
EXPOSE 8080 9090/udp
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-ec"]
RUN echo "shell flags: $-" > /shell.txt
RUN ["/bin/sh", "-c", "echo exec form > /exec.txt"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
"#,
        files: &[],
        args: &["--label", "built.by=differential"],
        built: &["/shell.txt", "/exec.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "onbuild-healthcheck",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS parent
ONBUILD RUN echo triggered > /triggered.txt
ONBUILD ENV FROM_TRIGGER=yes
HEALTHCHECK --interval=5s --retries=2 CMD ["/bin/true"]
RUN echo parent > /parent.txt

FROM parent
RUN echo "child sees $FROM_TRIGGER" > /child.txt
USER nobody
"#,
        files: &[],
        args: &[],
        built: &["/triggered.txt", "/child.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "add-local-tar",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ADD archive.tar.gz /unpacked/
ADD plain.txt /added/
"#,
        files: &[
            ("tree/top.txt", "top\n", 0o644),
            ("tree/bin/tool", "#!/bin/sh\n", 0o750),
            ("plain.txt", "plain\n", 0o600),
        ],
        args: &[],
        built: &["/unpacked/bin/tool", "/added/plain.txt"],
        ..Case::DEFAULT
    },
    Case {
        name: "scratch-final",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS builder
RUN mkdir -p /out/bin /out/etc && cp /bin/busybox /out/bin/app \
 && ln /out/bin/app /out/bin/app-hard && ln -s app /out/bin/app-soft \
 && echo 'conf' > /out/etc/app.conf && chmod 600 /out/etc/app.conf

FROM scratch
COPY --from=builder /out/ /
ENV MODE=static
CMD ["/bin/app", "echo", "from scratch"]
"#,
        files: &[],
        args: &[],
        built: &["/bin/app", "/bin/app-hard", "/bin/app-soft"],
        ..Case::DEFAULT
    },
    Case {
        name: "run-mounts",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS data
RUN mkdir /payload && echo from-stage > /payload/item

FROM ${BASE}
RUN --mount=type=cache,target=/var/cache/tool echo cached > /var/cache/tool/c \
 && ls /var/cache/tool > /cache-listing
RUN --mount=type=bind,from=data,source=/payload,target=/mnt/payload \
    cat /mnt/payload/item > /from-bind
RUN --mount=type=tmpfs,target=/scratch echo gone > /scratch/x && mount | grep -c /scratch > /tmpfs-count
RUN --mount=type=bind,source=ctx,target=/ctx cat /ctx/in.txt > /from-context
"#,
        files: &[("ctx/in.txt", "context file\n", 0o644)],
        args: &[],
        built: &[
            "/cache-listing",
            "/from-bind",
            "/tmpfs-count",
            "/from-context",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "opaque-and-special-files",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN mkdir -p /stuff/old/deep && echo old > /stuff/old/deep/f && echo keep > /stuff/kept
RUN rm -rf /stuff/old && mkdir /stuff/old && echo new > /stuff/old/only \
 && mkfifo /stuff/fifo && touch /stuff/suid && chmod 4755 /stuff/suid \
 && mkdir /stuff/sgid && chmod 2775 /stuff/sgid && rm /stuff/kept && mkdir /stuff/kept
"#,
        files: &[],
        args: &[],
        built: &["/stuff/old/only", "/stuff/fifo", "/stuff/kept"],
        ..Case::DEFAULT
    },
    Case {
        name: "copy-paths",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd \
 && echo 'grp:x:1500:' >> /etc/group && echo 'app:x:1000:' >> /etc/group \
 && mkdir /real && ln -s /real /linkdir
WORKDIR /app
COPY one.txt renamed.txt
COPY one.txt two.txt sub/
COPY dir dir-copy
COPY dir/ /abs/dir/
COPY *.md /docs/
COPY --chown=app one.txt /owned/by-user-only
COPY --chown=app:grp one.txt /owned/by-user-and-group
COPY one.txt /linkdir/through-symlink
"#,
        files: &[
            ("one.txt", "1\n", 0o644),
            ("two.txt", "2\n", 0o755),
            ("dir/a", "a\n", 0o644),
            ("dir/nested/b", "b\n", 0o640),
            ("README.md", "readme\n", 0o644),
            ("ignored.md", "must not be sent\n", 0o644),
            ("dir/nested/ignored.log", "must not be sent\n", 0o644),
            (".dockerignore", "ignored.md\n**/*.log\n", 0o644),
        ],
        args: &[],
        built: &[
            "/app/renamed.txt",
            "/app/sub/two.txt",
            "/app/dir-copy/nested/b",
            "/real/through-symlink",
        ],
        ..Case::DEFAULT
    },
    Case {
        name: "expansion-and-inheritance",
        dockerfile: r#"ARG BASE
ARG GLOBAL=global-default
FROM ${BASE} AS first
ARG GLOBAL
ARG DERIVED=${GLOBAL}-derived
ENV APPDIR=/srv/app UNSET_DEFAULT=${NOPE:-fallback} SET_ALT=${GLOBAL:+alt} ESCAPED=\$HOME
LABEL keep=first override=first
WORKDIR $APPDIR
USER nobody:nobody
RUN echo "$GLOBAL $DERIVED $UNSET_DEFAULT $SET_ALT $ESCAPED" > /tmp/vars && id > /tmp/id
CMD echo "shell form $APPDIR"

FROM first
LABEL override=second
USER root
COPY --from=0 /tmp/vars /copied-by-index
COPY --from=first --chown=4321:8765 /tmp/id /copied-unknown-ids
EXPOSE 80/tcp 80 53/udp
STOPSIGNAL 9
"#,
        files: &[],
        args: &["--build-arg", "GLOBAL=from-cli"],
        built: &["/copied-by-index", "/copied-unknown-ids", "/srv/app"],
        ..Case::DEFAULT
    },
    Case {
        name: "volume-shell-healthcheck-edges",
        dockerfile: r#"ARG BASE
FROM ${BASE}
VOLUME /vol
RUN mkdir /vol && echo kept > /vol/file && mkdir -p /real/dir && ln -s /real/dir /linked
ENV OLD_FORM value with spaces
ENV MULTI=a=b=c
WORKDIR /linked/sub
RUN pwd > /pwd.txt && echo x > here.txt
RUN chmod 600 /etc/passwd
COPY --chmod=700 modes /chmod-dir/
COPY plain.txt /vol/
SHELL ["/bin/sh", "-xc"]
HEALTHCHECK NONE
CMD echo "shell form under $OLD_FORM"
"#,
        files: &[
            ("modes/a", "a\n", 0o644),
            ("modes/sub/b", "b\n", 0o600),
            ("plain.txt", "plain\n", 0o644),
        ],
        args: &[],
        built: &["/vol/file", "/real/dir/sub/here.txt", "/chmod-dir/sub/b"],
        ..Case::DEFAULT
    },
    Case {
        name: "entrypoint-resets-base-cmd",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ENTRYPOINT echo "$0" entry
"#,
        files: &[],
        args: &[],
        built: &["/bin/busybox"],
        ..Case::DEFAULT
    },
];
