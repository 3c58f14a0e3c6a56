//! Full-text search over subjects, messages and notes: the words are normalized here (pure), and
//! stored in SQLite FTS5 or a PostgreSQL `tsvector` with a GIN index. A search matches tickets
//! containing every word of the query, anywhere in the ticket.

use opsdesk_core::db::{Backend, Tx, flag};

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

/// Indexes one text of a ticket (`source` is `subject` or `message:<id>`).
pub async fn index(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    source: &str,
    public: bool,
    text: &str,
) -> Result<(), sqlx::Error> {
    let words = normalize(text);
    let sql = backend.pick(
        "INSERT INTO ticket_fts (words, ticket, source, public) VALUES ($1, $2, $3, $4)",
        "INSERT INTO ticket_search (words, ticket, source, public) VALUES (to_tsvector('simple', $1), $2, $3, $4)",
    );
    sqlx::query(sql)
        .bind(words)
        .bind(ticket)
        .bind(source)
        .bind(flag(public))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces the indexed text of one source (a changed subject).
pub async fn reindex(
    tx: &mut Tx,
    backend: Backend,
    ticket: i64,
    source: &str,
    public: bool,
    text: &str,
) -> Result<(), sqlx::Error> {
    let sql = backend.pick(
        "DELETE FROM ticket_fts WHERE ticket = $1 AND source = $2",
        "DELETE FROM ticket_search WHERE ticket = $1 AND source = $2",
    );
    sqlx::query(sql)
        .bind(ticket)
        .bind(source)
        .execute(&mut **tx)
        .await?;
    index(tx, backend, ticket, source, public, text).await
}

/// SQL selecting the numbers of tickets that contain every word, with placeholders numbered
/// from `first`. Each word is bound as a parameter (quoted for FTS5), never spliced in.
pub fn matching_sql(backend: Backend, words: usize, first: usize, public_only: bool) -> String {
    let public = if public_only { " AND public = 1" } else { "" };
    let one = |n: usize| match backend {
        Backend::Sqlite => {
            format!("SELECT ticket FROM ticket_fts WHERE ticket_fts MATCH ${n}{public}")
        }
        Backend::Postgres => format!(
            "SELECT ticket FROM ticket_search WHERE words @@ to_tsquery('simple', ${n}){public}"
        ),
    };
    (0..words)
        .map(|i| one(first + i))
        .collect::<Vec<_>>()
        .join(" INTERSECT ")
}

/// A query word as bound for the backend: an FTS5 string (quotes doubled), or a tsquery
/// lexeme in quotes.
pub fn bind_word(backend: Backend, word: &str) -> String {
    match backend {
        Backend::Sqlite => format!("\"{}\"", word.replace('"', "\"\"")),
        Backend::Postgres => format!("'{}'", word.replace('\'', "''").replace('\\', "\\\\")),
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
    fn matching_sql_intersects_one_select_per_word() {
        let s = matching_sql(Backend::Sqlite, 2, 3, true);
        assert_eq!(s.matches("INTERSECT").count(), 1);
        assert!(s.contains("MATCH $3 AND public = 1") && s.contains("MATCH $4"));
        let p = matching_sql(Backend::Postgres, 1, 1, false);
        assert!(p.contains("to_tsquery('simple', $1)") && !p.contains("public"));
        assert_eq!(bind_word(Backend::Sqlite, "a\"b"), "\"a\"\"b\"");
        assert_eq!(bind_word(Backend::Postgres, "o'k"), "'o''k'");
    }
}
