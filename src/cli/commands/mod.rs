//! One module per command: its clap `Args` and its `run` function.

pub mod demo;
pub mod hook;
pub mod init;
pub mod status;
