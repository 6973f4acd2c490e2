//! Views shared by the pages: the shell around them and small building blocks.

pub mod common;
pub mod shell;
pub mod status;
pub mod syncs;
