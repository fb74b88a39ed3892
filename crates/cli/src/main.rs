//! The `skiff` command line: `docker build`'s interface over skiff's frontend, engine and image store.

mod commands;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A daemonless, Dockerfile-compatible container image builder.
#[derive(Parser)]
#[command(
    name = "skiff",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SKIFF_COMMIT"), ")"),
    about
)]
struct Cli {
    /// The store directory (default: /var/lib/skiff as root, $XDG_DATA_HOME/skiff otherwise).
    #[arg(long, global = true, env = "SKIFF_ROOT")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a Dockerfile and a context (like `docker build`).
    Build(Box<commands::build::BuildArgs>),
    /// Pull an image from a registry into the store.
    Pull(commands::image::PullArgs),
    /// Push an image from the store to a registry.
    Push(commands::image::PushArgs),
    /// List the images in the store.
    Images(commands::images::ImagesArgs),
    /// Show the steps an image was made of, with their instructions and sizes.
    History(commands::history::HistoryArgs),
    /// Show images as `docker image inspect` does (JSON, or a `--format` template).
    Inspect(commands::inspect::InspectArgs),
    /// Give an image in the store another name.
    Tag(commands::archive::TagArgs),
    /// Write images to a docker (or OCI) archive, as `docker save` does.
    Save(commands::archive::SaveArgs),
    /// Load images from a docker or OCI archive into the store, as `docker load` does.
    Load(commands::archive::LoadArgs),
    /// Remove image names, and images left without one, as `docker rmi` does.
    Rmi(commands::images::RmiArgs),
    /// Remove blobs, snapshots and cache entries nothing refers to.
    Prune(commands::image::PruneArgs),
    /// Show what this machine allows and what skiff will use: user, user namespaces, root
    /// filesystem, OCI runtime, RUN's network, store, emulated platforms.
    Info(commands::info::InfoArgs),
    /// Tools for looking inside skiff's frontend.
    #[command(subcommand)]
    Debug(commands::debug::DebugCommand),
    /// Write a shell completion script (bash, zsh, fish, …) to stdout.
    Completion(commands::completion::CompletionArgs),
    /// Write the man page (roff) to stdout.
    Man,
}

impl Command {
    /// Whether the command runs, as an ordinary user, in skiff's user namespace: every command
    /// that works on the store (whose files have the namespace's ids) and `info` (which shows
    /// what builds get there).
    fn needs_namespace(&self) -> bool {
        !matches!(
            self,
            Command::Debug(_) | Command::Completion(_) | Command::Man
        )
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut rootless = None;
    if cli.command.needs_namespace() {
        // First, while the process has one thread: as an ordinary user, become root in a user
        // namespace of skiff's own (rootless; see skiff_host::rootless).
        match skiff_host::rootless::enter() {
            Ok(entered) => rootless = entered,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let ctx = commands::Context {
        root: cli.root,
        rootless,
    };
    let result = match cli.command {
        Command::Build(args) => commands::build::run(&ctx, *args),
        Command::Pull(args) => commands::image::pull(&ctx, args),
        Command::Push(args) => commands::image::push(&ctx, args),
        Command::Images(args) => commands::images::images(&ctx, args),
        Command::History(args) => commands::history::history(&ctx, args),
        Command::Inspect(args) => commands::inspect::inspect(&ctx, args),
        Command::Tag(args) => commands::archive::tag(&ctx, args),
        Command::Save(args) => commands::archive::save(&ctx, args),
        Command::Load(args) => commands::archive::load(&ctx, args),
        Command::Rmi(args) => commands::images::rmi(&ctx, args),
        Command::Prune(args) => commands::image::prune(&ctx, args),
        Command::Info(args) => commands::info::info(&ctx, args),
        Command::Debug(cmd) => commands::debug::run(&ctx, cmd),
        Command::Completion(args) => commands::completion::completion(Cli::command(), &args),
        Command::Man => commands::completion::man(Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
