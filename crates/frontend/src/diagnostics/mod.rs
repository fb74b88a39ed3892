//! Errors and warnings that point into the Dockerfile, rendered like rustc/miette:
//! `Dockerfile:12:11`, the source line, a caret under the span, the message and a hint.
//!
//! [`render`] turns a [`Diagnostic`] into that text; [`suggest`] finds the did-you-mean
//! candidates every error with a misspelled name uses.

mod diagnostic;
mod render;
pub mod suggest;

pub use diagnostic::{Diagnostic, Severity};
pub use render::{render, render_with, Style};
