//! Typed instructions through the public API: what each instruction's flags and arguments
//! become, and what `Command::expand` expands (and leaves alone), as BuildKit does.

use skiff_frontend::instructions::{
    parse_chmod, parse_instructions, Command, CommandLine, ExpansionScope, FileMode,
    HealthcheckCommand, MountType, Network, Security, Sharing, TypedInstruction,
};
use skiff_frontend::shell::{Env, Lexer};
use std::time::Duration;

fn typed(source: &str) -> Vec<TypedInstruction> {
    let dockerfile = skiff_frontend::parse(source).expect("parses");
    parse_instructions(&dockerfile).expect("valid instructions")
}

/// The single instruction after `FROM alpine`.
fn second(line: &str) -> Command {
    typed(&format!("FROM alpine\n{line}\n")).remove(1).command
}

fn env(vars: &[(&str, &str)]) -> Env {
    vars.iter().copied().collect()
}

fn expand(cmd: &Command, vars: &[(&str, &str)]) -> Command {
    cmd.expand(&Lexer::new('\\'), &env(vars)).expect("expands")
}

#[test]
fn from_keeps_raw_words_and_lowercases_the_name() {
    let Command::From(f) = typed("FROM --platform=$BUILDPLATFORM golang:${V} As Builder\n")
        .remove(0)
        .command
    else {
        panic!("FROM")
    };
    assert_eq!(f.image.value, "golang:${V}");
    assert_eq!(f.name.unwrap().value, "builder");
    assert_eq!(f.platform.unwrap().value, "$BUILDPLATFORM");
}

#[test]
fn run_mounts_are_fully_typed() {
    let cmd = second(
        "RUN --mount=type=cache,target=/root/.cache,id=go,sharing=locked,mode=0755,uid=1000,gid=1000 \
         --mount=type=secret,id=tok,env=TOKEN,required \
         --mount=type=tmpfs,dst=/tmp,size=64m \
         --mount=from=builder,src=/out,destination=/in,rw \
         --mount=type=ssh \
         --network=none --security=insecure go build",
    );
    let Command::Run(run) = cmd else {
        panic!("RUN")
    };
    assert_eq!(run.network, Some(Network::None));
    assert_eq!(run.security, Some(Security::Insecure));
    assert_eq!(
        run.command,
        CommandLine::Shell(run_word(&run.command, "go build"))
    );
    let [cache, secret, tmpfs, bind, ssh] = &run.mounts[..] else {
        panic!("five mounts")
    };
    assert_eq!(cache.kind, MountType::Cache);
    assert_eq!(cache.target.as_ref().unwrap().value, "/root/.cache");
    assert_eq!(cache.id.as_ref().unwrap().value, "go");
    assert_eq!(cache.sharing, Sharing::Locked);
    assert_eq!(
        (cache.mode, cache.uid, cache.gid),
        (Some(0o755), Some(1000), Some(1000))
    );
    assert!(!cache.readonly);
    assert_eq!(secret.kind, MountType::Secret);
    assert_eq!(secret.env.as_ref().unwrap().value, "TOKEN");
    assert!(secret.required && secret.readonly);
    assert_eq!(tmpfs.size, Some(64 << 20));
    assert_eq!(tmpfs.target.as_ref().unwrap().value, "/tmp");
    assert_eq!(bind.kind, MountType::Bind);
    assert_eq!(bind.from.as_ref().unwrap().value, "builder");
    assert_eq!(bind.source.as_ref().unwrap().value, "/out");
    assert!(!bind.readonly);
    assert_eq!(ssh.kind, MountType::Ssh);
    assert!(ssh.readonly);
    assert!(run.mounts.iter().all(|m| !m.pending));
}

fn run_word(cmd: &CommandLine, expected: &str) -> skiff_frontend::ast::Word {
    match cmd {
        CommandLine::Shell(w) => {
            assert_eq!(w.value, expected);
            w.clone()
        }
        CommandLine::Exec(_) => panic!("shell form expected"),
    }
}

#[test]
fn run_devices() {
    let Command::Run(run) = second(
        "RUN --device=vendor.com/gpu=all,required --device=name=nvidia.com/gpu=0 nvidia-smi",
    ) else {
        panic!("RUN")
    };
    let devices: Vec<_> = run
        .devices
        .iter()
        .map(|d| (d.name.value.as_str(), d.required))
        .collect();
    assert_eq!(
        devices,
        [("vendor.com/gpu=all", true), ("nvidia.com/gpu=0", false)]
    );
}

#[test]
fn mount_values_with_variables_wait_for_expansion() {
    let cmd = second("RUN --mount=type=$T,target=$HOME/.cache,mode=$M echo $HOME");
    assert_eq!(cmd.expansion(), ExpansionScope::Stage);
    let Command::Run(raw) = &cmd else {
        panic!("RUN")
    };
    assert!(raw.mounts[0].pending);
    assert_eq!(raw.mounts[0].kind, MountType::Bind);
    let Command::Run(run) = expand(&cmd, &[("T", "cache"), ("HOME", "/root"), ("M", "700")]) else {
        panic!("RUN")
    };
    let m = &run.mounts[0];
    assert!(!m.pending);
    assert_eq!(m.kind, MountType::Cache);
    assert_eq!(m.target.as_ref().unwrap().value, "/root/.cache");
    assert_eq!(m.mode, Some(0o700));
    assert!(!m.readonly);
    // The command itself is the shell's business.
    run_word(&run.command, "echo $HOME");

    let e = cmd
        .expand(&Lexer::new('\\'), &env(&[("T", "cahce")]))
        .expect_err("bad type once expanded");
    assert_eq!(e.message, "unsupported mount type \"cahce\"");
    assert_eq!(e.hint.as_deref(), Some("did you mean \"cache\"?"));
}

#[test]
fn copy_flags_sources_and_heredocs() {
    let cmds = typed(
        "FROM alpine\n\
         COPY --from=builder --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=.git a b/ /dst/\n\
         COPY <<EOF <<-\"RAW\" /etc/\n\
         hello $NAME\n\
         EOF\n\
         \t$KEEP\n\
         RAW\n",
    );
    let Command::Copy(c) = &cmds[1].command else {
        panic!("COPY")
    };
    assert_eq!(c.from.as_ref().unwrap().value, "builder");
    assert_eq!(c.chown.as_ref().unwrap().value, "app:app");
    assert_eq!(
        parse_chmod(c.chmod.as_ref().unwrap()).unwrap(),
        FileMode::Octal(0o644)
    );
    assert!(c.link && c.parents);
    let excludes: Vec<_> = c.exclude.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(excludes, ["*.md", ".git"]);
    let sources: Vec<_> = c.paths.sources.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(sources, ["a", "b/"]);
    assert_eq!(c.paths.dest.value, "/dst/");

    let Command::Copy(h) = &cmds[2].command else {
        panic!("COPY")
    };
    assert!(h.paths.sources.is_empty());
    assert_eq!(h.heredocs.len(), 2);
    let files: Vec<_> = h
        .paths
        .contents
        .iter()
        .map(|c| (c.path.as_str(), c.data.as_str(), c.expand))
        .collect();
    assert_eq!(
        files,
        [("EOF", "hello $NAME\n", true), ("RAW", "$KEEP\n", false)]
    );
    let Command::Copy(x) = expand(&cmds[2].command, &[("NAME", "skiff"), ("KEEP", "no")]) else {
        panic!("COPY")
    };
    assert_eq!(x.paths.contents[0].data, "hello skiff\n");
    assert_eq!(x.paths.contents[1].data, "$KEEP\n");
}

#[test]
fn copy_expands_paths_chown_and_chmod_but_not_from_or_exclude() {
    let cmd = second("COPY --chown=$U --chmod=$M --exclude=$X $SRC ${DST:-/d}");
    let Command::Copy(c) = expand(
        &cmd,
        &[("U", "1:1"), ("M", "755"), ("X", "x"), ("SRC", "s")],
    ) else {
        panic!("COPY")
    };
    assert_eq!(c.chown.unwrap().value, "1:1");
    assert_eq!(c.chmod.unwrap().value, "755");
    assert_eq!(c.exclude[0].value, "$X");
    assert_eq!(c.paths.sources[0].value, "s");
    assert_eq!(c.paths.dest.value, "/d");
    let e = cmd
        .expand(&Lexer::new('\\'), &env(&[("M", "64a")]))
        .expect_err("bad mode once expanded");
    assert_eq!(
        e.message,
        "invalid chmod parameter: '64a'. it should be octal string and between 0 and 07777"
    );
    assert_eq!(
        parse_chmod(&word("u+x,go-w")).unwrap(),
        FileMode::Symbolic("u+x,go-w".into())
    );
}

fn word(value: &str) -> skiff_frontend::ast::Word {
    skiff_frontend::ast::Word {
        value: value.into(),
        span: Default::default(),
    }
}

#[test]
fn add_flags() {
    let Command::Add(a) = second(
        "ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false --link=false --chmod=600 https://x/y.tar /y",
    ) else {
        panic!("ADD")
    };
    assert_eq!(a.checksum.unwrap().value, "sha256:abc");
    assert!(a.keep_git_dir && !a.link);
    assert_eq!(a.unpack, Some(false));
    let Command::Add(b) = second("ADD a /b") else {
        panic!("ADD")
    };
    assert_eq!(b.unpack, None);
}

#[test]
fn env_label_and_their_expansion() {
    let cmd = second("ENV A=1 B=\"$A x\"");
    let Command::Env(e) = &cmd else { panic!("ENV") };
    assert_eq!(e.vars[1].value.value, "\"$A x\"");
    assert!(!e.vars[0].legacy);
    let Command::Env(x) = expand(&cmd, &[("A", "old")]) else {
        panic!("ENV")
    };
    let pairs: Vec<_> = x
        .vars
        .iter()
        .map(|kv| (kv.key.value.as_str(), kv.value.value.as_str()))
        .collect();
    assert_eq!(pairs, [("A", "1"), ("B", "old x")]);
    let Command::Env(l) = second("ENV KEY some value") else {
        panic!("ENV")
    };
    assert!(l.vars[0].legacy);
    assert_eq!(l.vars[0].value.value, "some value");
    let Command::Label(lab) = expand(&second("LABEL \"$K\"=v"), &[("K", "org.x")]) else {
        panic!("LABEL")
    };
    assert_eq!(lab.labels[0].key.value, "org.x");
}

#[test]
fn single_word_instructions_expand() {
    let vars = [("U", "app"), ("D", "/srv"), ("S", "SIGINT"), ("V", "/data")];
    let Command::User(u) = expand(&second("USER $U:$U"), &vars) else {
        panic!()
    };
    assert_eq!(u.user.value, "app:app");
    let Command::Workdir(w) = expand(&second("WORKDIR ${D}/x"), &vars) else {
        panic!()
    };
    assert_eq!(w.path.value, "/srv/x");
    let Command::StopSignal(s) = expand(&second("STOPSIGNAL $S"), &vars) else {
        panic!()
    };
    assert_eq!(s.signal.value, "SIGINT");
    let Command::Volume(v) = expand(&second("VOLUME [\"$V\", \"/logs\"]"), &vars) else {
        panic!()
    };
    let vols: Vec<_> = v.volumes.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(vols, ["/data", "/logs"]);
}

#[test]
fn expose_splits_expanded_words_and_gives_config_keys() {
    let cmd = second("EXPOSE $PORTS 53/UDP");
    let Command::Expose(e) = expand(&cmd, &[("PORTS", "80 8000-8002/tcp")]) else {
        panic!("EXPOSE")
    };
    assert_eq!(
        e.port_keys().unwrap(),
        ["80/tcp", "8000/tcp", "8001/tcp", "8002/tcp", "53/udp"]
    );
}

#[test]
fn expose_sorts_its_words_as_written_as_buildkit() {
    // BuildKit's parseExpose sorts the words before expanding them: `$P` comes before digits.
    let cmd = second("EXPOSE 8080 80/udp 443 $P");
    let Command::Expose(e) = expand(&cmd, &[("P", "9000")]) else {
        panic!("EXPOSE")
    };
    assert_eq!(
        e.port_keys().unwrap(),
        ["9000/tcp", "443/tcp", "80/udp", "8080/tcp"]
    );
}

#[test]
fn never_expanded_instructions_stay_as_written() {
    for line in [
        "CMD echo $HOME",
        "ENTRYPOINT [\"/bin/$X\"]",
        "SHELL [\"/bin/$SH\", \"-c\"]",
        "HEALTHCHECK CMD curl $URL",
        "MAINTAINER $ME",
        "ONBUILD RUN echo $X",
    ] {
        let cmd = second(line);
        assert_eq!(cmd.expansion(), ExpansionScope::Never, "{line}");
        assert_eq!(expand(&cmd, &[("X", "y")]), cmd, "{line}");
    }
    assert_eq!(second("ARG A=$B").expansion(), ExpansionScope::ArgDefaults);
    assert_eq!(
        typed("FROM alpine\n")[0].command.expansion(),
        ExpansionScope::GlobalArgs
    );
}

#[test]
fn command_forms() {
    let Command::Cmd(c) = second("CMD [\"/server\", \"-v\"]") else {
        panic!()
    };
    let CommandLine::Exec(argv) = &c.command else {
        panic!("exec form")
    };
    let argv: Vec<_> = argv.iter().map(|w| w.value.as_str()).collect();
    assert_eq!(argv, ["/server", "-v"]);
    let Command::Entrypoint(e) = second("ENTRYPOINT []") else {
        panic!()
    };
    assert!(e.command.is_empty());
    let Command::Shell(s) = second("SHELL [\"/bin/bash\", \"-eu\", \"-c\"]") else {
        panic!()
    };
    assert_eq!(s.shell.len(), 3);
    let Command::Maintainer(m) = second("MAINTAINER Jane Doe <jane@x>") else {
        panic!()
    };
    assert_eq!(m.maintainer.value, "Jane Doe <jane@x>");
}

#[test]
fn run_heredocs_are_carried() {
    let cmds = typed("FROM alpine\nRUN <<EOF\necho hi\nEOF\n");
    let Command::Run(r) = &cmds[1].command else {
        panic!("RUN")
    };
    assert_eq!(r.heredocs.len(), 1);
    assert_eq!(r.heredocs[0].content, "echo hi\n");
}

#[test]
fn healthcheck_forms() {
    assert_eq!(
        second("HEALTHCHECK NONE"),
        Command::Healthcheck(HealthcheckCommand::None)
    );
    let Command::Healthcheck(HealthcheckCommand::Check(h)) = second(
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=0 --start-interval=500ms --retries=3 CMD [\"curl\", \"-f\", \"http://x/\"]",
    ) else {
        panic!("a check")
    };
    assert_eq!(h.interval, Some(Duration::from_secs(30)));
    assert_eq!(h.timeout, Some(Duration::from_secs(90)));
    assert_eq!(h.start_period, None);
    assert_eq!(h.start_interval, Some(Duration::from_millis(500)));
    assert_eq!(h.retries, Some(3));
    assert!(matches!(h.test, CommandLine::Exec(ref v) if v.len() == 3));
    let Command::Healthcheck(HealthcheckCommand::Check(s)) = second("HEALTHCHECK cmd curl -f x")
    else {
        panic!("a check")
    };
    assert!(matches!(s.test, CommandLine::Shell(ref w) if w.value == "curl -f x"));
}

#[test]
fn onbuild_keeps_the_trigger() {
    let Command::Onbuild(o) = second("ONBUILD COPY --chown=1 . /app") else {
        panic!()
    };
    assert_eq!(o.expression, "COPY --chown=1 . /app");
    let Command::Copy(c) = &o.trigger.command else {
        panic!("COPY trigger")
    };
    assert_eq!(c.chown.as_ref().unwrap().value, "1");
    assert_eq!(o.trigger.command.name(), "COPY");
}

#[test]
fn arg_declarations() {
    let Command::Arg(a) = second("ARG A B=2 C=") else {
        panic!()
    };
    let decls: Vec<_> = a
        .args
        .iter()
        .map(|d| {
            (
                d.name.value.as_str(),
                d.default.as_ref().map(|w| w.value.as_str()),
            )
        })
        .collect();
    assert_eq!(decls, [("A", None), ("B", Some("2")), ("C", Some(""))]);
}
