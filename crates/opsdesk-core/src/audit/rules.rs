//! The audit chain's pure rules: how a record is hashed and how a sequence of records is verified.
//! Each record's hash covers its own fields and the previous record's hash, so editing or
//! deleting any row breaks every link after it.

use sha2::{Digest, Sha256};

/// The hash that precedes the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored audit record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: String,
    pub client_ip: String,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of a record before it is chained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: String,
    pub client_ip: String,
    pub request_id: String,
}

/// Hashes a record's content with its predecessor's hash. Fields are length-prefixed so that
/// moving text from one field to the next changes the hash.
pub fn chain_hash(prev_hash: &str, seq: i64, at: i64, entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&at.to_be_bytes());
    for text in [
        &entry.actor,
        &entry.action,
        &entry.target,
        &entry.summary,
        &entry.client_ip,
        &entry.request_id,
    ] {
        field(text.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditRecord {
    /// Chains `entry` after the record with `prev_seq`/`prev_hash`.
    pub fn chained(prev_seq: i64, prev_hash: &str, at: i64, entry: AuditEntry) -> AuditRecord {
        let seq = prev_seq + 1;
        let hash = chain_hash(prev_hash, seq, at, &entry);
        AuditRecord {
            seq,
            at,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            summary: entry.summary,
            client_ip: entry.client_ip,
            request_id: entry.request_id,
            prev_hash: prev_hash.to_string(),
            hash,
        }
    }

    fn entry(&self) -> AuditEntry {
        AuditEntry {
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            summary: self.summary.clone(),
            client_ip: self.client_ip.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// The first place where the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// A sequence number is missing (a row was deleted) before `seq`.
    Gap { expected: i64, found: i64 },
    /// The record's `prev_hash` does not match its predecessor (a row before it changed or vanished).
    PrevMismatch { seq: i64 },
    /// The record's content no longer matches its hash (the row was edited).
    Tampered { seq: i64 },
    /// The chain head says more records exist than are stored (the newest rows were deleted).
    Truncated { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Gap { expected, found } => {
                write!(
                    f,
                    "record {expected} is missing (next stored record is {found})"
                )
            }
            ChainBreak::PrevMismatch { seq } => {
                write!(f, "record {seq} does not follow its predecessor")
            }
            ChainBreak::Tampered { seq } => {
                write!(f, "record {seq} was modified after it was written")
            }
            ChainBreak::Truncated { head_seq, last_seq } => {
                write!(f, "records {} to {head_seq} were deleted", last_seq + 1)
            }
        }
    }
}

/// Incremental verifier: feed records in `seq` order, then call [`Verifier::finish`] with the head.
#[derive(Debug)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl Verifier {
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        let expected = self.last_seq + 1;
        if record.seq != expected {
            return Err(ChainBreak::Gap {
                expected,
                found: record.seq,
            });
        }
        if record.prev_hash != self.last_hash {
            return Err(ChainBreak::PrevMismatch { seq: record.seq });
        }
        if chain_hash(&record.prev_hash, record.seq, record.at, &record.entry()) != record.hash {
            return Err(ChainBreak::Tampered { seq: record.seq });
        }
        self.last_seq = record.seq;
        self.last_hash = record.hash.clone();
        self.checked += 1;
        Ok(())
    }

    /// Checks the stored head against the last record seen; returns how many records were checked.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        if head_seq != self.last_seq || head_hash != self.last_hash {
            return Err(ChainBreak::Truncated {
                head_seq,
                last_seq: self.last_seq,
            });
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> AuditEntry {
        AuditEntry {
            actor: format!("user:{n}"),
            action: "user.create".into(),
            target: format!("user:{}", n + 1),
            summary: "role=agent".into(),
            client_ip: "127.0.0.1".into(),
            request_id: format!("req-{n}"),
        }
    }

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map(|r| (r.seq, r.hash.clone()))
                .unwrap_or((0, GENESIS_HASH.into()));
            out.push(AuditRecord::chained(seq, &hash, 1000 + i as i64, entry(i)));
        }
        out
    }

    fn verify(records: &[AuditRecord], head: (i64, &str)) -> Result<u64, ChainBreak> {
        let mut v = Verifier::default();
        for r in records {
            v.push(r)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let last = c
            .last()
            .map(|r| (r.seq, r.hash.clone()))
            .unwrap_or_default();
        assert_eq!(verify(&c, (last.0, &last.1)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }

    #[test]
    fn an_edit_is_found_at_its_record() {
        let mut c = chain(5);
        c[2].summary = "role=admin".into();
        let last = (c[4].seq, c[4].hash.clone());
        assert_eq!(
            verify(&c, (last.0, &last.1)),
            Err(ChainBreak::Tampered { seq: 3 })
        );
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        let mut c = chain(5);
        c[1].summary = "forged".into();
        c[1].hash = chain_hash(&c[1].prev_hash, c[1].seq, c[1].at, &c[1].entry());
        let last = (c[4].seq, c[4].hash.clone());
        assert_eq!(
            verify(&c, (last.0, &last.1)),
            Err(ChainBreak::PrevMismatch { seq: 3 })
        );
    }

    #[test]
    fn deletions_are_found() {
        let mut c = chain(5);
        let last = (c[4].seq, c[4].hash.clone());
        c.remove(1);
        assert_eq!(
            verify(&c, (last.0, &last.1)),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
        let mut c = chain(5);
        c.pop();
        assert_eq!(
            verify(&c, (last.0, &last.1)),
            Err(ChainBreak::Truncated {
                head_seq: 5,
                last_seq: 4
            })
        );
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let a = AuditEntry {
            actor: "ab".into(),
            action: "c".into(),
            ..entry(0)
        };
        let b = AuditEntry {
            actor: "a".into(),
            action: "bc".into(),
            ..entry(0)
        };
        assert_ne!(
            chain_hash(GENESIS_HASH, 1, 1, &a),
            chain_hash(GENESIS_HASH, 1, 1, &b)
        );
    }
}
