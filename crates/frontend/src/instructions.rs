//! Typed instructions: each [`crate::ast::Instruction`] checked and turned into a value the engine can run.
