//! A PostgreSQL database of a test's own on the test server (`OKNO_TEST_PG`, else the local
//! one on 127.0.0.1:5432 as ../shared/TESTING.md starts it), created fresh and dropped when
//! its value is dropped, also when the test panics. Through the `psql` client, so sync and
//! async suites share it and it needs no runtime in `Drop`.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Where test databases are made when `OKNO_TEST_PG` does not say.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct Database {
    admin: String,
    name: String,
}

impl Database {
    /// A fresh, empty database named `<prefix>_<pid>_<n>`: unique across the processes and the
    /// threads of a test run.
    pub fn create(prefix: &str) -> io::Result<Database> {
        let admin = std::env::var("OKNO_TEST_PG").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
        static MADE: AtomicU32 = AtomicU32::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let db = Database { admin, name: format!("{prefix}_{}_{n}", std::process::id()) };
        // A database left by a crashed run of a process with the same id.
        db.admin_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))
            .and_then(|_| db.admin_sql(&format!("CREATE DATABASE {}", db.name)))
            .map_err(|e| {
                io::Error::other(format!(
                    "{e}\nThe tests need a real PostgreSQL (user postgres, trust auth on 127.0.0.1). Start it with:\n  \
                     pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                     (apt-get install postgresql if missing), or point OKNO_TEST_PG at another server."
                ))
            })?;
        Ok(db)
    }

    /// The database's name (for `CREATE DATABASE ... TEMPLATE`, a snapshot to restore).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its connection URL: the admin URL with the database name replaced (its query kept).
    pub fn url(&self) -> String {
        database_url(&self.admin, &self.name)
    }

    /// Runs SQL in the admin database; what it printed, trimmed.
    pub fn admin_sql(&self, sql: &str) -> io::Result<String> {
        psql(&self.admin, sql)
    }

    /// Runs SQL in this database; what it printed, trimmed.
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        psql(&self.url(), sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(e) = self.admin_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Runs `sql` with `psql` against `url`: rows unaligned, tuples only, trimmed.
pub fn psql(url: &str, sql: &str) -> io::Result<String> {
    let out = Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql]).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_name_is_replaced_and_the_options_kept() {
        assert_eq!(database_url("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(database_url("postgres://u@h/postgres?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
        assert_eq!(database_url("postgres://u@h:5432", "t1"), "postgres://u@h:5432/t1");
    }
}
