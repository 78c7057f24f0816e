//! Size limits on every field a peer writes onto `comm`, in one place.
//!
//! A peer is another agent: a runaway one can paste a 10 MB log into a task
//! or reserve two thousand globs, and every reader pays for it on every
//! read. Each field has a named, generous [`Limit`]; writers call [`check`]
//! before anything is written. (Message bodies and artifacts have their own
//! limits in comm.yaml's `limits:`, as they carry real content.)

use super::CommError;

/// The most a field may hold, and what to do instead.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The field, as users name it.
    pub what: &'static str,
    /// The constant's name, shown in errors so a reader can find it.
    pub name: &'static str,
    pub max: usize,
    /// What is counted: `bytes`, `characters`, `items`.
    pub unit: &'static str,
    pub hint: &'static str,
}

const KIB: usize = 1024;

/// A task's title (one line).
pub const TASK_TITLE: Limit = Limit {
    what: "task title",
    name: "TASK_TITLE",
    max: 200,
    unit: "characters",
    hint: "put details in --description",
};

/// A task's description (as long as a message body by default).
pub const TASK_DESCRIPTION: Limit = Limit {
    what: "task description",
    name: "TASK_DESCRIPTION",
    max: 64 * KIB,
    unit: "bytes",
    hint: "publish long content as an artifact (comm-node publish NAME FILE) and name it in the description",
};

/// Why a task failed.
pub const TASK_REASON: Limit = Limit {
    what: "failure reason",
    name: "TASK_REASON",
    max: 4 * KIB,
    unit: "bytes",
    hint: "say what went wrong in a few lines; publish a long log as an artifact",
};

/// Each list of a task: deps, --done-when, --skill, --needs.
pub const TASK_LIST: Limit = Limit {
    what: "list (deps, --done-when, --skill or --needs)",
    name: "TASK_LIST",
    max: 256,
    unit: "items",
    hint: "split the work into a convoy of smaller tasks (--parent)",
};

/// One acceptance criterion (--done-when).
pub const TASK_LINE: Limit = Limit {
    what: "--done-when criterion",
    name: "TASK_LINE",
    max: KIB,
    unit: "bytes",
    hint: "state the criterion in one line; put details in --description",
};

/// A skill or other one-word name.
pub const NAME: Limit = Limit {
    what: "name",
    name: "NAME",
    max: 64,
    unit: "bytes",
    hint: "use a short word such as rust or frontend",
};

/// The globs of one reservation.
pub const RESERVE_GLOBS: Limit = Limit {
    what: "reservation",
    name: "RESERVE_GLOBS",
    max: 256,
    unit: "globs",
    hint: "reserve a folder (`src/api/**`) instead of its files one by one",
};

/// One reserved glob.
pub const RESERVE_GLOB: Limit = Limit {
    what: "glob",
    name: "RESERVE_GLOB",
    max: KIB,
    unit: "bytes",
    hint: "reserve a shorter pattern, such as the folder that holds the files",
};

/// One record (line) of `task import`, all its fields together.
pub const IMPORT_RECORD: Limit = Limit {
    what: "import record",
    name: "IMPORT_RECORD",
    max: 256 * KIB,
    unit: "bytes",
    hint: "trim the record's large fields; a description is limited to 64 KiB",
};

/// Refuses `size` (counted in `limit.unit`) when it is over `limit.max`.
pub fn check(limit: &Limit, size: usize) -> Result<(), CommError> {
    if size <= limit.max {
        return Ok(());
    }
    Err(CommError::invalid(
        format!(
            "the {} is {size} {}; the limit is {} ({})",
            limit.what, limit.unit, limit.max, limit.name
        ),
        limit.hint,
    ))
}
