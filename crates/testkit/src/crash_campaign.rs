//! The crash campaign behind `scripts/crash-campaign` (`skiff-crash-campaign`): a realistic
//! build SIGKILLed at many random moments, each followed by the checks that show nothing broke.
//!
//! The build pulls its base from a local registry (busybox) and a fresh small image per point
//! (`COPY --from`, so every point downloads, verifies and extracts a new layer), runs a `RUN`,
//! copies context files, writes and commits layers, exports `-o type=oci`, pushes the image
//! (`--push`) and exports the build cache (`--cache-to type=registry`). Each point's build has
//! inputs of its own (the point number is in the Dockerfile and the context), so no step of the
//! killed build is cached. The build's duration is measured first (once busybox is in the
//! store); each kill lands after a random delay in `[0, 1.1 × duration]`, from a seeded
//! generator (the seed is printed, and `--seed` replays a campaign). A run whose build finished
//! before its delay is checked the same way but is no kill: runs go on until the number of
//! points asked for were killed mid-build.
//!
//! After each kill: the store's consistency check ([`crate::store_check::problems`]), no runc
//! container of the killed process left, the same build again must succeed with the right
//! content, and images built before the campaign must still be intact (saved again with
//! `skiff save`, every blob verified, same manifest digest). At the end `skiff prune` runs and
//! the store and the earlier images are checked once more.

use crate::busybox::busybox_image;
use crate::command::run_ok;
use crate::layout::{tar_of_files, Layer};
use crate::leftovers::runc_containers_of;
use crate::project::{BuiltImage, Project};
use crate::push::{push_image, ImageRef};
use crate::registry::Registry;
use crate::store_check::problems;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

/// What a campaign does.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many builds are killed mid-build (runs whose build finished before its kill are
    /// checked too, and come on top).
    pub points: usize,
    /// The seed of the kill delays and of the per-point payloads.
    pub seed: u64,
}

/// What a campaign found: the figures `docs/reliability.md` quotes.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// The seed used (replay with `--seed`).
    pub seed: u64,
    /// The measured duration of one uncached build, in seconds.
    pub build_seconds: f64,
    /// Kills asked for (`--points`).
    pub requested: usize,
    /// Runs made: a build started, killed after a delay (unless it finished first), checked.
    pub points: usize,
    /// Builds that were still running when killed (the others had already finished).
    pub killed_mid_build: usize,
    /// Stores the consistency check found a problem in, after a kill.
    pub inconsistent_stores: usize,
    /// Kills after which a runc container of the killed build was still there after 15 s.
    pub leftover_containers: usize,
    /// Rebuilds after a kill that succeeded with the right content.
    pub successful_rebuilds: usize,
    /// Points after which every image built before the campaign was intact.
    pub intact_images: usize,
    /// Where the kills landed: the kind of step the killed build last reported.
    pub phases: BTreeMap<String, usize>,
    /// After the final `skiff prune`: the store consistent and the earlier images intact.
    pub clean_after_prune: bool,
}

impl Summary {
    /// Whether nothing broke.
    pub fn all_good(&self) -> bool {
        self.inconsistent_stores == 0
            && self.killed_mid_build >= self.requested
            && self.leftover_containers == 0
            && self.successful_rebuilds == self.points
            && self.intact_images == self.points
            && self.clean_after_prune
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed:                      {}", self.seed)?;
        writeln!(f, "build duration:            {:.2} s", self.build_seconds)?;
        writeln!(
            f,
            "killed mid-build:          {}/{} (in {} runs; in {} the build had finished before its delay)",
            self.killed_mid_build,
            self.requested,
            self.points,
            self.points - self.killed_mid_build
        )?;
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        writeln!(f, "kills landed in:           {}", phases.join(", "))?;
        writeln!(f, "inconsistent stores:       {}", self.inconsistent_stores)?;
        writeln!(f, "leftover containers:       {}", self.leftover_containers)?;
        writeln!(
            f,
            "successful rebuilds:       {}/{}",
            self.successful_rebuilds, self.points
        )?;
        writeln!(
            f,
            "earlier images intact:     {}/{}",
            self.intact_images, self.points
        )?;
        write!(f, "clean after final prune:   {}", self.clean_after_prune)
    }
}

/// A small seeded generator (splitmix64): reproducible kill delays without a dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform fraction in `[0, 1)`.
    pub fn fraction(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

/// A seed from the clock, for a campaign not told which one to use.
pub fn seed_from_clock() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map(|d| d.as_nanos() as u64).unwrap_or(1)
}

/// The campaign's fixtures: the registry, the project whose build is killed, the images
/// built before the campaign (name → manifest digest).
struct Campaign {
    registry: Registry,
    busybox: ImageRef,
    project: Project,
    earlier: Vec<(String, String)>,
    rng: Rng,
}

/// One point's build: its number, its Dockerfile's per-point base blob and its arguments.
struct PointBuild {
    point: usize,
    blob: Vec<u8>,
    args: Vec<String>,
    out: std::path::PathBuf,
}

/// Runs a campaign, printing a line per point; the summary says what broke (a setup failure
/// — registry, busybox fixture, a build before the campaign — is an error).
pub fn run(options: &Options) -> Result<Summary> {
    let mut campaign = Campaign::start(options.seed)?;
    let mut summary = Summary {
        seed: options.seed,
        requested: options.points,
        ..Summary::default()
    };
    // The longer of two uncached builds, after a first one that also pulls busybox (which no
    // later build does: timed with it, a third of the delays fell after the build's end).
    for calibration in [usize::MAX, usize::MAX - 1, usize::MAX - 2] {
        let build = campaign.prepare(calibration)?;
        let started = Instant::now();
        let run = campaign.project.build(&strs(&build.args));
        if !run.success() {
            bail!(
                "the campaign's build fails before any kill:\n{}",
                run.report()
            );
        }
        if calibration != usize::MAX {
            summary.build_seconds = summary.build_seconds.max(started.elapsed().as_secs_f64());
        }
    }
    eprintln!(
        "crash campaign: seed {}, {} points, one build takes {:.2} s",
        options.seed, options.points, summary.build_seconds
    );
    // At most three runs per kill asked for: a build that always finishes first is a broken
    // calibration, reported by the summary, not a loop without end.
    let mut n = 0;
    while summary.killed_mid_build < options.points && n < options.points * 3 {
        let delay = summary.build_seconds * 1.1 * campaign.rng.fraction();
        let line = campaign.point(n, Duration::from_secs_f64(delay), &mut summary)?;
        eprintln!(
            "run {} (kills {}/{}): {line}",
            n + 1,
            summary.killed_mid_build,
            options.points
        );
        summary.points += 1;
        n += 1;
    }
    run_ok(campaign.project.skiff().arg("prune"));
    let found = problems(campaign.project.store());
    let broken = campaign.broken_earlier_images();
    for p in found.iter().chain(&broken) {
        eprintln!("after the final prune: {p}");
    }
    summary.clean_after_prune = found.is_empty() && broken.is_empty();
    Ok(summary)
}

impl Campaign {
    /// Starts the registry, pushes busybox and builds the images the campaign must not harm.
    fn start(seed: u64) -> Result<Campaign> {
        let registry = Registry::start()?;
        let busybox = busybox_image(&registry)?;
        let project = Project::new();
        let mut rng = Rng::new(seed);
        for i in 0..4 {
            project.write(&format!("data/part{i}.bin"), rng.bytes(512 << 10));
        }
        let mut earlier = Vec::new();
        for k in 0..2 {
            let other = Project::with_store(project.store());
            other.write("a.txt", format!("earlier {k}\n"));
            other.dockerfile(&format!(
                "FROM busybox\nCOPY a.txt /a.txt\nRUN echo earlier {k} > /e && cat /a.txt >> /e\n"
            ));
            let name = format!("earlier/{k}:1");
            let run = other.build(&["-t", &name]);
            if !run.success() {
                bail!("an image before the campaign failed:\n{}", run.report());
            }
            let digest = saved_image(&project, &name)?.digest;
            earlier.push((name, digest));
        }
        Ok(Campaign {
            registry,
            busybox,
            project,
            earlier,
            rng,
        })
    }

    /// Writes point `point`'s Dockerfile and context and pushes its own base image.
    fn prepare(&mut self, point: usize) -> Result<PointBuild> {
        let blob = self.rng.bytes(1 << 20);
        let tar = tar_of_files(&[("blob", blob.as_slice())])?;
        let base = format!("campaign/base:p{point}");
        let layers = [Layer { tar, gzip: true }];
        let (base, _) = push_image(&self.registry, &layers, serde_json::json!({}), &base)?;
        self.project
            .write("data/point.txt", format!("{point}\n"))
            .dockerfile(&format!(
                "FROM {}\n\
                 RUN echo point {point} > /point && head -c 1048576 /dev/urandom > /rand\n\
                 COPY data/ /data/\n\
                 COPY --from={} /blob /blob\n",
                self.busybox.reference, base.reference
            ));
        let out = self.project.scratch_path("campaign.tar");
        let args = vec![
            "-t".to_string(),
            self.registry.reference("campaign/app:latest"),
            "--push".to_string(),
            "-o".to_string(),
            format!("type=oci,dest={}", out.display()),
            "--cache-to".to_string(),
            format!(
                "type=registry,ref={},mode=max",
                self.registry.reference("campaign/cache:buildcache")
            ),
        ];
        Ok(PointBuild {
            point,
            blob,
            args,
            out,
        })
    }

    /// One kill point: the build killed after `delay`, then every check. Returns the line
    /// printed for it.
    fn point(&mut self, n: usize, delay: Duration, summary: &mut Summary) -> Result<String> {
        let build = self.prepare(n)?;
        let mut spawned = self.project.spawn_build(&strs(&build.args));
        let pid = spawned.child.id();
        let deadline = Instant::now() + delay;
        let mut finished = false;
        while Instant::now() < deadline {
            if spawned.child.try_wait()?.is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if !finished {
            spawned.child.kill().context("killing the build")?; // SIGKILL
            summary.killed_mid_build += 1;
        }
        let output = spawned.child.wait_with_output()?;
        let phase = if finished {
            "finished".to_string()
        } else {
            last_phase(&String::from_utf8_lossy(&output.stderr))
        };
        *summary.phases.entry(phase.clone()).or_default() += 1;
        let mut notes = vec![format!("kill at {:.2} s ({phase})", delay.as_secs_f64())];
        if !containers_gone(pid) {
            summary.leftover_containers += 1;
            notes.push("runc containers left".into());
        }
        let found = problems(self.project.store());
        if found.is_empty() {
            notes.push("store consistent".into());
        } else {
            summary.inconsistent_stores += 1;
            notes.push(format!("STORE INCONSISTENT: {}", found.join("; ")));
        }
        match self.rebuild(&build) {
            Ok(()) => {
                summary.successful_rebuilds += 1;
                notes.push("rebuild ok".into());
            }
            Err(e) => notes.push(format!("REBUILD FAILED: {e:#}")),
        }
        let broken = self.broken_earlier_images();
        if broken.is_empty() {
            summary.intact_images += 1;
            notes.push("earlier images intact".into());
        } else {
            notes.push(format!("EARLIER IMAGES BROKEN: {}", broken.join("; ")));
        }
        Ok(notes.join(", "))
    }

    /// The killed build again, to the end, with the right content in its exported image.
    fn rebuild(&self, build: &PointBuild) -> Result<()> {
        let run = self.project.build(&strs(&build.args));
        if !run.success() {
            bail!("{}", run.report());
        }
        let image = BuiltImage::open(&build.out)?;
        std::fs::remove_file(&build.out).ok();
        let point = format!("point {}\n", build.point);
        if image.fs.read_string("/point") != point
            || image.fs.read("/blob") != build.blob
            || image.fs.read_string("/data/point.txt") != format!("{}\n", build.point)
            || image.fs.read("/rand").len() != 1 << 20
        {
            bail!("the rebuilt image does not hold what the Dockerfile wrote");
        }
        Ok(())
    }

    /// What is wrong with the images built before the campaign (empty: all intact).
    fn broken_earlier_images(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, digest) in &self.earlier {
            match saved_image(&self.project, name) {
                Ok(image) if &image.digest == digest => {}
                Ok(image) => out.push(format!("{name} is now {} (was {digest})", image.digest)),
                Err(e) => out.push(format!("{name}: {e:#}")),
            }
        }
        out
    }
}

/// `skiff save --format oci` of a stored image, read back (every blob verified).
fn saved_image(project: &Project, name: &str) -> Result<BuiltImage> {
    let file = project.scratch_path("saved.tar");
    let out = project
        .skiff()
        .args(["save", "--format", "oci", "-o"])
        .arg(&file)
        .arg(name)
        .output()?;
    if !out.status.success() {
        bail!(
            "skiff save failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let image = BuiltImage::open(&file);
    std::fs::remove_file(&file).ok();
    image
}

/// Whether the runc containers of the killed skiff `pid` are gone (waits up to 15 s: the
/// build's watchdog removes them).
fn containers_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if runc_containers_of(pid).is_empty() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The kind of step a killed build last reported in its plain progress (`RUN`, `COPY`,
/// `FROM`), or the output it was writing (`=> exported …`: `exported`; the size report:
/// `size`; a pulled image's blob: `pulling`); `start` before the first step.
pub fn last_phase(stderr: &str) -> String {
    let mut names: BTreeMap<usize, String> = BTreeMap::new();
    let mut phase = "start".to_string();
    for line in stderr.lines() {
        if let Some(rest) = line.strip_prefix("=> ") {
            let word = rest.split_whitespace().next().unwrap_or("output");
            // `=> REF: BLOB SIZE done`: a blob of an image being pulled.
            let blob_done = word.ends_with(':') && word.contains('/');
            phase = if blob_done { "pulling" } else { word }.to_string();
            continue;
        }
        if line.starts_with("size: ") {
            phase = "size".to_string();
            continue;
        }
        let Some((num, text)) = line.strip_prefix('#').and_then(|r| r.split_once(' ')) else {
            continue;
        };
        let Ok(num) = num.parse::<usize>() else {
            continue;
        };
        let first = text.split_whitespace().next().unwrap_or_default();
        let is_name = !first.is_empty() && !first.starts_with(|c: char| c.is_ascii_digit());
        if is_name && !matches!(first, "DONE" | "CACHED" | "ERROR") {
            names.entry(num).or_insert_with(|| text.to_string());
        }
        if let Some(name) = names.get(&num) {
            let instruction = name.split_once("] ").map(|(_, i)| i).unwrap_or(name);
            phase = instruction
                .split_whitespace()
                .next()
                .unwrap_or("start")
                .to_string();
        }
    }
    phase
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible_and_fractions_stay_below_one() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.bytes(100), b.bytes(100));
        assert!((0..1000).all(|_| (0.0..1.0).contains(&a.fraction())));
    }

    #[test]
    fn the_last_phase_is_the_kind_of_the_last_step_reported() {
        let stderr = "#1 [internal] load build definition\n#1 DONE 0.0s\n\
                      #2 [stage 1/4] RUN echo hi\n#2 0.120 hi\n";
        assert_eq!(last_phase(stderr), "RUN");
        assert_eq!(
            last_phase("#2 [2/2] COPY a b\n#2 DONE\n=> exported to x\n"),
            "exported"
        );
        assert_eq!(
            last_phase("#3 [1/2] FROM r/b:1\n=> r:5000/b:p7: 0123456789ab 1.0 MB done\n"),
            "pulling"
        );
        assert_eq!(last_phase(""), "start");
    }
}
