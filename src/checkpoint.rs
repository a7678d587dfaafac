//! The input's memory between runs: one SQLite file per input under `checkpoint_dir`, holding
//! the high-water mark of discovery and the state of every (interview, trigger) job.
//!
//! A job's state changes only after the event it covers has been written and flushed, so a
//! process killed at any point repeats at most the events written since the last commit and
//! never loses one.

use std::fs::File;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::policy::History;
use crate::score::Trigger;

/// Characters of an input name kept as they are in its file name.
const FILE_NAME: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The longest file-name stem: a component may hold 255 bytes (ext4) or UTF-16 units (NTFS), and
/// the longest name made from the stem is `<stem>.sqlite.damaged-<epoch>-wal`.
const MAX_STEM: usize = 200;

/// The file-name stem of an input's checkpoint: the input's name percent-encoded, so that any
/// stanza name is a legal file name on Linux and on Windows (`:`, `\`, `*`, … become `%XX`).
/// NTFS still refuses or confuses three kinds of names, which get a lower-case stem followed by
/// `~` and a hash of the whole name: the reserved device names (`CON`, `NUL`, `COM1`… alone or
/// before a dot, whatever the case [doc
/// https://learn.microsoft.com/windows/win32/fileio/naming-a-file]), names that differ only by
/// case (NTFS does not tell `Prod` from `prod`), and names too long for a component. The rule is
/// the same on every platform, so a name maps to one file everywhere.
fn stem(name: &str) -> String {
    let encoded = utf8_percent_encode(name, FILE_NAME).to_string();
    let device = encoded
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let reserved = matches!(device.as_str(), "con" | "prn" | "aux" | "nul")
        || (device.len() == 4
            && (device.starts_with("com") || device.starts_with("lpt"))
            && device.ends_with(|c: char| c.is_ascii_digit()));
    // The encoding's own hex digits are upper case; only the name's letters can collide.
    if !reserved && encoded.len() <= MAX_STEM && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return encoded;
    }
    // No dot: Windows reads the part before the first dot as the device name (`nul.tar`).
    let mut short = encoded.to_ascii_lowercase().replace('.', "%2e");
    short.truncate(MAX_STEM - 17); // ASCII only: any cut is a character boundary
    format!("{short}~{:016x}", fnv1a(name.as_bytes()))
}

/// Opens and locks an input's lock file: `Busy` when another run holds it.
fn lock(
    path: &Path,
    error: impl Fn(std::io::Error) -> CheckpointError,
) -> Result<File, CheckpointError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(&error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CheckpointError::Busy(path.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(error(e)),
    }
}

/// Takes over the checkpoint that version 0.1.0 (Linux only) kept under the name's percent-encoding
/// alone (`Prod.sqlite`, `CON.sqlite`), when [`stem`] now names it otherwise and no checkpoint
/// exists under the new name: without it, an upgrade would enrich the backfill window again.
fn adopt_legacy(dir: &Path, name: &str, path: &Path) -> Result<(), CheckpointError> {
    let legacy = utf8_percent_encode(name, FILE_NAME).to_string();
    let old = dir.join(format!("{legacy}.sqlite"));
    if old == path || path.exists() || !old.is_file() {
        return Ok(());
    }
    let error = |source| CheckpointError::Open {
        path: old.clone(),
        source,
    };
    // A run of the old version still going holds this lock.
    let lock_path = dir.join(format!("{legacy}.lock"));
    let held = lock(&lock_path, error)?;
    for suffix in ["-wal", "-shm", ""] {
        let from = PathBuf::from(format!("{}{suffix}", old.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{suffix}", path.display())).map_err(error)?;
        }
    }
    drop(held);
    let _ = std::fs::remove_file(&lock_path);
    log::info!(
        "event=checkpoint_renamed the checkpoint {} is now {}: names with capitals, device names \
         or over 200 bytes get a file name that is the same on Linux and Windows",
        old.display(),
        path.display()
    );
    Ok(())
}

/// FNV-1a, 64 bits: a hash whose values never change between releases (std's `DefaultHasher`
/// may), since a checkpoint's file name must stay the same.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The schema, one script per version; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: high-water mark and jobs.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
     CREATE TABLE jobs (
         interview_id TEXT NOT NULL,
         trigger TEXT NOT NULL,
         -- 'pending', 'done' or 'given_up'. No CHECK constraint: it would make SQLite open a
         -- statement journal for every UPDATE, which costs more than the update itself.
         state TEXT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         first_failure_at INTEGER,
         next_attempt_at INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         trigger_time_ms INTEGER NOT NULL,
         client_id TEXT,
         flow_id TEXT,
         external_customer_id TEXT,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (interview_id, trigger)
     ) WITHOUT ROWID;
     CREATE INDEX jobs_due ON jobs (state, next_attempt_at);",
];

/// What went wrong with the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The folder or file cannot be created or opened.
    #[error(
        "cannot open the checkpoint {path} ({source}); check that the folder exists and the user \
         Splunk runs as may write to it"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another run of the same input holds the lock.
    #[error("another run of this input is still going (it holds {0})")]
    Busy(PathBuf),
    /// The file was written by a newer TA-incode.
    #[error(
        "the checkpoint {path} has schema version {found}, newer than this TA-incode knows \
         ({known}); upgrade the add-on, or move the file away to start over"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this code knows.
        known: i64,
    },
    /// The file is not a database SQLite can read (damaged, truncated, not a file).
    #[error("the checkpoint {path} cannot be read ({detail})")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// The file exists but cannot be opened (permissions, or not a file).
    #[error(
        "the checkpoint {path} cannot be opened ({detail}): check that it is a file the user \
         Splunk runs as may read and write (a run by hand as another user leaves files it \
         cannot use); this run did nothing and the next one tries again"
    )]
    Unopenable {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// Another program holds an SQLite lock on the file.
    #[error(
        "the checkpoint {path} is locked by another program ({detail}): close whatever has it \
         open (an sqlite3 shell, a backup tool); this run did nothing and the next one tries again"
    )]
    Locked {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// The disk is full.
    #[error(
        "the disk holding the checkpoint {path} is full ({detail}): free some space; the events \
         written since the last commit are written again by the next run"
    )]
    Full {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// Any other SQLite error.
    #[error("the checkpoint {path} failed: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
}

impl CheckpointError {
    /// Sorts an SQLite error on `path` into what an administrator can act on.
    fn sqlite(path: &Path, source: rusqlite::Error) -> CheckpointError {
        use rusqlite::ErrorCode::{
            CannotOpen, DatabaseBusy, DatabaseCorrupt, DatabaseLocked, DiskFull, NotADatabase,
        };
        let path = path.to_path_buf();
        let detail = source.to_string();
        match source.sqlite_error_code() {
            Some(DatabaseCorrupt | NotADatabase) => CheckpointError::Damaged { path, detail },
            Some(CannotOpen) => CheckpointError::Unopenable { path, detail },
            Some(DatabaseBusy | DatabaseLocked) => CheckpointError::Locked { path, detail },
            Some(DiskFull) => CheckpointError::Full { path, detail },
            _ => CheckpointError::Sqlite { path, source },
        }
    }
}

/// A job due in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The webhook event that asked for the score.
    pub trigger: Trigger,
    /// Its failures so far.
    pub history: History,
}

/// An open checkpoint, locked for this process.
pub struct Checkpoint {
    conn: Connection,
    path: PathBuf,
    _lock: File,
}

impl Checkpoint {
    /// Opens (creating if needed) the checkpoint of input `name` in `dir`, and locks it against
    /// another run of the same input. A file SQLite cannot read is moved aside (kept for
    /// inspection, never deleted) with a WARN line, and a new checkpoint starts: the pass then
    /// begins again from the backfill window.
    pub fn open(dir: &Path, name: &str) -> Result<Checkpoint, CheckpointError> {
        let stem = stem(name);
        let path = dir.join(format!("{stem}.sqlite"));
        let open_error = |source| CheckpointError::Open {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(open_error)?;
        let lock = lock(&dir.join(format!("{stem}.lock")), open_error)?;
        if cfg!(unix) {
            adopt_legacy(dir, name, &path)?;
        }
        let conn = match Checkpoint::connect(&path) {
            Err(CheckpointError::Damaged { path, detail }) => {
                let aside = move_aside(&path).map_err(open_error)?;
                log::warn!(
                    "event=checkpoint_reset the checkpoint {} cannot be read ({detail}); it was \
                     moved to {} for inspection, and this run starts a new one from the backfill \
                     window (backfill_hours): sessions finished in that window are enriched again",
                    path.display(),
                    aside.display()
                );
                Checkpoint::connect(&path)?
            }
            other => other?,
        };
        Ok(Checkpoint {
            conn,
            path,
            _lock: lock,
        })
    }

    /// Opens the database and brings its schema up to date.
    fn connect(path: &Path) -> Result<Connection, CheckpointError> {
        let sql = |e| CheckpointError::sqlite(path, e);
        let mut conn = Connection::open(path).map_err(sql)?;
        // Another program holding the file (a backup, an sqlite3 shell) gets a moment to let go.
        conn.busy_timeout(std::time::Duration::from_secs(2))
            .map_err(sql)?;
        migrate(&mut conn, path)?;
        // A damaged page would otherwise surface only when a query reaches it, mid-pass.
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(sql)?;
        if check != "ok" {
            return Err(CheckpointError::Damaged {
                path: path.to_path_buf(),
                detail: format!("quick_check: {check}"),
            });
        }
        Ok(conn)
    }

    fn sql(&self, source: rusqlite::Error) -> CheckpointError {
        CheckpointError::sqlite(&self.path, source)
    }

    /// The index time up to which discovery has searched, if it ever has.
    pub fn high_water_mark(&self) -> Result<Option<i64>, CheckpointError> {
        self.meta("high_water_mark")
    }

    /// Until when (epoch seconds) Incode asked this input to send nothing, if it did.
    pub fn throttled_until(&self) -> Result<Option<i64>, CheckpointError> {
        self.meta("throttled_until")
    }

    /// Records Incode's request to send nothing until `until` (epoch seconds).
    pub fn set_throttled_until(&self, until: i64) -> Result<(), CheckpointError> {
        self.set_meta("throttled_until", until)
    }

    /// How much index time (seconds) one discovery search covered last, if one ever did.
    pub fn discovery_span(&self) -> Result<Option<i64>, CheckpointError> {
        self.meta("discovery_span")
    }

    /// Records how much index time one discovery search covers.
    pub fn set_discovery_span(&self, seconds: i64) -> Result<(), CheckpointError> {
        self.set_meta("discovery_span", seconds)
    }

    fn set_meta(&self, key: &str, value: i64) -> Result<(), CheckpointError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    fn meta(&self, key: &str) -> Result<Option<i64>, CheckpointError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Starts recording one discovery; nothing of it is kept unless [`Discovery::finish`] runs.
    pub fn discovery(&mut self) -> Result<Discovery<'_>, CheckpointError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| CheckpointError::sqlite(&path, e))?;
        Ok(Discovery {
            tx,
            path,
            new_jobs: 0,
        })
    }

    /// Jobs due at `now` (epoch seconds), oldest trigger first, at most `limit`.
    pub fn due_jobs(&self, now: i64, limit: usize) -> Result<Vec<Job>, CheckpointError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT interview_id, trigger, trigger_time_ms, client_id, flow_id,
                        external_customer_id, attempts, first_failure_at
                 FROM jobs WHERE state = 'pending' AND next_attempt_at <= ?1
                 ORDER BY trigger_time_ms, interview_id, trigger LIMIT ?2",
            )
            .map_err(|e| self.sql(e))?;
        let rows = statement
            .query_map(params![now, limit as i64], |r| {
                Ok(Job {
                    trigger: Trigger {
                        interview_id: r.get(0)?,
                        status: r.get(1)?,
                        time_ms: r.get(2)?,
                        client_id: r.get(3)?,
                        flow_id: r.get(4)?,
                        external_customer_id: r.get(5)?,
                    },
                    history: History {
                        attempts: r.get(6)?,
                        first_failure_at: r.get(7)?,
                    },
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Opens a transaction for the job updates that follow (see [`Checkpoint::commit`]).
    pub fn begin(&self) -> Result<(), CheckpointError> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.sql(e))
    }

    /// Commits the job updates since [`Checkpoint::begin`].
    pub fn commit(&self) -> Result<(), CheckpointError> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.sql(e))
    }

    /// Records that the job's score event was written.
    pub fn mark_done(&self, trigger: &Trigger, now: i64) -> Result<(), CheckpointError> {
        self.set_state(trigger, "done", None, now)
    }

    /// Records that the job was given up (its error event was written).
    pub fn mark_given_up(
        &self,
        trigger: &Trigger,
        error: &str,
        now: i64,
    ) -> Result<(), CheckpointError> {
        self.set_state(trigger, "given_up", Some(error), now)
    }

    /// Records that the job is tried again from `next_attempt_at` (epoch seconds), with the
    /// failures `history` the retry policy gave it.
    pub fn retry(
        &self,
        job: &Job,
        history: History,
        error: &str,
        next_attempt_at: i64,
        now: i64,
    ) -> Result<(), CheckpointError> {
        self.conn
            .prepare_cached(
                "UPDATE jobs SET attempts = ?3, first_failure_at = ?4, next_attempt_at = ?5,
                        last_error = ?6, updated_at = ?7
                 WHERE interview_id = ?1 AND trigger = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    job.trigger.interview_id,
                    job.trigger.status,
                    history.attempts,
                    history.first_failure_at,
                    next_attempt_at,
                    error,
                    now
                ])
            })
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    fn set_state(
        &self,
        trigger: &Trigger,
        state: &str,
        error: Option<&str>,
        now: i64,
    ) -> Result<(), CheckpointError> {
        // Prepared once: this runs after every event written.
        self.conn
            .prepare_cached(
                "UPDATE jobs SET state = ?3, last_error = coalesce(?4, last_error), updated_at = ?5
                 WHERE interview_id = ?1 AND trigger = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    trigger.interview_id,
                    trigger.status,
                    state,
                    error,
                    now
                ])
            })
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    /// Forgets finished jobs last touched before `before` (epoch seconds); returns how many.
    pub fn prune(&self, before: i64) -> Result<usize, CheckpointError> {
        self.conn
            .execute(
                "DELETE FROM jobs WHERE state IN ('done', 'given_up') AND updated_at < ?1",
                params![before],
            )
            .map_err(|e| self.sql(e))
    }

    /// The number of jobs still pending (the backlog).
    pub fn pending(&self) -> Result<u64, CheckpointError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM jobs WHERE state = 'pending'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }
}

/// Sets the connection up and applies the migrations the file has not seen yet.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), CheckpointError> {
    let sql = |e| CheckpointError::sqlite(path, e);
    // WAL: a commit appends to the log without an fsync of the database, so committing a batch
    // of written events stays cheap; NORMAL still survives a process kill. EXCLUSIVE
    // locking: this process already holds the input's lock file, and SQLite then keeps its
    // page cache and WAL index in memory across transactions.
    conn.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL;",
    )
    .map_err(sql)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(CheckpointError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, script) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(script).map_err(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

/// Renames a damaged checkpoint (and its WAL files) to `<name>.damaged-<epoch seconds>`.
fn move_aside(path: &Path) -> std::io::Result<PathBuf> {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = PathBuf::from(format!("{}.damaged-{epoch}", path.display()));
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let companion = PathBuf::from(format!("{}{suffix}", path.display()));
        if companion.exists() {
            std::fs::rename(&companion, format!("{}{suffix}", aside.display()))?;
        }
    }
    Ok(aside)
}

/// One discovery in progress: jobs found so far, committed together with the new high-water
/// mark, or not at all.
pub struct Discovery<'a> {
    tx: Transaction<'a>,
    path: PathBuf,
    new_jobs: u64,
}

impl Discovery<'_> {
    /// Records a trigger; one already known (in any state) is not added again, so overlapping
    /// windows and Incode's repeated webhooks cause no second fetch. A pending job keeps the
    /// earliest time among the copies found, whatever order the search returns them in: the
    /// original webhook's, not a retry's.
    pub fn add(&mut self, trigger: &Trigger, now: i64) -> Result<(), CheckpointError> {
        let sql = |e| CheckpointError::sqlite(&self.path, e);
        let inserted = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO jobs (interview_id, trigger, state, trigger_time_ms,
                        client_id, flow_id, external_customer_id, updated_at)
                 VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    trigger.interview_id,
                    trigger.status,
                    trigger.time_ms,
                    trigger.client_id,
                    trigger.flow_id,
                    trigger.external_customer_id,
                    now
                ])
            })
            .map_err(sql)?;
        if inserted == 0 {
            self.tx
                .prepare_cached(
                    "UPDATE jobs SET trigger_time_ms = ?3
                     WHERE interview_id = ?1 AND trigger = ?2 AND state = 'pending'
                       AND trigger_time_ms > ?3",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        trigger.interview_id,
                        trigger.status,
                        trigger.time_ms
                    ])
                })
                .map_err(sql)?;
        }
        self.new_jobs += inserted as u64;
        Ok(())
    }

    /// Commits the jobs found and, when given, a new high-water mark (the mark never moves
    /// back); returns how many jobs were new.
    pub fn finish(self, high_water_mark: Option<i64>) -> Result<u64, CheckpointError> {
        let path = &self.path;
        let sql = |e| CheckpointError::sqlite(path, e);
        if let Some(mark) = high_water_mark {
            self.tx
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('high_water_mark', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                    params![mark],
                )
                .map_err(&sql)?;
        }
        self.tx.commit().map_err(sql)?;
        Ok(self.new_jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ta-incode-cp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn trigger(id: &str, status: &str, time_ms: i64) -> Trigger {
        Trigger {
            interview_id: id.into(),
            status: status.into(),
            time_ms,
            client_id: Some("c".into()),
            flow_id: None,
            external_customer_id: None,
        }
    }

    #[test]
    fn discovery_is_all_or_nothing_and_deduplicated() {
        let d = dir("discovery");
        let mut cp = Checkpoint::open(&d, "prod").unwrap();
        assert_eq!(cp.high_water_mark().unwrap(), None);
        {
            let mut disc = cp.discovery().unwrap();
            disc.add(&trigger("a", "ONBOARDING_FINISHED", 2), 100)
                .unwrap();
            // dropped without finish: rolled back
        }
        assert!(cp.due_jobs(100, 10).unwrap().is_empty());
        let mut disc = cp.discovery().unwrap();
        disc.add(&trigger("b", "ONBOARDING_FINISHED", 2), 100)
            .unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 1), 100)
            .unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 5), 100)
            .unwrap();
        disc.add(&trigger("a", "MANUAL_REVIEW_APPROVED", 9), 100)
            .unwrap();
        assert_eq!(disc.finish(Some(1_000)).unwrap(), 3);
        assert_eq!(cp.high_water_mark().unwrap(), Some(1_000));
        let due: Vec<_> = cp
            .due_jobs(100, 10)
            .unwrap()
            .into_iter()
            .map(|j| (j.trigger.interview_id, j.trigger.status, j.trigger.time_ms))
            .collect();
        assert_eq!(
            due,
            [
                ("a".into(), "ONBOARDING_FINISHED".into(), 1),
                ("b".into(), "ONBOARDING_FINISHED".into(), 2),
                ("a".into(), "MANUAL_REVIEW_APPROVED".into(), 9)
            ]
        );
        assert_eq!(cp.due_jobs(100, 2).unwrap().len(), 2);

        cp.mark_done(&trigger("a", "ONBOARDING_FINISHED", 1), 200)
            .unwrap();
        let mut disc = cp.discovery().unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 1), 300)
            .unwrap();
        assert_eq!(
            disc.finish(Some(2_000)).unwrap(),
            0,
            "a finished job is not found again"
        );
        assert_eq!(cp.pending().unwrap(), 2);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn retries_wait_and_keep_their_history() {
        let d = dir("failures");
        let mut cp = Checkpoint::open(&d, "prod").unwrap();
        let mut disc = cp.discovery().unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 1), 100)
            .unwrap();
        disc.finish(Some(1)).unwrap();
        let job = cp.due_jobs(100, 10).unwrap().remove(0);
        assert_eq!(job.history, History::default());
        let history = History {
            attempts: 1,
            first_failure_at: Some(100),
        };
        cp.retry(&job, history, "HTTP 404", 400, 100).unwrap();
        assert!(cp.due_jobs(399, 10).unwrap().is_empty());
        let job = cp.due_jobs(400, 10).unwrap().remove(0);
        assert_eq!(job.history, history);
        cp.mark_given_up(&job.trigger, "gave up", 900).unwrap();
        assert!(cp.due_jobs(i64::MAX, 10).unwrap().is_empty());
        assert_eq!(cp.prune(901).unwrap(), 1);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_pending_job_keeps_the_earliest_copy_of_its_webhook() {
        let d = dir("earliest");
        let mut cp = Checkpoint::open(&d, "prod").unwrap();
        let mut disc = cp.discovery().unwrap();
        // Newest first, as splunkd streams events.
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 9_000), 100)
            .unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 5_000), 100)
            .unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 7_000), 100)
            .unwrap();
        assert_eq!(disc.finish(None).unwrap(), 1);
        let job = cp.due_jobs(100, 10).unwrap().remove(0);
        assert_eq!(job.trigger.time_ms, 5_000);
        cp.mark_done(&job.trigger, 100).unwrap();
        let mut disc = cp.discovery().unwrap();
        disc.add(&trigger("a", "ONBOARDING_FINISHED", 1_000), 200)
            .unwrap();
        assert_eq!(
            disc.finish(None).unwrap(),
            0,
            "a finished job stays as it was"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn one_run_at_a_time_and_state_survives_reopening() {
        let d = dir("lock");
        let mut cp = Checkpoint::open(&d, "my input/1").unwrap();
        assert!(matches!(
            Checkpoint::open(&d, "my input/1"),
            Err(CheckpointError::Busy(_))
        ));
        let other = Checkpoint::open(&d, "other").unwrap();
        drop(other);
        cp.discovery().unwrap().finish(Some(42)).unwrap();
        drop(cp);
        let cp = Checkpoint::open(&d, "my input/1").unwrap();
        assert_eq!(cp.high_water_mark().unwrap(), Some(42));
        assert!(d.join("my%20input%2F1.sqlite").is_file());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_checkpoint_named_by_version_0_1_0_is_taken_over_not_started_again() {
        // 0.1.0 (Linux only) named the file by percent-encoding alone, so `Prod`'s checkpoint was
        // `Prod.sqlite`: an upgrade must carry on from it, or the backfill window is enriched
        // (and indexed) twice.
        let d = dir("legacy");
        let mut cp = Checkpoint::open(&d, "prod").unwrap();
        cp.discovery().unwrap().finish(Some(42)).unwrap();
        drop(cp);
        for (from, to) in [("prod.sqlite", "Prod.sqlite"), ("prod.lock", "Prod.lock")] {
            std::fs::rename(d.join(from), d.join(to)).unwrap();
        }
        let cp = Checkpoint::open(&d, "Prod").unwrap();
        assert_eq!(cp.high_water_mark().unwrap(), Some(42));
        drop(cp);
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                format!("{}.lock", stem("Prod")),
                format!("{}.sqlite", stem("Prod"))
            ]
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn every_input_name_is_a_file_name_legal_on_linux_and_ntfs() {
        assert_eq!(stem("prod"), "prod");
        assert_eq!(stem("my input/1"), "my%20input%2F1");
        assert_eq!(
            stem("a:b|c<d>e\"f?g*h\\i"),
            "a%3Ab%7Cc%3Cd%3Ee%22f%3Fg%2Ah%5Ci"
        );
        // Reserved device names, alone or before a dot, in any case.
        for reserved in [
            "con",
            "CON",
            "nul",
            "Aux",
            "prn",
            "com1",
            "LPT9",
            "nul.tar.gz",
        ] {
            let s = stem(reserved);
            assert!(s.contains('~') && !s.contains('.'), "{reserved}: {s}");
        }
        for fine in ["console", "com", "com10", "lpt", "nully"] {
            assert_eq!(stem(fine), fine);
        }
        // Names that NTFS would confuse by case map to different files.
        let (upper, lower, mixed) = (stem("PROD"), stem("prod"), stem("Prod"));
        assert!(upper != lower && upper != mixed && mixed != lower);
        assert!(!upper.bytes().any(|b| b.is_ascii_uppercase()), "{upper}");
        assert_eq!(
            stem("Café"),
            format!("caf%c3%a9~{:016x}", fnv1a("Café".as_bytes()))
        );
        // Long names stay within a component's limit and stay distinct.
        let (a, b) = (
            stem(&"x".repeat(1000)),
            stem(&format!("{}y", "x".repeat(999))),
        );
        assert!(
            a.len() <= MAX_STEM && b.len() <= MAX_STEM && a != b,
            "{a} {b}"
        );
        let unicode = stem(&"é".repeat(100));
        assert!(unicode.len() <= MAX_STEM && unicode.is_ascii(), "{unicode}");
        // The hash is fixed: a stem must not change between releases.
        assert_eq!(stem("CON"), format!("con~{:016x}", fnv1a(b"CON")));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_a_new_checkpoint_starts() {
        let d = dir("damaged");
        std::fs::create_dir_all(&d).unwrap();
        let garbage = b"this is not an SQLite database, it is ".repeat(200);
        std::fs::write(d.join("prod.sqlite"), &garbage).unwrap();
        let cp = Checkpoint::open(&d, "prod").unwrap();
        assert_eq!(
            cp.high_water_mark().unwrap(),
            None,
            "a new, empty checkpoint"
        );
        let aside: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("prod.sqlite.damaged-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage, "kept as it was");
        drop(cp);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_checkpoint_that_cannot_be_opened_is_left_alone_with_an_error() {
        // Not damaged, just not usable by this user: moving it aside would re-enrich the whole
        // backfill window for nothing.
        let d = dir("notafile");
        std::fs::create_dir_all(d.join("prod.sqlite")).unwrap();
        let error = Checkpoint::open(&d, "prod")
            .err()
            .expect("cannot be opened");
        assert!(
            matches!(error, CheckpointError::Unopenable { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("may read and write"), "{error}");
        assert!(d.join("prod.sqlite").is_dir(), "left where it was");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        let d = dir("full");
        let mut cp = Checkpoint::open(&d, "prod").unwrap();
        // SQLite answers SQLITE_FULL when the file may not grow: a disk that is full.
        let pages: i64 = cp
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        cp.conn
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        let mut disc = cp.discovery().unwrap();
        let error = (0..5000)
            .find_map(|i| {
                disc.add(
                    &trigger(&format!("interview-{i:06}"), "ONBOARDING_FINISHED", i),
                    1,
                )
                .err()
            })
            .or_else(|| disc.finish(Some(1)).err())
            .expect("the file cannot grow");
        assert!(matches!(error, CheckpointError::Full { .. }), "{error:?}");
        assert!(
            error.to_string().contains("is full") && error.to_string().contains("free some space"),
            "{error}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_file_locked_by_another_program_is_named_as_such() {
        let d = dir("locked");
        drop(Checkpoint::open(&d, "prod").unwrap());
        let other = Connection::open(d.join("prod.sqlite")).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let error = Checkpoint::open(&d, "prod").err().expect("locked");
        assert!(matches!(error, CheckpointError::Locked { .. }), "{error:?}");
        assert!(
            error.to_string().contains("locked by another program"),
            "{error}"
        );
        drop(other);
        assert!(
            Checkpoint::open(&d, "prod").is_ok(),
            "usable again once released"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let d = dir("newer");
        drop(Checkpoint::open(&d, "prod").unwrap());
        let conn = Connection::open(d.join("prod.sqlite")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            Checkpoint::open(&d, "prod"),
            Err(CheckpointError::TooNew { found: 99, .. })
        ));
        std::fs::remove_dir_all(d).unwrap();
    }
}
