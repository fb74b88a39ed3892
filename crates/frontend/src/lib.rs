//! The Dockerfile frontend: text → syntax tree → typed instructions → stage graph.
//!
//! Data flows one way through the modules:
//! [`parser`] turns bytes into an [`ast::Dockerfile`] (BuildKit's node tree, with spans),
//! [`shell`] expands words the way BuildKit's shell lexer does,
//! [`instructions`] turns nodes into typed instructions and checks flags,
//! [`graph`] resolves stages, `--from` references and the `--target`,
//! [`lint`] runs BuildKit's build checks over a Dockerfile without building it,
//! and [`diagnostics`] renders every error and warning with file, line, column and a hint.

pub mod ast;
pub mod diagnostics;
pub mod dump;
pub mod graph;
pub mod instructions;
pub mod lint;
pub mod parser;
pub mod shell;

pub use ast::{Dockerfile, Instruction, Span};
pub use diagnostics::{render, Diagnostic, Severity};
pub use graph::{plan, Plan, PlanOptions};
pub use instructions::{Command, TypedInstruction};
pub use parser::parse;
