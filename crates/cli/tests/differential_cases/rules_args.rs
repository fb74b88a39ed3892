//! One case per rule of issue #12 item 1 about the Dockerfile's instructions: ARGs, stage
//! names, heredocs, named contexts, ONBUILD, RUN's environment, history texts and
//! `SOURCE_DATE_EPOCH`. Each is current BuildKit's (v0.26) rule; where dockerd 20.10's BuildKit
//! differs, the test's `ALLOWED` list says so ("20.10 only").

use super::Case;

/// The cases.
pub const CASES: &[Case] = &[
    Case {
        name: "arg-inheritance-from-stage",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS one
ARG A=from-one
ARG B=default-b
ARG C
FROM one AS two
ARG B
RUN echo "A=$A B=$B C=$C" > /inherited
"#,
        args: &["--build-arg", "B=from-cli", "--build-arg", "C=c-cli"],
        built: &["/inherited"],
        ..Case::DEFAULT
    },
    Case {
        name: "proxy-args-without-arg",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ARG V=1
RUN env | grep -i proxy | sort > /proxies
"#,
        args: &[
            "--build-arg",
            "HTTP_PROXY=http://proxy.invalid:3128",
            "--build-arg",
            "no_proxy=localhost",
            "--build-arg",
            "ALL_PROXY=socks5://proxy.invalid:1080",
        ],
        built: &["/proxies"],
        ..Case::DEFAULT
    },
    Case {
        name: "arg-default-not-evaluated-when-overridden",
        dockerfile: r#"ARG BASE
ARG G=${UNSET:?global-default-not-evaluated}
FROM ${BASE}
ARG G
ARG B=${A:?default-not-evaluated}
RUN echo "B=$B G=$G" > /b
"#,
        args: &["--build-arg", "B=given", "--build-arg", "G=global"],
        built: &["/b"],
        dockerd_cannot: Some("20.10's frontend evaluates the default and fails"),
        ..Case::DEFAULT
    },
    Case {
        name: "targetstage",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS first
ARG TARGETSTAGE
RUN echo "first: [$TARGETSTAGE]" > /first

FROM first AS The-Target
ARG TARGETSTAGE
RUN echo "target: [$TARGETSTAGE]" > /target

FROM first
RUN exit 1
"#,
        args: &["--target", "the-target"],
        built: &["/first", "/target"],
        ..Case::DEFAULT
    },
    Case {
        name: "stage-names-case",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS Builder
RUN echo built > /out

FROM ${BASE} AS OTHER
RUN echo other > /other

FROM ${BASE}
COPY --from=BUILDER /out /upper
COPY --from=builder /out /lower
COPY --from=Other /other /mixed
"#,
        built: &["/upper", "/lower", "/mixed"],
        ..Case::DEFAULT
    },
    Case {
        name: "heredocs",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ARG A=value
RUN <<"EOF"
echo "quoted delimiter, body is the script: $A" > /quoted
EOF
RUN <<EOF
echo "unquoted: $A" > /unquoted
EOF
COPY <<EOF /copied
$A 'single $A' "double $A" ${A}-braced \$A
EOF
COPY <<'EOF' /literal
$A 'single' "double"
EOF
"#,
        built: &["/quoted", "/unquoted", "/copied", "/literal"],
        dockerd_cannot: Some(
            "heredocs need the dockerfile:1.4 frontend, which 20.10 fetches from Docker Hub",
        ),
        ..Case::DEFAULT
    },
    Case {
        name: "named-contexts",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS tools
RUN echo "replaced by --build-context: must not run" && exit 1

FROM ${BASE} AS empty
RUN echo "replaced by docker-image://scratch: must not run" && exit 1

FROM ${BASE}
COPY --from=tools /tool.txt /tool.txt
COPY --from=empty / /from-empty/
"#,
        files: &[("other/tool.txt", "from the named context\n", 0o644)],
        args: &[
            "--build-context",
            "tools={CONTEXT}/other",
            "--build-context",
            "empty=docker-image://scratch",
        ],
        built: &["/tool.txt", "/from-empty"],
        dockerd_cannot: Some("the 20.10 client has no --build-context"),
        ..Case::DEFAULT
    },
    Case {
        name: "onbuild-copy-from-schedules-stage",
        dockerfile: r#"ARG BASE
FROM ${BASE} AS extra
RUN echo extra > /extra

FROM ${BASE} AS parent
ONBUILD COPY --from=extra /extra /from-trigger

FROM parent
RUN cat /from-trigger > /seen
"#,
        built: &["/from-trigger", "/seen"],
        dockerd_cannot: Some("20.10's frontend does not build a stage only a trigger needs"),
        ..Case::DEFAULT
    },
    Case {
        name: "run-groups-and-hostname",
        dockerfile: r#"ARG BASE
FROM ${BASE}
RUN id > /id-root && hostname > /hostname && grep -c sandbox-name /etc/hosts > /hosts-count
USER nobody
RUN id > /tmp/id-nobody
"#,
        args: &["--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=sandbox-name"],
        built: &["/id-root", "/hostname", "/tmp/id-nobody"],
        dockerd_cannot: Some("20.10's BuildKit ignores BUILDKIT_SANDBOX_HOSTNAME (the grep fails)"),
        ..Case::DEFAULT
    },
    Case {
        name: "history-texts",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ARG V=1
ARG W
WORKDIR /
EXPOSE 80 53/udp 8000-8001
ARG V
RUN echo "$V $W" > /v
WORKDIR /tmp
"#,
        args: &["--build-arg", "V=2", "--build-arg", "W=w"],
        built: &["/v"],
        ..Case::DEFAULT
    },
    Case {
        name: "source-date-epoch-build-arg",
        dockerfile: r#"ARG BASE
FROM ${BASE}
ENV X=1
RUN echo stamped > /stamped
LABEL after=run
"#,
        args: &["--build-arg", "SOURCE_DATE_EPOCH=1700000000"],
        built: &["/stamped"],
        ..Case::DEFAULT
    },
];
