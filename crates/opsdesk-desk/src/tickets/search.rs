//! Full-text search over subjects, messages and notes: the words are normalized here (pure), and
//! stored in SQLite FTS5 or a PostgreSQL `tsvector` with a GIN index. A search matches tickets
//! containing every word of the query, anywhere in the ticket.

use sqlx::Row as _;

use opsdesk_core::db::{Backend, Db, Pipeline, Tx};
use opsdesk_core::jobs::Registry;

/// At most this many words of a query are used.
pub const MAX_QUERY_WORDS: usize = 8;
/// At most this many characters of a text are indexed (long logs add little to search).
const MAX_INDEXED_CHARS: usize = 100_000;

/// Lower-cased words (letters and digits) separated by single spaces.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_INDEXED_CHARS));
    let mut in_word = false;
    for c in text.chars().take(MAX_INDEXED_CHARS) {
        if c.is_alphanumeric() {
            if !in_word && !out.is_empty() {
                out.push(' ');
            }
            out.extend(c.to_lowercase());
            in_word = true;
        } else {
            in_word = false;
        }
    }
    out
}

/// The distinct words of a query, at most [`MAX_QUERY_WORDS`].
pub fn query_words(q: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in normalize(q).split(' ').filter(|w| !w.is_empty()) {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
        if words.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    words
}

/// Most characters kept per column of a ticket's document (the tsvector limit is 1 MB).
const MAX_COLUMN_CHARS: usize = 300_000;

/// Which part of a ticket's document a text belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The customer-visible conversation.
    Public,
    /// Internal notes (staff only).
    Notes,
}

fn capped(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_COLUMN_CHARS) {
        s.truncate(i);
    }
    s
}

/// Starts a ticket's document with its subject, public conversation and notes.
pub async fn create(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    subject: &str,
    public: &str,
    notes: &str,
) -> Result<(), sqlx::Error> {
    let mut p = Pipeline::new();
    push_create(&mut p, backend, ticket, subject, public, notes);
    p.execute(tx).await
}

/// [`create`] as one statement of a pipeline.
pub fn push_create(
    p: &mut Pipeline,
    backend: Backend,
    ticket: i64,
    subject: &str,
    public: &str,
    notes: &str,
) {
    let (public, notes) = (capped(normalize(public)), capped(normalize(notes)));
    push_insert(p, backend, ticket, &normalize(subject), &public, &notes);
}

async fn read(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
) -> Result<(String, String, String), sqlx::Error> {
    let sql = backend.pick(
        "SELECT subject, public, notes FROM ticket_fts WHERE rowid = $1",
        "SELECT subject, public, notes FROM ticket_search WHERE ticket = $1",
    );
    let row = sqlx::query(sql)
        .bind(ticket)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?),
        None => Default::default(),
    })
}

async fn write(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    subject: &str,
    public: &str,
    notes: &str,
    replace: bool,
) -> Result<(), sqlx::Error> {
    if replace {
        let del = backend.pick(
            "DELETE FROM ticket_fts WHERE rowid = $1",
            "DELETE FROM ticket_search WHERE ticket = $1",
        );
        sqlx::query(del).bind(ticket).execute(&mut **tx).await?;
    }
    let mut p = Pipeline::new();
    push_insert(&mut p, backend, ticket, subject, public, notes);
    p.execute(tx).await
}

fn push_insert(
    p: &mut Pipeline,
    backend: Backend,
    ticket: i64,
    subject: &str,
    public: &str,
    notes: &str,
) {
    p.push(backend.pick(
        "INSERT INTO ticket_fts (rowid, subject, public, notes) VALUES ($1, $2, $3, $4)",
        "INSERT INTO ticket_search (ticket, subject, public, notes, public_doc, all_doc) \
         VALUES ($1, $2, $3, $4, to_tsvector('simple', $2 || ' ' || $3), \
         to_tsvector('simple', $2 || ' ' || $3 || ' ' || $4))",
    ))
    .bind(ticket)
    .bind(subject)
    .bind(public)
    .bind(notes);
}

/// Adds a message (or note) to a ticket's document.
pub async fn append(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    part: Part,
    text: &str,
) -> Result<(), sqlx::Error> {
    let (subject, mut public, mut notes) = read(tx, backend, ticket).await?;
    let column = if part == Part::Public {
        &mut public
    } else {
        &mut notes
    };
    if !column.is_empty() {
        column.push(' ');
    }
    column.push_str(&normalize(text));
    let (public, notes) = (capped(public), capped(notes));
    write(tx, backend, ticket, &subject, &public, &notes, true).await
}

/// Replaces a ticket's subject in its document.
pub async fn set_subject(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    subject: &str,
) -> Result<(), sqlx::Error> {
    let (_, public, notes) = read(tx, backend, ticket).await?;
    write(
        tx,
        backend,
        ticket,
        &normalize(subject),
        &public,
        &notes,
        true,
    )
    .await
}

/// The hourly job that keeps the full-text index compact.
pub const KIND_TIDY: &str = "desk.search_tidy";

/// How the index is tidied: a bounded merge of its segments (hourly), or a full rebuild into one
/// segment (after a bulk load).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tidy {
    Merge,
    Optimize,
}

/// Merges the SQLite full-text index's segments. Each insert adds a small segment and FTS5 only
/// merges them lazily; a query reads every segment, and newest-first queries pay for each one, so
/// search slows down as segments pile up. PostgreSQL's GIN index is kept by autovacuum.
pub async fn tidy(db: &Db, how: Tidy) -> Result<(), sqlx::Error> {
    if db.backend() != Backend::Sqlite {
        return Ok(());
    }
    match how {
        Tidy::Optimize => {
            sqlx::query("INSERT INTO ticket_fts (ticket_fts) VALUES ('optimize')")
                .execute(db.write())
                .await?;
        }
        // A few bounded steps (each ~2,000 pages), so writers wait at most one step at a time.
        Tidy::Merge => {
            for _ in 0..8 {
                sqlx::query("INSERT INTO ticket_fts (ticket_fts, rank) VALUES ('merge', -2000)")
                    .execute(db.write())
                    .await?;
            }
        }
    }
    Ok(())
}

pub fn register(registry: &mut Registry) {
    registry.register_hourly(KIND_TIDY, |ctx| async move {
        tidy(&ctx.db, Tidy::Merge).await?;
        Ok(())
    });
}

/// SQL selecting the numbers of tickets that contain every word, with one placeholder `$first`
/// bound to [`match_expr`]. Customers (`public_only`) search the subject and conversation only.
pub fn matching_sql(backend: Backend, first: usize, public_only: bool) -> String {
    match (backend, public_only) {
        (Backend::Sqlite, _) => {
            format!("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ${first}")
        }
        (Backend::Postgres, false) => format!(
            "SELECT ticket FROM ticket_search WHERE all_doc @@ to_tsquery('simple', ${first})"
        ),
        (Backend::Postgres, true) => format!(
            "SELECT ticket FROM ticket_search WHERE public_doc @@ to_tsquery('simple', ${first})"
        ),
    }
}

/// The query bound for the backend: an FTS5 expression of quoted words (limited to the public
/// columns for customers), or a tsquery of quoted lexemes joined with `&`. Words are data,
/// never syntax.
pub fn match_expr(backend: Backend, words: &[String], public_only: bool) -> String {
    match backend {
        Backend::Sqlite => words
            .iter()
            .map(|w| {
                let quoted = format!("\"{}\"", w.replace('"', "\"\""));
                if public_only {
                    format!("{{subject public}} : {quoted}")
                } else {
                    quoted
                }
            })
            .collect::<Vec<_>>()
            .join(" AND "),
        Backend::Postgres => words
            .iter()
            .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" & "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_and_split_on_anything_else() {
        assert_eq!(
            normalize("Export FAILS: alice@example.com, e-mail (CSV)!"),
            "export fails alice example com e mail csv"
        );
        assert_eq!(
            normalize("Größe Ärger 東京 123abc"),
            "größe ärger 東京 123abc"
        );
        assert_eq!(normalize("  \n\t "), "");
    }

    #[test]
    fn queries_keep_distinct_words_up_to_the_limit() {
        assert_eq!(query_words("CSV csv export"), vec!["csv", "export"]);
        assert_eq!(
            query_words("\"; DROP TABLE x; --"),
            vec!["drop", "table", "x"]
        );
        assert_eq!(query_words("a b c d e f g h i j").len(), MAX_QUERY_WORDS);
        assert!(query_words("*** ()").is_empty());
    }

    #[test]
    fn match_expressions_quote_every_word() {
        let words = vec!["a\"b".to_string(), "near".to_string()];
        assert_eq!(
            match_expr(Backend::Sqlite, &words, false),
            "\"a\"\"b\" AND \"near\""
        );
        assert_eq!(
            match_expr(Backend::Sqlite, &words[1..], true),
            "{subject public} : \"near\""
        );
        let o = vec!["o'k".to_string(), "x".to_string()];
        assert_eq!(match_expr(Backend::Postgres, &o, false), "'o''k' & 'x'");
        assert!(
            matching_sql(Backend::Postgres, 3, true)
                .contains("public_doc @@ to_tsquery('simple', $3)")
        );
        assert!(matching_sql(Backend::Sqlite, 1, false).contains("MATCH $1"));
    }
}
