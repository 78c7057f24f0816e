//! File reservations: a domain announces that it is changing some files, so
//! others keep off them until it releases them or the reservation expires.
//!
//! Each reservation is `reservations/<shard>/<id>.yaml` on `comm` (see
//! [`super::shard`]). Reserving is one
//! event whose conflict check runs inside the [`append`] closure, so two
//! racing reservers are decided by the compare-and-swap: the loser's check
//! re-runs on the winner's state and is refused. Expired reservations count
//! nowhere and are pruned by the next reserve or release commit.
//!
//! Reading a thousand small YAML files per command is too slow for a hook,
//! so parsed reservations are cached under `.git/comm-node/` keyed by blob
//! id (content-addressed: the cache can be stale only by missing entries)
//! and stamped with the `reservations/` tree they list: while that tree is
//! the tip's, a read lists no tree at all. `reserve` and `release` write the
//! cache for the tree they committed, from the state their event was built
//! on, so the next command finds it current.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::{append, limits, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::cachefile::{escape, unescape};
use crate::clock::{format_duration, format_relative, format_timestamp};
use crate::config::Config;
use crate::git::{Repo, TreeEdit};
use crate::pathglob::{heads_compatible, literal_head, PathGlob};
use crate::retry::random_id;

/// The event kind of a reservation.
pub(super) const RESERVE_KIND: &str = "reserve";
/// The event kind of a release (forced or not).
pub(super) const RELEASE_KIND: &str = "release";
/// The trailer naming the reservation ids an event concerns.
const ID_FIELD: &str = "Reservation";
const DIR: &str = "reservations";
/// Random letters of a reservation id (50 bits): clones that reserve while
/// apart do not pick the same one.
const ID_CHARS: usize = 10;
/// Cache entries that may be missing or stale before it is rewritten.
const CACHE_SLACK: usize = 16;
/// The start of the cache's first line, before the tree it lists.
const CACHE_MAGIC: &str = "comm-node reservations v3\t";
/// Longest `--reason`, in characters.
const MAX_REASON: usize = 200;

/// Whether other domains may hold overlapping reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Nobody else may reserve or commit the files.
    Exclusive,
    /// Others may hold shared reservations on them too.
    Shared,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
        })
    }
}

/// One reservation, as stored in `reservations/<shard>/<id>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Random id, e.g. `R-3f9a1cq0m2` (older ones: `R-3f9a1c`).
    pub id: String,
    /// The holder.
    pub domain: String,
    pub globs: Vec<String>,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Seconds since the epoch.
    pub created: i64,
    /// Seconds since the epoch; the reservation counts until then.
    pub expires: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Reservation {
    /// Its state file on `comm`.
    pub fn path(&self) -> String {
        Reservation::path_of(&self.id)
    }

    /// The state file of reservation `id` (older states hold it directly
    /// in `reservations/`, where [`Snapshot::read`] finds it too).
    pub fn path_of(id: &str) -> String {
        super::shard::path(DIR, id)
    }

    /// Whether it still counts at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires
    }

    /// The first of its globs that matches `path`.
    pub fn matching_glob(&self, path: &str) -> Option<&str> {
        self.globs
            .iter()
            .filter(|g| path.starts_with(literal_head(g)))
            .find(|g| PathGlob::new(g).is_ok_and(|g| g.matches(path)))
            .map(String::as_str)
    }

    /// `expires 2026-11-23 23:45:00 UTC (in 1h05m)`.
    pub fn describe_expiry(&self, now: i64) -> String {
        let verb = if self.is_live(now) {
            "expires"
        } else {
            "expired"
        };
        format!(
            "{verb} {} ({})",
            format_timestamp(self.expires),
            format_relative(self.expires, now)
        )
    }

    fn to_yaml(&self) -> Vec<u8> {
        serde_yaml::to_string(self)
            .expect("a reservation always serializes")
            .into_bytes()
    }
}

/// Every reservation at the snapshot's tip, live or not, ordered by id.
pub fn all(snapshot: &Snapshot) -> Result<Vec<Reservation>, CommError> {
    let mut out: Vec<Reservation> = with_blobs(snapshot)?.into_iter().map(|(_, r)| r).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Every reservation at the snapshot's tip with the blob of its file: from
/// the cache alone when it lists this very `reservations/` tree, otherwise
/// from the tree's listing, parsing the files the cache lacks.
fn with_blobs(snapshot: &Snapshot) -> Result<Vec<(Oid, Reservation)>, CommError> {
    let Some(tip) = snapshot.tip() else {
        return Ok(Vec::new());
    };
    let repo = snapshot.repo();
    let Some(tree) = repo.dir_id_at(tip, DIR)? else {
        return Ok(Vec::new());
    };
    let text = Cache::read(repo);
    if let Some(current) = Cache::current(&text, tree) {
        return Ok(current);
    }
    let files = super::shard::files(repo, tree)?;
    let mut cached = Cache::index(&text);
    let mut out: Vec<(Oid, Reservation)> = Vec::with_capacity(files.len());
    let mut missed = 0;
    for (name, blob) in &files {
        if let Some(hit) = cached.remove(blob).and_then(Cache::parse_fields) {
            out.push((*blob, hit));
            continue;
        }
        missed += 1;
        out.push((*blob, parse_file(repo, name, *blob)?));
    }
    // Rewriting the cache is a file creation per command, dearer than
    // parsing a few reservations again: refresh it once enough have changed
    // (what is left in `cached` is stale). `verify` reads every past state.
    if missed + cached.len() > CACHE_SLACK || (missed > 0 && missed == files.len()) {
        // A cache that cannot be written is only slower next time.
        let _ = Cache::save(repo, tree, &out);
    }
    Ok(out)
}

/// Writes the cache for the `reservations/` tree of `commit`, which holds
/// `kept` and `added` (written by that commit): the state an event was
/// built on with its own edits, so nothing is read back but one blob id.
fn record(
    repo: &Repo,
    commit: Oid,
    mut kept: Vec<(Oid, Reservation)>,
    added: Option<&Reservation>,
) -> Result<(), CommError> {
    let Some(tree) = repo.dir_id_at(commit, DIR)? else {
        return Ok(());
    };
    if let Some(r) = added {
        let Some(blob) = repo.file_id_at(commit, &r.path())? else {
            return Ok(());
        };
        kept.push((blob, r.clone()));
    }
    // A cache that cannot be written is only slower next time.
    let _ = Cache::save(repo, tree, &kept);
    Ok(())
}

/// Reads and checks reservation file `<name>`.
fn parse_file(repo: &Repo, name: &str, blob: Oid) -> Result<Reservation, CommError> {
    let path = name
        .strip_suffix(".yaml")
        .map_or_else(|| format!("{DIR}/{name}"), Reservation::path_of);
    let parsed: Reservation =
        serde_yaml::from_slice(&repo.blob(blob)?).map_err(|e| CommError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if parsed.path() != path {
        return Err(CommError::Corrupt {
            path,
            reason: format!("it holds reservation `{}`", parsed.id),
        });
    }
    Ok(parsed)
}

/// The reservations that count at `now`, ordered by id.
pub fn live(snapshot: &Snapshot, now: i64) -> Result<Vec<Reservation>, CommError> {
    let mut out = all(snapshot)?;
    out.retain(|r| r.is_live(now));
    Ok(out)
}

/// What to reserve.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    /// The acting domain, or `human`.
    pub domain: String,
    pub globs: Vec<String>,
    pub mode: Mode,
    /// Lifetime in seconds.
    pub ttl: u64,
    /// Stored as given.
    pub task: Option<String>,
    pub reason: Option<String>,
}

/// A live reservation of another domain that a request collides with.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub holder: Reservation,
    /// The requested glob.
    pub glob: String,
    /// The holder's glob it overlaps.
    pub held: String,
    /// A path both match.
    pub witness: String,
}

/// Reserves files for `req.domain` at time `now`: [`check_request`], then
/// one `reserve` event whose [`Checked::apply`] runs on the tip it lands on.
pub fn reserve(
    repo: &Repo,
    config: &Config,
    req: &ReserveRequest,
    now: i64,
) -> Result<(Appended, Reservation), CommError> {
    let checked = check_request(config, req)?;
    let mut made = None;
    let appended = append(repo, |snapshot| {
        let applied = checked.apply(snapshot, now)?;
        let event = reserve_event(&applied.reservation, req.ttl);
        let edits = applied.edits.clone();
        made = Some(applied);
        Ok(Some(Change { event, edits }))
    })?
    .expect("a reservation always appends");
    let made = made.expect("the closure ran");
    record(repo, appended.commit, made.kept, Some(&made.reservation))?;
    Ok((appended, made.reservation))
}

/// A reservation as it lands on a snapshot.
pub struct Applied {
    pub reservation: Reservation,
    /// Its file, and the removal of the expired ones.
    pub edits: Vec<TreeEdit>,
    /// The reservations that stay, with their blobs.
    kept: Vec<(Oid, Reservation)>,
}

/// A reservation request that passed the checks that do not depend on the
/// state of `comm` (globs, scope, ttl): ready to apply inside any `append`
/// closure, e.g. one that also claims a task in the same commit.
pub struct Checked<'a> {
    req: &'a ReserveRequest,
    globs: Vec<PathGlob>,
}

/// Checks a request against `comm.yaml`. Every glob must lie in what the
/// domain may change (its `scope` and the `shared` files; the human may
/// reserve anything).
pub fn check_request<'a>(
    config: &Config,
    req: &'a ReserveRequest,
) -> Result<Checked<'a>, CommError> {
    Ok(Checked {
        globs: compile_request(config, req)?,
        req,
    })
}

impl Checked<'_> {
    /// The reservation and its tree edits on `snapshot` (expired files
    /// pruned on the way), or a refusal when it collides with a live
    /// reservation of another domain where either side is exclusive.
    pub fn apply(&self, snapshot: &Snapshot, now: i64) -> Result<Applied, CommError> {
        let req = self.req;
        if let Some(task) = &req.task {
            super::task::require(snapshot, task)?;
        }
        let (kept, expired): (Vec<_>, Vec<_>) = with_blobs(snapshot)?
            .into_iter()
            .partition(|(_, r)| r.is_live(now));
        let existing: Vec<Reservation> = kept.iter().map(|(_, r)| r.clone()).collect();
        let conflicts = conflicts(&existing, &req.domain, req.mode, &self.globs, now);
        if !conflicts.is_empty() {
            return Err(refusal(&req.domain, &conflicts, now));
        }
        let mut id = random_id("R-", ID_CHARS);
        while kept.iter().chain(&expired).any(|(_, r)| r.id == id) {
            id = random_id("R-", ID_CHARS);
        }
        let reservation = Reservation {
            id,
            domain: req.domain.clone(),
            globs: req.globs.clone(),
            mode: req.mode,
            task: req.task.clone(),
            created: now,
            expires: now.saturating_add(i64::try_from(req.ttl).unwrap_or(i64::MAX)),
            reason: req.reason.clone(),
        };
        let mut edits = removals(expired.iter().map(|(_, r)| r));
        edits.push(TreeEdit::Put {
            path: reservation.path(),
            bytes: reservation.to_yaml(),
        });
        Ok(Applied {
            reservation,
            edits,
            kept,
        })
    }
}

/// Checks a request before anything is written; returns its compiled globs.
fn compile_request(config: &Config, req: &ReserveRequest) -> Result<Vec<PathGlob>, CommError> {
    if req.globs.is_empty() {
        return Err(CommError::invalid(
            "no glob to reserve",
            "name the files, e.g. comm-node reserve 'src/api/**' 'Cargo.lock'",
        ));
    }
    limits::check(&limits::RESERVE_GLOBS, req.globs.len())?;
    if req.ttl == 0 {
        return Err(CommError::invalid(
            "a reservation needs a positive --ttl",
            "use forms like 30m, 2h, 1d",
        ));
    }
    if let Some(task) = &req.task {
        super::task::validate_id(task)?;
    }
    if let Some(reason) = &req.reason {
        check_reason(reason)?;
    }
    let mut globs = Vec::with_capacity(req.globs.len());
    for text in &req.globs {
        limits::check(&limits::RESERVE_GLOB, text.len())?;
        let glob = PathGlob::new(text).map_err(|e| {
            CommError::invalid(
                format!("`{text}` is not a valid glob: {e}"),
                "globs use * ? [a-z] [!x] {a,b} and ** for any depth, e.g. 'src/**/*.py'",
            )
        })?;
        if glob.uncovered(&[]).is_none() {
            return Err(CommError::invalid(
                format!("`{text}` matches no path of the repository"),
                "write paths relative to the repository root, without a leading / or ./",
            ));
        }
        globs.push(glob);
    }
    if req.domain != HUMAN {
        check_allowed(config, &req.domain, &globs)?;
    }
    Ok(globs)
}

/// Every glob must lie in the domain's scope plus the shared files.
fn check_allowed(config: &Config, domain: &str, globs: &[PathGlob]) -> Result<(), CommError> {
    let Some(declared) = config.domains.get(domain) else {
        return Err(CommError::invalid(
            format!("`{domain}` is not a domain of comm.yaml"),
            "reserve as a declared domain, or as human",
        ));
    };
    let allowed_text: Vec<&String> = declared.scope.iter().chain(&config.shared).collect();
    let allowed: Vec<PathGlob> = allowed_text
        .iter()
        .filter_map(|g| PathGlob::new(g).ok())
        .collect();
    for glob in globs {
        if let Some(outside) = glob.uncovered(&allowed) {
            let list: Vec<&str> = allowed_text.iter().map(|s| s.as_str()).collect();
            return Err(CommError::invalid(
                format!(
                    "`{domain}` may not reserve `{glob}`: it matches {outside}, which lies outside what {domain} may change ({})",
                    if list.is_empty() { "nothing".to_owned() } else { list.join(", ") }
                ),
                format!("reserve only files in {domain}'s scope or the shared files; ask the owner of {outside} with comm-node send"),
            ));
        }
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), CommError> {
    let hint = format!("give a one-line reason of at most {MAX_REASON} characters");
    if reason.trim().is_empty() || reason.contains(['\n', '\r', '\0']) {
        return Err(CommError::invalid(
            "the reason must be one non-empty line",
            hint,
        ));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(CommError::invalid("the reason is too long", hint));
    }
    Ok(())
}

/// The live reservations of other domains that `globs` in `mode` collide
/// with: overlapping, with at least one side exclusive.
pub fn conflicts(
    existing: &[Reservation],
    domain: &str,
    mode: Mode,
    globs: &[PathGlob],
    now: i64,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for holder in existing {
        if holder.domain == domain || !holder.is_live(now) {
            continue;
        }
        if mode == Mode::Shared && holder.mode == Mode::Shared {
            continue;
        }
        let found = holder.globs.iter().find_map(|held| {
            if !globs.iter().any(|g| heads_compatible(g.as_str(), held)) {
                return None;
            }
            let held_glob = PathGlob::new(held).ok()?;
            globs.iter().find_map(|g| {
                g.overlap(&held_glob).map(|witness| Conflict {
                    holder: holder.clone(),
                    glob: g.as_str().to_owned(),
                    held: held.clone(),
                    witness,
                })
            })
        });
        out.extend(found);
    }
    out
}

fn refusal(domain: &str, conflicts: &[Conflict], now: i64) -> CommError {
    let mut message = format!("`{domain}` cannot reserve these files:");
    for c in conflicts {
        message.push_str(&format!(
            "\n  `{}` overlaps {} reservation {} of `{}` on {} (both match {}); it {}",
            c.glob,
            c.holder.mode,
            c.holder.id,
            c.holder.domain,
            c.holder.globs.join(", "),
            c.witness,
            c.holder.describe_expiry(now)
        ));
    }
    let holders: BTreeSet<&str> = conflicts.iter().map(|c| c.holder.domain.as_str()).collect();
    let holders: Vec<&str> = holders.into_iter().collect();
    CommError::Refused {
        message,
        hint: format!(
            "ask the holder to release it (comm-node send --to {} \"...\"), or wait until it expires",
            holders.join(",")
        ),
    }
}

/// Removals of the files of `reservations`.
fn removals<'a>(reservations: impl Iterator<Item = &'a Reservation>) -> Vec<TreeEdit> {
    reservations
        .map(|r| TreeEdit::Remove { path: r.path() })
        .collect()
}

fn reserve_event(r: &Reservation, ttl: u64) -> Event {
    let mut event = Event::new(
        RESERVE_KIND,
        &r.domain,
        format!(
            "{} reserved {} ({}, {})",
            r.domain,
            r.globs.join(", "),
            r.mode,
            format_duration(ttl)
        ),
    );
    event.fields.push((ID_FIELD.into(), r.id.clone()));
    if let Some(task) = &r.task {
        event.fields.push(("Task".into(), task.clone()));
    }
    event.body = r.reason.clone().unwrap_or_default();
    event
}

/// What to release.
#[derive(Debug, Clone, Default)]
pub struct ReleaseRequest {
    /// The acting domain, or `human`.
    pub actor: String,
    pub ids: Vec<String>,
    /// Every reservation the actor holds.
    pub all: bool,
    /// Break other domains' reservations (only the human may).
    pub force: bool,
    pub reason: Option<String>,
}

/// Releases reservations; returns the event and what it released, or
/// `None` when `--all` found nothing to release. A forced release is
/// addressed to the holders, so it lands in their inboxes.
pub fn release(
    repo: &Repo,
    req: &ReleaseRequest,
    now: i64,
) -> Result<Option<(Appended, Vec<Reservation>)>, CommError> {
    if req.ids.is_empty() && !req.all {
        return Err(CommError::invalid(
            "nothing to release",
            "pass reservation ids (comm-node reservations lists them), or --all",
        ));
    }
    if req.force && req.actor != HUMAN {
        return Err(CommError::Refused {
            message: format!("`{}` may not break other domains' reservations", req.actor),
            hint: "ask the holder with comm-node send, or ask the human to run release --force in the main checkout".into(),
        });
    }
    if let Some(reason) = &req.reason {
        check_reason(reason)?;
    }
    let mut released = Vec::new();
    let mut kept = Vec::new();
    let appended = append(repo, |snapshot| {
        let existing = with_blobs(snapshot)?;
        let listed: Vec<Reservation> = existing.iter().map(|(_, r)| r.clone()).collect();
        released = select_released(&listed, req)?;
        if released.is_empty() {
            return Ok(None);
        }
        let gone: BTreeSet<&str> = released.iter().map(|r| r.id.as_str()).collect();
        let (stay, removed): (Vec<_>, Vec<_>) = existing
            .into_iter()
            .partition(|(_, r)| r.is_live(now) && !gone.contains(r.id.as_str()));
        kept = stay;
        Ok(Some(Change {
            event: release_event(&req.actor, &released, req.reason.as_deref()),
            edits: removals(removed.iter().map(|(_, r)| r)),
        }))
    })?;
    let Some(appended) = appended else {
        return Ok(None);
    };
    record(repo, appended.commit, kept, None)?;
    Ok(Some((appended, released)))
}

/// The reservations a request releases, checked against who holds them.
fn select_released(
    existing: &[Reservation],
    req: &ReleaseRequest,
) -> Result<Vec<Reservation>, CommError> {
    let by_id: HashMap<&str, &Reservation> = existing.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out: Vec<Reservation> = Vec::new();
    if req.all {
        out.extend(existing.iter().filter(|r| r.domain == req.actor).cloned());
    }
    for id in &req.ids {
        let Some(r) = by_id.get(id.as_str()) else {
            return Err(CommError::invalid(
                format!("no reservation `{id}` on comm"),
                "comm-node reservations --all lists them (an expired one may have been pruned)",
            ));
        };
        if r.domain != req.actor && !req.force {
            return Err(CommError::Refused {
                message: format!(
                    "reservation {id} is held by `{}`, not `{}`",
                    r.domain, req.actor
                ),
                hint: format!(
                    "ask {} to release it: comm-node send --to {} \"...\"",
                    r.domain, r.domain
                ),
            });
        }
        if !out.iter().any(|o| o.id == r.id) {
            out.push((*r).clone());
        }
    }
    Ok(out)
}

fn release_event(actor: &str, released: &[Reservation], reason: Option<&str>) -> Event {
    let ids: Vec<&str> = released.iter().map(|r| r.id.as_str()).collect();
    let broken: Vec<&Reservation> = released.iter().filter(|r| r.domain != actor).collect();
    let subject = if broken.is_empty() {
        format!("{actor} released {}", ids.join(", "))
    } else {
        let what: Vec<String> = broken
            .iter()
            .map(|r| format!("{}'s {} ({})", r.domain, r.id, r.globs.join(", ")))
            .collect();
        format!("{actor} broke {}", what.join("; "))
    };
    let mut event = Event::new(RELEASE_KIND, actor, subject);
    let holders: BTreeSet<String> = broken.iter().map(|r| r.domain.clone()).collect();
    event.to = holders.into_iter().collect();
    event.fields.push((ID_FIELD.into(), ids.join(" ")));
    event.body = reason.unwrap_or_default().to_owned();
    event
}

/// Live exclusive reservations of a domain other than `actor` (of anyone
/// when `actor` is `None`) matching `path`, with the glob that matches.
pub fn blocking<'a>(
    live: &'a [Reservation],
    actor: Option<&str>,
    path: &str,
) -> Vec<(&'a Reservation, &'a str)> {
    live.iter()
        .filter(|r| r.mode == Mode::Exclusive && Some(r.domain.as_str()) != actor)
        .filter_map(|r| r.matching_glob(path).map(|g| (r, g)))
        .collect()
}

/// Re-derives a replayed `reserve` event on a new state: refused when it
/// now collides, with its original reservation file otherwise.
pub(super) fn replay_reserve(
    snapshot: &Snapshot,
    event: &Event,
    commit: Oid,
    now: i64,
) -> Result<Option<(Event, Vec<TreeEdit>)>, CommError> {
    let id = event.field(ID_FIELD).unwrap_or_default();
    let original = Snapshot::at(snapshot.repo(), Some(commit))?;
    let path = Reservation::path_of(id);
    let Some(bytes) = original.read(&path)? else {
        return Err(CommError::Corrupt {
            path,
            reason: format!("event {} names a reservation it does not write", event.id),
        });
    };
    let wanted: Reservation = serde_yaml::from_slice(&bytes).map_err(|e| CommError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let existing = all(snapshot)?;
    if existing.iter().any(|r| r.id == wanted.id) {
        return Err(CommError::Refused {
            message: format!("reservation id {} is already taken", wanted.id),
            hint: "reserve again".into(),
        });
    }
    let globs: Vec<PathGlob> = wanted
        .globs
        .iter()
        .filter_map(|g| PathGlob::new(g).ok())
        .collect();
    let conflicts = conflicts(&existing, &wanted.domain, wanted.mode, &globs, now);
    if !conflicts.is_empty() {
        return Err(refusal(&wanted.domain, &conflicts, now));
    }
    let mut edits = removals(existing.iter().filter(|r| !r.is_live(now)));
    edits.push(TreeEdit::Put { path, bytes });
    Ok(Some((event.clone(), edits)))
}

/// Re-derives a replayed `release` on a new state: it removes those of
/// its reservations still there, and is a no-op when none are.
pub(super) fn replay_release(
    snapshot: &Snapshot,
    event: &Event,
) -> Result<Option<(Event, Vec<TreeEdit>)>, CommError> {
    let ids: BTreeSet<&str> = event
        .field(ID_FIELD)
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let existing = all(snapshot)?;
    let edits = removals(existing.iter().filter(|r| ids.contains(r.id.as_str())));
    Ok((!edits.is_empty()).then(|| (event.clone(), edits)))
}

/// Parsed reservations by blob id, under `.git/comm-node/`: one line per
/// reservation, tab-separated (blob, id, domain, mode, created, expires,
/// task, reason, globs..., each escaped), which parses several times faster
/// than JSON.
struct Cache;

impl Cache {
    fn file(repo: &Repo) -> PathBuf {
        repo.state_path("reservations-v3")
    }

    /// Every entry of a cache written for `tree`; `None` when it was
    /// written for another tree or a line is damaged.
    fn current(text: &str, tree: Oid) -> Option<Vec<(Oid, Reservation)>> {
        let (head, body) = text.split_once('\n')?;
        if head.strip_prefix(CACHE_MAGIC)? != tree.to_string() {
            return None;
        }
        body.lines()
            .map(|line| {
                let (blob, rest) = line.split_once('\t')?;
                Some((Oid::from_str(blob).ok()?, Cache::parse_fields(rest)?))
            })
            .collect()
    }

    /// The cache's text; empty when it is missing or unreadable.
    fn read(repo: &Repo) -> String {
        fs::read_to_string(Cache::file(repo)).unwrap_or_default()
    }

    /// The fields of each line by blob id, whatever tree the cache was
    /// written for; lines are parsed only when used.
    fn index(text: &str) -> HashMap<Oid, &str> {
        text.lines()
            .filter_map(|line| {
                let (blob, rest) = line.split_once('\t')?;
                Some((Oid::from_str(blob).ok()?, rest))
            })
            .collect()
    }

    /// A reservation from the fields after the blob id; `None` if malformed.
    fn parse_fields(fields: &str) -> Option<Reservation> {
        let mut f = fields.split('\t');
        let id = unescape(f.next()?);
        let domain = unescape(f.next()?);
        let mode = match f.next()? {
            "exclusive" => Mode::Exclusive,
            "shared" => Mode::Shared,
            _ => return None,
        };
        let created = f.next()?.parse().ok()?;
        let expires = f.next()?.parse().ok()?;
        let optional = |s: &str| (!s.is_empty()).then(|| unescape(s));
        let task = optional(f.next()?);
        let reason = optional(f.next()?);
        let globs: Vec<String> = f.map(unescape).collect();
        if globs.is_empty() {
            return None;
        }
        Some(Reservation {
            id,
            domain,
            globs,
            mode,
            task,
            created,
            expires,
            reason,
        })
    }

    /// The line for one reservation.
    fn line(blob: Oid, r: &Reservation) -> String {
        let mut fields = vec![
            blob.to_string(),
            escape(&r.id).into_owned(),
            escape(&r.domain).into_owned(),
            r.mode.to_string(),
            r.created.to_string(),
            r.expires.to_string(),
            escape(r.task.as_deref().unwrap_or_default()).into_owned(),
            escape(r.reason.as_deref().unwrap_or_default()).into_owned(),
        ];
        fields.extend(r.globs.iter().map(|g| escape(g).into_owned()));
        fields.join("\t")
    }

    /// Writes the cache for `tree`, which holds `entries`.
    fn save(repo: &Repo, tree: Oid, entries: &[(Oid, Reservation)]) -> std::io::Result<()> {
        let path = Cache::file(repo);
        let mut text = format!("{CACHE_MAGIC}{tree}\n");
        for line in entries.iter().map(|(b, r)| Cache::line(*b, r)) {
            text.push_str(&line);
            text.push('\n');
        }
        crate::cachefile::write_atomic(&path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Reservation {
        Reservation {
            id: "R-3f9a1c".into(),
            domain: "api".into(),
            globs: vec!["src/*.py".into(), "{a,b}/**".into()],
            mode: Mode::Shared,
            task: Some("T-7".into()),
            created: 100,
            expires: 7300,
            reason: Some("moving the router".into()),
        }
    }

    #[test]
    fn cache_lines_round_trip() {
        let blob = Oid::from_str("0123456789abcdef0123456789abcdef01234567").unwrap();
        for r in [
            sample(),
            Reservation {
                task: None,
                reason: None,
                mode: Mode::Exclusive,
                ..sample()
            },
        ] {
            let line = Cache::line(blob, &r);
            let index = Cache::index(&line);
            assert_eq!(
                index.get(&blob).and_then(|f| Cache::parse_fields(f)),
                Some(r)
            );
        }
    }

    #[test]
    fn fields_with_tabs_survive_the_cache_and_garbage_is_ignored() {
        let blob = Oid::ZERO_SHA1;
        let r = Reservation {
            globs: vec!["a\tb,c".into()],
            reason: Some("line\nbreak".into()),
            ..sample()
        };
        let line = Cache::line(blob, &r);
        assert!(!line.contains('\n'));
        let index = Cache::index(&line);
        assert_eq!(
            index.get(&blob).and_then(|f| Cache::parse_fields(f)),
            Some(r)
        );
        assert!(Cache::index("garbage\nnot\tan oid").is_empty());
        assert_eq!(Cache::parse_fields("R-1\tapi\tweird\t1\t2\t\t\ta/**"), None);
    }
}
