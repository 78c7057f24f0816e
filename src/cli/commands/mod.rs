//! One module per command: its clap `Args` and its `run` function.

pub mod ack;
pub mod artifact;
pub mod check;
pub mod demo;
pub mod graph;
pub mod hook;
pub mod imports;
pub mod inbox;
pub mod init;
pub mod log;
pub mod publish;
pub mod queue;
pub mod read;
pub mod send;
pub mod status;
pub mod submit;
pub mod sync;
pub mod thread;
