//! BuildKit's build-check rules (`frontend/dockerfile/linter/ruleset.go`): names, descriptions
//! and documentation URLs exactly as BuildKit reports them, so that tools reading BuildKit's
//! output read skiff's the same way.

/// One build-check rule: what BuildKit calls it and where its documentation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The rule's name (`StageNameCasing`), used in `# check=skip=…` and in messages.
    pub name: &'static str,
    /// BuildKit's one-line description of the rule.
    pub description: &'static str,
    /// The documentation page; `None` where BuildKit has none (`InvalidBaseImagePlatform`).
    pub url: Option<&'static str>,
    /// Experimental rules run only when named in `experimental=` (or `experimental=all`).
    pub experimental: bool,
}

/// `StageNameCasing`: Stage names should be lowercase
pub const STAGE_NAME_CASING: Rule = Rule {
    name: "StageNameCasing",
    description: "Stage names should be lowercase",
    url: Some("https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"),
    experimental: false,
};

/// `FromAsCasing`: The 'as' keyword should match the case of the 'from' keyword
pub const FROM_AS_CASING: Rule = Rule {
    name: "FromAsCasing",
    description: "The 'as' keyword should match the case of the 'from' keyword",
    url: Some("https://docs.docker.com/go/dockerfile/rule/from-as-casing/"),
    experimental: false,
};

/// `NoEmptyContinuation`: Empty continuation lines will become errors in a future release
pub const NO_EMPTY_CONTINUATION: Rule = Rule {
    name: "NoEmptyContinuation",
    description: "Empty continuation lines will become errors in a future release",
    url: Some("https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"),
    experimental: false,
};

/// `ConsistentInstructionCasing`: All commands within the Dockerfile should use the same casing (either upper or lower)
pub const CONSISTENT_INSTRUCTION_CASING: Rule = Rule {
    name: "ConsistentInstructionCasing",
    description:
        "All commands within the Dockerfile should use the same casing (either upper or lower)",
    url: Some("https://docs.docker.com/go/dockerfile/rule/consistent-instruction-casing/"),
    experimental: false,
};

/// `DuplicateStageName`: Stage names should be unique
pub const DUPLICATE_STAGE_NAME: Rule = Rule {
    name: "DuplicateStageName",
    description: "Stage names should be unique",
    url: Some("https://docs.docker.com/go/dockerfile/rule/duplicate-stage-name/"),
    experimental: false,
};

/// `ReservedStageName`: Reserved words should not be used as stage names
pub const RESERVED_STAGE_NAME: Rule = Rule {
    name: "ReservedStageName",
    description: "Reserved words should not be used as stage names",
    url: Some("https://docs.docker.com/go/dockerfile/rule/reserved-stage-name/"),
    experimental: false,
};

/// `JSONArgsRecommended`: JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals
pub const JSON_ARGS_RECOMMENDED: Rule = Rule {
    name: "JSONArgsRecommended",
    description: "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
    url: Some("https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"),
    experimental: false,
};

/// `MaintainerDeprecated`: The MAINTAINER instruction is deprecated, use a label instead to define an image author
pub const MAINTAINER_DEPRECATED: Rule = Rule {
    name: "MaintainerDeprecated",
    description:
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    url: Some("https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"),
    experimental: false,
};

/// `UndefinedArgInFrom`: FROM command must use declared ARGs
pub const UNDEFINED_ARG_IN_FROM: Rule = Rule {
    name: "UndefinedArgInFrom",
    description: "FROM command must use declared ARGs",
    url: Some("https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/"),
    experimental: false,
};

/// `WorkdirRelativePath`: Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes
pub const WORKDIR_RELATIVE_PATH: Rule = Rule {
    name: "WorkdirRelativePath",
    description: "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
    url: Some("https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/"),
    experimental: false,
};

/// `UndefinedVar`: Variables should be defined before their use
pub const UNDEFINED_VAR: Rule = Rule {
    name: "UndefinedVar",
    description: "Variables should be defined before their use",
    url: Some("https://docs.docker.com/go/dockerfile/rule/undefined-var/"),
    experimental: false,
};

/// `MultipleInstructionsDisallowed`: Multiple instructions of the same type should not be used in the same stage
pub const MULTIPLE_INSTRUCTIONS_DISALLOWED: Rule = Rule {
    name: "MultipleInstructionsDisallowed",
    description: "Multiple instructions of the same type should not be used in the same stage",
    url: Some("https://docs.docker.com/go/dockerfile/rule/multiple-instructions-disallowed/"),
    experimental: false,
};

/// `LegacyKeyValueFormat`: Legacy key/value format with whitespace separator should not be used
pub const LEGACY_KEY_VALUE_FORMAT: Rule = Rule {
    name: "LegacyKeyValueFormat",
    description: "Legacy key/value format with whitespace separator should not be used",
    url: Some("https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/"),
    experimental: false,
};

/// `InvalidBaseImagePlatform`: Base image platform does not match expected target platform
pub const INVALID_BASE_IMAGE_PLATFORM: Rule = Rule {
    name: "InvalidBaseImagePlatform",
    description: "Base image platform does not match expected target platform",
    url: None,
    experimental: false,
};

/// `RedundantTargetPlatform`: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior
pub const REDUNDANT_TARGET_PLATFORM: Rule = Rule {
    name: "RedundantTargetPlatform",
    description: "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
    url: Some("https://docs.docker.com/go/dockerfile/rule/redundant-target-platform/"),
    experimental: false,
};

/// `SecretsUsedInArgOrEnv`: Sensitive data should not be used in the ARG or ENV commands
pub const SECRETS_USED_IN_ARG_OR_ENV: Rule = Rule {
    name: "SecretsUsedInArgOrEnv",
    description: "Sensitive data should not be used in the ARG or ENV commands",
    url: Some("https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/"),
    experimental: false,
};

/// `InvalidDefaultArgInFrom`: Default value for global ARG results in an empty or invalid base image name
pub const INVALID_DEFAULT_ARG_IN_FROM: Rule = Rule {
    name: "InvalidDefaultArgInFrom",
    description: "Default value for global ARG results in an empty or invalid base image name",
    url: Some("https://docs.docker.com/go/dockerfile/rule/invalid-default-arg-in-from/"),
    experimental: false,
};

/// `FromPlatformFlagConstDisallowed`: FROM --platform flag should not use a constant value
pub const FROM_PLATFORM_FLAG_CONST_DISALLOWED: Rule = Rule {
    name: "FromPlatformFlagConstDisallowed",
    description: "FROM --platform flag should not use a constant value",
    url: Some("https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/"),
    experimental: false,
};

/// `CopyIgnoredFile`: Attempting to Copy file that is excluded by .dockerignore
pub const COPY_IGNORED_FILE: Rule = Rule {
    name: "CopyIgnoredFile",
    description: "Attempting to Copy file that is excluded by .dockerignore",
    url: Some("https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/"),
    experimental: false,
};

/// `InvalidDefinitionDescription` (experimental): a comment above a named FROM or an ARG
/// should start with the name it describes.
pub const INVALID_DEFINITION_DESCRIPTION: Rule = Rule {
    name: "InvalidDefinitionDescription",
    description: "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
    url: Some("https://docs.docker.com/go/dockerfile/rule/invalid-definition-description/"),
    experimental: true,
};

/// `ExposeProtoCasing`: Protocol in EXPOSE instruction should be lowercase
pub const EXPOSE_PROTO_CASING: Rule = Rule {
    name: "ExposeProtoCasing",
    description: "Protocol in EXPOSE instruction should be lowercase",
    url: Some("https://docs.docker.com/go/dockerfile/rule/expose-proto-casing/"),
    experimental: false,
};

/// `ExposeInvalidFormat`: IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release
pub const EXPOSE_INVALID_FORMAT: Rule = Rule {
    name: "ExposeInvalidFormat",
    description: "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
    url: Some("https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/"),
    experimental: false,
};

/// Every rule, in BuildKit's order.
pub const ALL: &[Rule] = &[
    STAGE_NAME_CASING,
    FROM_AS_CASING,
    NO_EMPTY_CONTINUATION,
    CONSISTENT_INSTRUCTION_CASING,
    DUPLICATE_STAGE_NAME,
    RESERVED_STAGE_NAME,
    JSON_ARGS_RECOMMENDED,
    MAINTAINER_DEPRECATED,
    UNDEFINED_ARG_IN_FROM,
    WORKDIR_RELATIVE_PATH,
    UNDEFINED_VAR,
    MULTIPLE_INSTRUCTIONS_DISALLOWED,
    LEGACY_KEY_VALUE_FORMAT,
    INVALID_BASE_IMAGE_PLATFORM,
    REDUNDANT_TARGET_PLATFORM,
    SECRETS_USED_IN_ARG_OR_ENV,
    INVALID_DEFAULT_ARG_IN_FROM,
    FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    COPY_IGNORED_FILE,
    INVALID_DEFINITION_DESCRIPTION,
    EXPOSE_PROTO_CASING,
    EXPOSE_INVALID_FORMAT,
];

/// The rule named `name` (exact, as BuildKit matches skip lists).
pub fn by_name(name: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.name == name)
}
