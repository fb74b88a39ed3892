//! The shape of moby's seccomp profile rules (`profile.rs` holds the data) and the filtering
//! moby's `setupSeccomp` does before a rule goes into the OCI spec.

use oci_spec::runtime::{
    Capabilities, Capability, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

/// What a rule does to the syscalls it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    /// `SCMP_ACT_ALLOW`.
    Allow,
    /// `SCMP_ACT_ERRNO` with this errno.
    Errno(u32),
}

/// A comparison of one syscall argument (`args` in the profile).
#[derive(Clone, Copy, Debug)]
pub(super) struct Arg {
    /// Which argument (0-based).
    pub(super) index: usize,
    /// The value it is compared with (the mask for [`Op::MaskedEq`], whose expected value is 0).
    pub(super) value: u64,
    /// How.
    pub(super) op: Op,
}

/// libseccomp's comparison operators.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code)] // The profile uses some of them; the generator maps all of them.
pub(super) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// A rule's `includes` or `excludes`: an empty field does not take part.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cond {
    /// libseccomp's native architecture names (`amd64`, `arm64`, `x86`, …).
    pub(super) arches: &'static [&'static str],
    /// Capabilities of the bounding set.
    pub(super) caps: &'static [Capability],
    /// A kernel version (major, minor).
    pub(super) min_kernel: Option<(u32, u32)>,
}

/// The empty condition.
pub(super) const ANY: Cond = Cond {
    arches: &[],
    caps: &[],
    min_kernel: None,
};

/// One entry of the profile's `syscalls`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rule {
    /// Syscall names separated by spaces.
    pub(super) names: &'static str,
    /// What happens to them.
    pub(super) action: Action,
    /// Argument filters (all must hold).
    pub(super) args: &'static [Arg],
    /// The rule applies only when all of these hold.
    pub(super) includes: Cond,
    /// The rule does not apply when any of these holds.
    pub(super) excludes: Cond,
}

/// What a rule is checked against: the step's and the host's facts.
pub(super) struct Facts<'a> {
    /// The native architecture whose syscalls the filter sees (libseccomp's name).
    pub(super) arch: &'a str,
    /// The step's bounding capability set.
    pub(super) caps: &'a Capabilities,
    /// The running kernel's (major, minor), when known.
    pub(super) kernel: Option<(u32, u32)>,
}

impl Rule {
    /// Whether the rule goes into the filter, with moby's `setupSeccomp` semantics.
    pub(super) fn applies(&self, facts: &Facts) -> bool {
        let ex = &self.excludes;
        let excluded = ex.arches.contains(&facts.arch)
            || ex.caps.iter().any(|c| facts.caps.contains(c))
            || ex
                .min_kernel
                .is_some_and(|min| facts.kernel.is_some_and(|k| k >= min));
        let inc = &self.includes;
        let included = (inc.arches.is_empty() || inc.arches.contains(&facts.arch))
            && inc.caps.iter().all(|c| facts.caps.contains(c))
            // moby fails when the kernel version cannot be read; an unknown kernel here leaves
            // the rule out (denying more, never less).
            && inc
                .min_kernel
                .is_none_or(|min| facts.kernel.is_some_and(|k| k >= min));
        included && !excluded
    }

    /// The rule as an OCI `linux.seccomp.syscalls` entry.
    pub(super) fn to_oci(self) -> Result<LinuxSyscall, oci_spec::OciSpecError> {
        let mut b = LinuxSyscallBuilder::default().names(
            self.names
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        );
        b = match self.action {
            Action::Allow => b.action(LinuxSeccompAction::ScmpActAllow),
            Action::Errno(errno) => b.action(LinuxSeccompAction::ScmpActErrno).errno_ret(errno),
        };
        if !self.args.is_empty() {
            let args = self
                .args
                .iter()
                .map(|a| a.to_oci())
                .collect::<Result<Vec<_>, _>>()?;
            b = b.args(args);
        }
        b.build()
    }
}

impl Arg {
    fn to_oci(self) -> Result<LinuxSeccompArg, oci_spec::OciSpecError> {
        let op = match self.op {
            Op::Ne => LinuxSeccompOperator::ScmpCmpNe,
            Op::Lt => LinuxSeccompOperator::ScmpCmpLt,
            Op::Le => LinuxSeccompOperator::ScmpCmpLe,
            Op::Eq => LinuxSeccompOperator::ScmpCmpEq,
            Op::Ge => LinuxSeccompOperator::ScmpCmpGe,
            Op::Gt => LinuxSeccompOperator::ScmpCmpGt,
            Op::MaskedEq => LinuxSeccompOperator::ScmpCmpMaskedEq,
        };
        // `valueTwo` is absent, as in the profile: zero, the masked comparisons' expected value.
        LinuxSeccompArgBuilder::default()
            .index(self.index)
            .value(self.value)
            .op(op)
            .build()
    }
}
