//! Several statements of a transaction in one round trip where the backend allows it. On SQLite
//! every statement is a hand-off to the connection's worker thread and back, and in a busy write
//! transaction those hand-offs, not SQLite, are what a statement costs; a pipeline sends its
//! statements as one multi-statement string (sqlx's SQLite driver runs them in order, binding `$N`
//! to the N-th argument of the whole string). PostgreSQL's extended protocol takes one statement
//! per query, so there the statements go one by one. Either way each statement's rows come back
//! on their own, in order.
//!
//! sqlx marks multi-statement strings on SQLite as deprecated behaviour; the tests below pin it,
//! so an upgrade that drops it fails here rather than in production.

use futures::TryStreamExt as _;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Arguments as _, AssertSqlSafe, Either, Executor as _};

use super::Tx;

/// One bound value. Nulls carry their type (PostgreSQL needs it).
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        v.map_or(Arg::NullInt, Arg::Int)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        v.map_or(Arg::NullText, Arg::from)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        v.map_or(Arg::NullText, Arg::Text)
    }
}

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Arg {
        v.as_deref().into()
    }
}

/// One statement and its arguments (`$1` is its own first).
#[derive(Debug)]
pub struct Stmt {
    sql: &'static str,
    args: Vec<Arg>,
}

impl Stmt {
    pub fn bind(&mut self, v: impl Into<Arg>) -> &mut Stmt {
        self.args.push(v.into());
        self
    }
}

/// Statements to run in order in one transaction.
#[derive(Debug, Default)]
pub struct Pipeline {
    stmts: Vec<Stmt>,
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Adds a statement; bind its arguments on what this returns.
    pub fn push(&mut self, sql: &'static str) -> &mut Stmt {
        self.stmts.push(Stmt {
            sql,
            args: Vec::new(),
        });
        let last = self.stmts.len() - 1;
        &mut self.stmts[last]
    }

    pub fn len(&self) -> usize {
        self.stmts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// Runs the statements; nothing is read back.
    pub async fn execute(self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        self.run(tx).await.map(drop)
    }

    /// Runs the statements and returns each one's rows, in statement order.
    pub async fn rows(self, tx: &mut Tx) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
        Ok(self.run(tx).await?.into_iter().map(|o| o.rows).collect())
    }

    /// Runs the statements and returns what each one did, in statement order.
    pub async fn run(self, tx: &mut Tx) -> Result<Vec<Outcome>, sqlx::Error> {
        let n = self.stmts.len();
        let mut out: Vec<Outcome> = Vec::with_capacity(n);
        if n == 0 {
            return Ok(out);
        }
        let conn: &mut sqlx::AnyConnection = tx;
        if conn.backend_name() == "SQLite" {
            let (sql, all) = combine(self.stmts);
            let query = sqlx::query_with(AssertSqlSafe(sql), arguments(all)?);
            collect(conn.fetch_many(query), &mut out).await?;
        } else {
            for s in self.stmts {
                let query = sqlx::query_with(s.sql, arguments(s.args)?);
                collect(conn.fetch_many(query), &mut out).await?;
            }
        }
        if out.len() != n {
            return Err(sqlx::Error::Protocol(format!(
                "a pipeline of {n} statements reported {} results",
                out.len()
            )));
        }
        Ok(out)
    }
}

/// What one statement did.
pub struct Outcome {
    pub rows: Vec<AnyRow>,
    pub affected: u64,
}

/// Splits a result stream into statements: each one's rows, then its result.
async fn collect(
    mut stream: futures::stream::BoxStream<
        '_,
        Result<Either<sqlx::any::AnyQueryResult, AnyRow>, sqlx::Error>,
    >,
    out: &mut Vec<Outcome>,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Right(row) => rows.push(row),
            Either::Left(done) => out.push(Outcome {
                rows: std::mem::take(&mut rows),
                affected: done.rows_affected(),
            }),
        }
    }
    Ok(())
}

/// The values as sqlx arguments (moved: a ticket's body is not copied again).
fn arguments(values: Vec<Arg>) -> Result<AnyArguments, sqlx::Error> {
    let mut args = AnyArguments::default();
    for v in values {
        match v {
            Arg::Int(i) => args.add(i),
            Arg::Text(s) => args.add(s),
            Arg::NullInt => args.add(None::<i64>),
            Arg::NullText => args.add(None::<String>),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// The statements as one string, each one's `$k` renumbered after the arguments before it, and
/// all their arguments in order.
fn combine(stmts: Vec<Stmt>) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for s in stmts {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&shift_params(s.sql, args.len()));
        args.extend(s.args);
    }
    (sql, args)
}

/// `sql` with every `$k` placeholder outside quotes renumbered to `$(k + by)`.
fn shift_params(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) => {
                let mut n = 0usize;
                while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                    n = n * 10 + d.to_digit(10).unwrap_or(0) as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + by).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_outside_quotes() {
        assert_eq!(
            shift_params("INSERT INTO t (a, b) VALUES ($1, $2, $1, '$1', \"$2\")", 3),
            "INSERT INTO t (a, b) VALUES ($4, $5, $4, '$1', \"$2\")"
        );
        assert_eq!(shift_params("SELECT $10 || $9", 1), "SELECT $11 || $10");
        assert_eq!(shift_params("SELECT 1", 5), "SELECT 1");
        assert_eq!(shift_params("x = $1", 0), "x = $1");
    }

    #[test]
    fn statements_are_joined_with_their_arguments_in_order() {
        let mut p = Pipeline::new();
        p.push("INSERT INTO a VALUES ($1, $2)")
            .bind(1_i64)
            .bind("x");
        p.push("UPDATE b SET c = $2 WHERE d = $1")
            .bind(None::<&str>)
            .bind(7_i64);
        let (sql, args) = combine(p.stmts);
        assert_eq!(
            sql,
            "INSERT INTO a VALUES ($1, $2);\nUPDATE b SET c = $4 WHERE d = $3"
        );
        assert_eq!(
            args,
            vec![
                Arg::Int(1),
                Arg::Text("x".into()),
                Arg::NullText,
                Arg::Int(7)
            ]
        );
    }

    async fn sqlite() -> anyhow::Result<super::super::Db> {
        super::super::Db::connect(&crate::config::DatabaseUrl("sqlite::memory:".into())).await
    }

    #[tokio::test]
    async fn one_round_trip_runs_every_statement_and_keeps_each_ones_rows() -> anyhow::Result<()> {
        let db = sqlite().await?;
        let mut tx = db.begin().await?;
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")
            .execute(&mut *tx)
            .await?;
        let mut p = Pipeline::new();
        p.push("INSERT INTO t (id, name) VALUES ($1, $2)")
            .bind(1_i64)
            .bind("one");
        p.push("INSERT INTO t (id, name) VALUES ($1, $2) RETURNING id")
            .bind(2_i64)
            .bind(None::<&str>);
        p.push("UPDATE t SET name = $1 WHERE id = $2")
            .bind("uno")
            .bind(1_i64);
        p.push("SELECT id, name FROM t ORDER BY id");
        let rows = p.rows(&mut tx).await?;
        assert_eq!(rows.len(), 4);
        assert!(rows[0].is_empty() && rows[2].is_empty());
        use sqlx::Row as _;
        assert_eq!(rows[1][0].try_get::<i64, _>("id")?, 2);
        let names = rows[3]
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<Result<Vec<Option<String>>, _>>()?;
        assert_eq!(names, vec![Some("uno".to_string()), None]);
        Ok(())
    }

    #[tokio::test]
    async fn a_failing_statement_fails_the_pipeline() -> anyhow::Result<()> {
        let db = sqlite().await?;
        let mut tx = db.begin().await?;
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await?;
        let mut p = Pipeline::new();
        p.push("INSERT INTO t (id) VALUES ($1)").bind(1_i64);
        p.push("INSERT INTO t (id) VALUES ($1)").bind(1_i64);
        assert!(p.execute(&mut tx).await.is_err());
        let mut p = Pipeline::new();
        p.push("INSERT INTO t (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(2_i64);
        p.push("INSERT INTO t (id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(2_i64);
        let done = p.run(&mut tx).await?;
        assert_eq!((done[0].affected, done[1].affected), (1, 0));
        Ok(())
    }
}
