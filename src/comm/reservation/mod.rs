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
//! so parsed reservations are cached under `.git/comm-node/` ([`cache`]),
//! for the `reservations/` tree they list; `reserve` and `release` journal
//! their change beside it for the tree they commit, so the next command
//! reads no tree.

mod cache;

use std::collections::{BTreeSet, HashMap};

use git2::Oid;
use serde::{Deserialize, Serialize};

use super::{append, limits, Appended, Change, CommError, Event, Snapshot, HUMAN};
use crate::cachefile::escape;
use crate::clock::{format_duration, format_relative, format_timestamp};
use crate::config::Config;
use crate::git::{Repo, TreeEdit};
use crate::pathglob::{heads_compatible, heads_meet, literal_head, PathGlob};
use crate::retry::random_id;
use cache::Raw;

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
    all_where(snapshot, |_| true)
}

/// The reservations whose cache line passes `keep`, ordered by id (only
/// those are parsed whole).
fn all_where(
    snapshot: &Snapshot,
    keep: impl Fn(&Raw) -> bool,
) -> Result<Vec<Reservation>, CommError> {
    let mut out: Vec<Reservation> = cache::with_lines(snapshot, |lines| {
        Ok(lines
            .rows
            .iter()
            .filter(|r| keep(r))
            .map(Raw::reservation)
            .collect())
    })?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
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
    all_where(snapshot, |r| r.is_live(now))
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
    cache::record(repo, made.cache, appended.commit);
    Ok((appended, made.reservation))
}

/// A reservation as it lands on a snapshot.
pub(super) struct Applied {
    pub(super) reservation: Reservation,
    /// Its file, and the removal of the expired ones.
    pub(super) edits: Vec<TreeEdit>,
    /// The same change, as the reservation cache records it.
    cache: cache::Edit,
}

/// A reservation request that passed the checks that do not depend on the
/// state of `comm` (globs, scope, ttl): ready to apply inside any `append`
/// closure, e.g. one that also claims a task in the same commit.
pub struct Checked<'a> {
    req: &'a ReserveRequest,
    globs: Vec<PathGlob>,
    /// Their literal heads, cut once for the thousand held globs.
    heads: Vec<String>,
    /// The domain, escaped as cache lines hold it.
    escaped: String,
}

/// Checks a request against `comm.yaml`. Every glob must lie in what the
/// domain may change (its `scope` and the `shared` files; the human may
/// reserve anything).
pub fn check_request<'a>(
    config: &Config,
    req: &'a ReserveRequest,
) -> Result<Checked<'a>, CommError> {
    let globs = compile_request(config, req)?;
    Ok(Checked {
        heads: globs
            .iter()
            .map(|g| literal_head(g.as_str()).to_owned())
            .collect(),
        globs,
        escaped: escape(&req.domain).into_owned(),
        req,
    })
}

impl Checked<'_> {
    /// Whether the request could collide with `held`: the checks of
    /// [`conflicts`] that need no parsing, so only the reservations that
    /// pass are parsed and checked whole.
    fn may_meet(&self, held: &Raw, now: i64) -> bool {
        held.is_live(now)
            && held.domain != self.escaped
            && (self.req.mode == Mode::Exclusive || held.mode == Mode::Exclusive)
            && held.globs().any(|h| {
                let held = literal_head(&h);
                self.heads.iter().any(|g| heads_meet(g, held))
            })
    }

    /// The reservation and its tree edits on `snapshot` (expired files
    /// pruned on the way), or a refusal when it collides with a live
    /// reservation of another domain where either side is exclusive.
    pub(super) fn apply(&self, snapshot: &Snapshot, now: i64) -> Result<Applied, CommError> {
        let req = self.req;
        if let Some(task) = &req.task {
            super::task::require(snapshot, task)?;
        }
        cache::with_lines(snapshot, |lines| self.apply_on(lines, now))
    }

    /// [`Checked::apply`] on the reservations of `lines`.
    fn apply_on(&self, lines: &cache::Lines, now: i64) -> Result<Applied, CommError> {
        let req = self.req;
        let rows = &lines.rows;
        let near: Vec<Reservation> = rows
            .iter()
            .filter(|r| self.may_meet(r, now))
            .map(|r| r.reservation())
            .collect();
        let conflicts = conflicts(&near, &req.domain, req.mode, &self.globs, now);
        if !conflicts.is_empty() {
            return Err(refusal(&req.domain, &conflicts, now));
        }
        let mut id = random_id("R-", ID_CHARS);
        while rows.iter().any(|r| r.id == id) {
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
        let expired: Vec<Reservation> = rows
            .iter()
            .filter(|r| !r.is_live(now))
            .map(|r| r.reservation())
            .collect();
        let mut edits = removals(expired.iter());
        let bytes = reservation.to_yaml();
        let mut cache = cache::Edit::of(lines, |r| !r.is_live(now));
        cache.add(crate::git::blob_id(&bytes)?, &reservation);
        edits.push(TreeEdit::Put {
            path: reservation.path(),
            bytes,
        });
        Ok(Applied {
            reservation,
            edits,
            cache,
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
    let mut recorded = None;
    let appended = append(repo, |snapshot| {
        cache::with_lines(snapshot, |lines| {
            let existing: Vec<Reservation> = lines.rows.iter().map(Raw::reservation).collect();
            released = select_released(&existing, req)?;
            if released.is_empty() {
                return Ok(None);
            }
            // Cache lines hold ids escaped.
            let gone: BTreeSet<String> = released.iter().map(|r| escape(&r.id).into()).collect();
            recorded = Some(cache::Edit::of(lines, |r| {
                !r.is_live(now) || gone.contains(r.id)
            }));
            let edits = removals(
                existing
                    .iter()
                    .filter(|r| !r.is_live(now) || gone.contains(escape(&r.id).as_ref())),
            );
            Ok(Some(Change {
                event: release_event(&req.actor, &released, req.reason.as_deref()),
                edits,
            }))
        })
    })?;
    let (Some(appended), Some(edit)) = (appended, recorded) else {
        return Ok(None);
    };
    cache::record(repo, edit, appended.commit);
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
