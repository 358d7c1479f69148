//! The acceptance list of docs (shared/design/migrations.md items 1-11), run with the real
//! `kryton` binary as OS processes against real PostgreSQL and SQLite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestEnv, finish};

const TABLE_T: &str = "-- kryton:compat=expand\nCREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n";

fn numbered(env: &mut TestEnv, count: usize) {
    for i in 1..=count {
        env.write_migration(
            &format!("{i:04}_table_{i}.sql"),
            &format!("-- kryton:compat=expand\nCREATE TABLE table_{i} (id INTEGER PRIMARY KEY);\n"),
        );
    }
}

/// Item 1: Fresh database: everything applied in order; a re-run applies nothing and changes nothing.
async fn fresh_then_rerun(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    numbered(&mut env, 3);
    env.run(&["migrate"]).await.assert_code(0);
    let ledger = env.ledger().await;
    assert_eq!(ledger.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    for i in 1..=3 {
        assert!(env.table_exists(&format!("table_{i}")).await);
    }
    let rerun = env.run(&["migrate"]).await;
    rerun.assert_code(0);
    assert!(rerun.stderr().contains("up to date"), "{}", rerun.stderr());
    assert_eq!(env.ledger().await, ledger, "a re-run must not touch the ledger");
}
both_backends!(fresh_then_rerun);

/// The embedded migrations apply on an empty database and a second boot is a no-op.
async fn embedded_migrations_apply(backend: Backend) {
    let env = TestEnv::new(backend).await;
    env.run(&["migrate"]).await.assert_code(0);
    let first = env.ledger().await;
    assert!(!first.is_empty());
    env.run(&["migrate"]).await.assert_code(0);
    assert_eq!(env.ledger().await, first);
    assert!(env.table_exists("kryton_meta").await);
}
both_backends!(embedded_migrations_apply);

/// Item 2: Many processes boot at once on an empty database with a migration that fails if run twice.
async fn concurrent_boots_apply_once(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_t.sql", TABLE_T);
    let seed = match backend {
        Backend::Postgres => {
            "-- kryton:compat=expand\nCREATE TYPE mood AS ENUM ('calm');\nSELECT pg_sleep(0.3);\n\
             INSERT INTO t (id, v) VALUES (1, 'once');\n"
        }
        Backend::Sqlite => "-- kryton:compat=expand\nINSERT INTO t (id, v) VALUES (1, 'once');\n",
    };
    env.write_migration("0002_seed.sql", seed);
    let processes = if backend == Backend::Postgres { 16 } else { 8 };
    let children: Vec<_> = (0..processes).map(|_| env.spawn(&["migrate"])).collect();
    for child in children {
        finish(child).await.assert_code(0);
    }
    assert_eq!(env.ledger_versions().await, vec![1, 2]);
    assert_eq!(env.scalar("SELECT count(*) FROM t").await, 1);
}
both_backends!(concurrent_boots_apply_once);

/// Item 3: Migration k of n fails: earlier ones stay, k leaves nothing, later ones never run, the lock
/// is released and a re-run fails again at once instead of blocking.
async fn failing_migration_rolls_back(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    numbered(&mut env, 2);
    env.write_migration(
        "0003_broken.sql",
        "-- kryton:compat=expand\nCREATE TABLE half (id INTEGER);\nTHIS IS NOT SQL;\n",
    );
    env.write_migration(
        "0004_after.sql",
        "-- kryton:compat=expand\nCREATE TABLE after_broken (id INTEGER);\n",
    );
    let run = env.run(&["migrate"]).await;
    run.assert_code(10);
    assert!(run.stderr().contains("0003_broken.sql"), "{}", run.stderr());
    assert_eq!(env.ledger_versions().await, vec![1, 2]);
    assert!(
        !env.table_exists("half").await,
        "the failed migration must leave no objects"
    );
    assert!(!env.table_exists("after_broken").await);
    if backend == Backend::Postgres {
        let locks = env
            .scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            .await;
        assert_eq!(locks, 0, "no advisory lock may outlive the process");
    }
    let started = Instant::now();
    env.run(&["migrate"]).await.assert_code(10);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the re-run must not wait for a stale lock"
    );
}
both_backends!(failing_migration_rolls_back);

/// Item 4: `kill -9` in the middle of a long transactional migration: nothing of it remains, and the
/// next boot applies it with no manual step.
async fn kill_nine_mid_migration(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_t.sql", TABLE_T);
    env.run(&["migrate"]).await.assert_code(0);
    let slow = match backend {
        Backend::Postgres => "-- kryton:compat=expand\nCREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(3);\n",
        Backend::Sqlite => {
            "-- kryton:compat=expand\nCREATE TABLE slow (id INTEGER);\n\
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             INSERT INTO slow SELECT x FROM c;\n"
        }
    };
    env.write_migration("0002_slow.sql", slow);
    let mut child = env.spawn(&["migrate"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the slow migration finished too early for this test"
    );
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert_eq!(env.ledger_versions().await, vec![1]);
    assert!(
        !env.table_exists("slow").await,
        "a killed migration must leave nothing behind"
    );
    env.run(&["migrate"]).await.assert_code(0);
    assert_eq!(env.ledger_versions().await, vec![1, 2]);
    assert!(env.table_exists("slow").await);
}
both_backends!(kill_nine_mid_migration);

/// Item 5: `CREATE INDEX CONCURRENTLY` while other processes wait for the lock: no deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_index_build_does_not_deadlock_waiters() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    env.write_migration(
        "0001_t.sql",
        "-- kryton:compat=expand\nCREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n\
         INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 300000) g;\n",
    );
    env.write_migration(
        "0002_index.sql",
        "-- kryton:compat=expand\n-- kryton:no-transaction\nCREATE INDEX CONCURRENTLY t_v ON t (v);\n\
         -- kryton:statement\nCREATE INDEX CONCURRENTLY t_v_id ON t (v, id);\n",
    );
    env.set_env("MIGRATION_LOCK_WAIT", "90s");
    let children: Vec<_> = (0..6).map(|_| env.spawn(&["migrate"])).collect();
    for child in children {
        finish(child).await.assert_code(0);
    }
    assert_eq!(env.ledger_versions().await, vec![1, 2]);
    let valid = env
        .scalar("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('t_v', 't_v_id') AND i.indisvalid")
        .await;
    assert_eq!(valid, 2);
}

/// An interrupted no-transaction migration stops every boot until an operator resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_no_transaction_migration_needs_resolve() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    env.write_migration("0001_t.sql", TABLE_T);
    env.write_migration(
        "0002_index.sql",
        "-- kryton:compat=expand\n-- kryton:no-transaction\nCREATE INDEX CONCURRENTLY t_v ON t (v);\n\
         -- kryton:statement\nCREATE INDEX CONCURRENTLY t_w ON t (no_such_column);\n",
    );
    let run = env.run(&["migrate"]).await;
    run.assert_code(14);
    assert!(run.stderr().contains("migrate resolve 2"), "{}", run.stderr());
    let again = env.run(&["migrate"]).await;
    again.assert_code(14);
    assert!(again.stderr().contains("interrupted"), "{}", again.stderr());
    let status = env.run(&["migrate", "status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(json["running"], serde_json::json!([2]));
    // The operator fixes the file (a new binary would ship the fix) and undoes the half-done work.
    env.write_migration(
        "0002_index.sql",
        "-- kryton:compat=expand\n-- kryton:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);\n",
    );
    env.run(&["migrate", "resolve", "2", "--rolled-back"])
        .await
        .assert_code(0);
    env.run(&["migrate"]).await.assert_code(0);
    assert_eq!(env.ledger_versions().await, vec![1, 2]);
    env.run(&["migrate", "resolve", "2", "--applied"]).await.assert_code(11);
}

/// Item 6: An applied file that was edited is refused before any DDL, naming the file.
async fn edited_file_is_refused(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    numbered(&mut env, 2);
    env.run(&["migrate"]).await.assert_code(0);
    env.write_migration(
        "0001_table_1.sql",
        "-- kryton:compat=expand\nCREATE TABLE table_1 (id BIGINT PRIMARY KEY);\n",
    );
    env.write_migration(
        "0003_new.sql",
        "-- kryton:compat=expand\nCREATE TABLE new_one (id INTEGER);\n",
    );
    let run = env.run(&["migrate"]).await;
    run.assert_code(12);
    assert!(run.stderr().contains("0001_table_1.sql"), "{}", run.stderr());
    assert!(
        !env.table_exists("new_one").await,
        "nothing may run after a checksum mismatch"
    );
    // A CRLF checkout of the original text is not an edit.
    env.write_migration(
        "0001_table_1.sql",
        "-- kryton:compat=expand\r\nCREATE TABLE table_1 (id INTEGER PRIMARY KEY);\r\n",
    );
    env.run(&["migrate"]).await.assert_code(0);
}
both_backends!(edited_file_is_refused);

/// Item 7: A pending version below the newest applied one is refused; with the flag it is applied.
async fn out_of_order_needs_the_flag(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_a.sql", "-- kryton:compat=expand\nCREATE TABLE a (id INTEGER);\n");
    env.write_migration("0003_c.sql", "-- kryton:compat=expand\nCREATE TABLE c (id INTEGER);\n");
    env.run(&["migrate"]).await.assert_code(0);
    env.write_migration("0002_b.sql", "-- kryton:compat=expand\nCREATE TABLE b (id INTEGER);\n");
    let run = env.run(&["migrate"]).await;
    run.assert_code(11);
    assert!(
        run.stderr().contains("0002_b.sql") && run.stderr().contains("--allow-out-of-order"),
        "{}",
        run.stderr()
    );
    assert!(!env.table_exists("b").await);
    // `serve` refuses too, and never opens the port.
    let serve = env.run(&["serve"]).await;
    serve.assert_code(11);
    env.run(&["migrate", "--allow-out-of-order"]).await.assert_code(0);
    assert_eq!(env.ledger_versions().await, vec![1, 2, 3]);
}
both_backends!(out_of_order_needs_the_flag);

/// Item 8: An older binary against a newer database: boots read-compatible when every newer migration is
/// `expand`, refuses when one is `contract`.
async fn older_binary_against_newer_schema(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    // The server's own schema, then a table and a later additive change to it.
    let n = env.write_shipped_migrations();
    let (table, add, drop) = (
        format!("{:04}_t.sql", n + 1),
        format!("{:04}_add.sql", n + 2),
        format!("{:04}_drop", n + 3),
    );
    env.write_migration(&table, TABLE_T);
    env.write_migration(&add, "-- kryton:compat=expand\nALTER TABLE t ADD COLUMN extra TEXT;\n");
    env.run(&["migrate"]).await.assert_code(0);
    let ledger = env.ledger().await;

    // The "older binary": the same engine without the newest (expand) file. It serves.
    env.remove_migration(&add);
    let mut child = env.spawn(&["serve"]);
    env.wait_ready(&mut child, Duration::from_secs(30)).await;
    child.start_kill().unwrap();
    let run = finish(child).await;
    assert!(run.stderr().contains("compatibility mode"), "{}", run.stderr());
    assert_eq!(env.ledger().await, ledger, "compatibility mode writes nothing");

    // Now the newer release had shipped a contract migration: the older binary refuses.
    env.write_migration(&add, "-- kryton:compat=expand\nALTER TABLE t ADD COLUMN extra TEXT;\n");
    env.write_migration(&format!("{drop}.sql"), "-- kryton:compat=contract\nDROP TABLE t;\n");
    env.set_env("MIGRATION_BACKUP", "off");
    env.run(&["migrate"]).await.assert_code(0);
    env.remove_migration(&format!("{drop}.sql"));
    let run = env.run(&["serve"]).await;
    run.assert_code(11);
    assert!(
        run.stderr().contains(&drop) && run.stderr().contains("contract"),
        "{}",
        run.stderr()
    );
    assert!(!env.port_is_open());
}
both_backends!(older_binary_against_newer_schema);

/// Item 9: A foreign session holds a lock on the table a migration alters: other queries wait at most
/// about the lock timeout, the migrator retries, then fails cleanly with nothing half-applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_protects_other_queries() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    env.write_migration("0001_t.sql", TABLE_T);
    env.run(&["migrate"]).await.assert_code(0);
    env.write_migration(
        "0002_alter.sql",
        "-- kryton:compat=expand\nALTER TABLE t ADD COLUMN extra TEXT;\n",
    );
    env.set_env("MIGRATION_LOCK_TIMEOUT", "300ms");

    let url = env.postgres_url().unwrap();
    let mut holder = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM t;")
        .execute(&mut holder)
        .await
        .unwrap();

    let child = env.spawn(&["migrate"]);
    // While the migrator keeps trying, an ordinary reader is never stuck behind it for long.
    let reader = sqlx::PgPool::connect(&url).await.unwrap();
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        sqlx::query("SELECT count(*) FROM t").execute(&reader).await.unwrap();
        worst = worst.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = finish(child).await;
    run.assert_code(10);
    assert!(run.stderr().contains("lock"), "{}", run.stderr());
    assert!(
        worst < Duration::from_secs(2),
        "a reader waited {worst:?} behind the migration"
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(env.ledger_versions().await, vec![1]);
    let columns = env
        .scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'extra'")
        .await;
    assert_eq!(columns, 0);
    let attempts = env
        .scalar("SELECT count(*) FROM kryton.migration_attempts WHERE event = 'lock-timeout'")
        .await;
    assert!(attempts >= 1, "retries are recorded");
    // Once the reader is gone the same migration goes through.
    env.run(&["migrate"]).await.assert_code(0);
}

/// Item 10: A role whose default statement_timeout is 1s can still run a slow migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_statement_timeout_does_not_kill_migrations() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    let db = env.pg_database.clone().unwrap();
    let role = format!("{db}_role");
    let admin = sqlx::PgPool::connect(&common::admin_url()).await.unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("ALTER ROLE {role} SET statement_timeout = '1s'"),
        format!("ALTER DATABASE {db} OWNER TO {role}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&admin).await.unwrap();
    }
    env.write_migration(
        "0001_slow.sql",
        "-- kryton:compat=expand\nCREATE TABLE s (id INTEGER);\nSELECT pg_sleep(2);\n",
    );
    env.set_env("POSTGRES_URL", &format!("postgres://{role}@127.0.0.1:5432/{db}"));
    let run = env.run(&["migrate"]).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {db} WITH (FORCE)")))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&admin)
        .await
        .unwrap();
    run.assert_code(0);
}

/// Item 11: `plan` writes nothing; `status --json` has its documented shape.
async fn plan_writes_nothing_and_status_has_its_shape(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    numbered(&mut env, 2);
    let plan = env.run(&["migrate", "plan"]).await;
    plan.assert_code(0);
    assert!(plan.stdout().contains("would apply 2"), "{}", plan.stdout());
    match backend {
        Backend::Postgres => {
            let ledger = env
                .scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'kryton'")
                .await;
            assert_eq!(ledger, 0, "plan must not create the ledger or anything else");
        }
        Backend::Sqlite => assert!(
            !env.sqlite_path().exists(),
            "plan must not even create the database file"
        ),
    }
    env.run(&["migrate"]).await.assert_code(0);
    env.write_migration("0003_drop.sql", "-- kryton:compat=contract\nDROP TABLE table_1;\n");
    let plan = env.run(&["migrate", "plan", "--json"]).await;
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(plan["wouldApply"], serde_json::json!([3]));
    assert!(plan["summary"].as_str().unwrap().contains("contract"));

    let status = env.run(&["migrate", "status", "--json"]).await;
    status.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let expected_backend = if backend == Backend::Postgres {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(json["backend"], expected_backend);
    assert_eq!(json["binaryHead"], 3);
    assert_eq!(json["databaseVersion"], 2);
    assert_eq!(json["pending"], serde_json::json!([3]));
    assert_eq!(json["unknownToBinary"], serde_json::json!([]));
    assert_eq!(json["running"], serde_json::json!([]));
    let rows = json["migrations"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for key in [
        "version",
        "slug",
        "compat",
        "state",
        "checksum",
        "checksumMatches",
        "appliedAt",
        "appliedByVersion",
    ] {
        assert!(rows[0].get(key).is_some(), "missing {key} in {}", rows[0]);
    }
    assert_eq!(rows[0]["state"], "applied");
    assert_eq!(rows[0]["checksumMatches"], true);
    assert_eq!(rows[2]["state"], "pending");
    assert_eq!(rows[2]["compat"], "contract");
}
both_backends!(plan_writes_nothing_and_status_has_its_shape);

/// The pre-migration backup: taken before a contract migration; if it cannot be written the
/// migration does not run (exit 15).
async fn contract_migration_takes_a_backup_first(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_t.sql", TABLE_T);
    env.run(&["migrate"]).await.assert_code(0);
    env.write_migration("0002_drop.sql", "-- kryton:compat=contract\nDROP TABLE t;\n");

    // A backup directory that cannot be created (its parent is a file): the DROP must not run.
    let blocker = env.dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    env.set_env("BACKUP_DIR", &blocker.join("backups").display().to_string());
    let run = env.run(&["migrate"]).await;
    run.assert_code(15);
    assert!(env.table_exists("t").await);

    let backups = env.dir.path().join("backups");
    env.set_env("BACKUP_DIR", &backups.display().to_string());
    env.run(&["migrate"]).await.assert_code(0);
    assert!(!env.table_exists("t").await);
    let files: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().contains("before-0002"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_migration_takes_a_backup_first_sqlite() {
    contract_migration_takes_a_backup_first(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_migration_takes_a_backup_first_postgres() {
    // pg_dump is part of the PostgreSQL client the test machines carry.
    contract_migration_takes_a_backup_first(Backend::Postgres).await
}
