//! One module per command: its clap `Args` and its `run` function.

pub mod ack;
pub mod artifact;
pub mod check;
pub mod conflicts;
pub mod demo;
pub mod graph;
pub mod hello;
pub mod hook;
pub mod imports;
pub mod inbox;
pub mod init;
pub mod log;
pub mod publish;
pub mod queue;
pub mod read;
pub mod release;
pub mod reservations;
pub mod reserve;
pub mod send;
pub mod status;
pub mod submit;
pub mod sync;
pub mod task;
pub mod thread;
pub mod verify;
