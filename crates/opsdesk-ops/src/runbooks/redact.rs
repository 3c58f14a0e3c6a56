//! Streaming redaction of secrets from a program's output (pure): every occurrence of a secret is
//! replaced by `[redacted]`, even when the output arrives cut in the middle of it. Works on bytes,
//! since output need not be UTF-8.

/// What a secret is replaced by.
pub const REDACTED: &[u8] = b"[redacted]";

/// Redacts a stream pushed to it in pieces. It holds back at most (longest secret − 1) bytes that
/// could still turn out to be the start of a secret.
#[derive(Clone)]
pub struct Redactor {
    /// Longest first, so where two secrets start at the same byte the longer one is replaced.
    secrets: Vec<Vec<u8>>,
    /// The bytes some secret starts with: everything else is copied through in runs.
    first: [bool; 256],
    carry: Vec<u8>,
}

/// What to do at one position of the stream.
enum Step {
    /// A secret of this length starts here.
    Secret(usize),
    /// No secret starts here.
    Plain,
    /// A secret may start here but more bytes are needed to tell.
    Wait,
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut secrets: Vec<Vec<u8>> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_vec())
            .filter(|s| !s.is_empty())
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        let mut first = [false; 256];
        for s in &secrets {
            first[usize::from(s[0])] = true;
        }
        Redactor {
            secrets,
            first,
            carry: Vec::new(),
        }
    }

    /// Takes the next piece of the stream; returns what is safe to show now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.scan(bytes, false)
    }

    /// The end of the stream: the rest, redacted.
    pub fn finish(mut self) -> Vec<u8> {
        self.scan(&[], true)
    }

    fn scan(&mut self, bytes: &[u8], at_end: bool) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(bytes);
        if self.secrets.is_empty() {
            return buf;
        }
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        while i < buf.len() {
            let run = buf[i..]
                .iter()
                .position(|b| self.first[usize::from(*b)])
                .unwrap_or(buf.len() - i);
            out.extend_from_slice(&buf[i..i + run]);
            i += run;
            if i == buf.len() {
                break;
            }
            match self.step(&buf[i..], at_end) {
                Step::Secret(len) => {
                    out.extend_from_slice(REDACTED);
                    i += len;
                }
                Step::Plain => {
                    out.push(buf[i]);
                    i += 1;
                }
                Step::Wait => {
                    self.carry = buf[i..].to_vec();
                    break;
                }
            }
        }
        out
    }

    fn step(&self, rest: &[u8], at_end: bool) -> Step {
        for s in &self.secrets {
            if rest.starts_with(s) {
                return Step::Secret(s.len());
            }
            // A longer secret still possible here must be settled before a shorter one is taken.
            if !at_end && s.len() > rest.len() && s.starts_with(rest) {
                return Step::Wait;
            }
        }
        Step::Plain
    }
}

/// Never shows the secrets.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// Redacts a whole text at once.
pub fn redact<S: AsRef<[u8]>>(secrets: &[S], bytes: &[u8]) -> Vec<u8> {
    let mut r = Redactor::new(secrets);
    let mut out = r.push(bytes);
    out.extend(r.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn whole(secrets: &[&str], input: &str) -> String {
        String::from_utf8_lossy(&redact(secrets, input.as_bytes())).into_owned()
    }

    #[test]
    fn secrets_are_replaced() {
        assert_eq!(whole(&["hunter2"], "pw=hunter2 ok"), "pw=[redacted] ok");
        assert_eq!(whole(&["ab"], "abab-ab"), "[redacted][redacted]-[redacted]");
        assert_eq!(whole(&["x"], "xyx"), "[redacted]y[redacted]");
        assert_eq!(whole(&["secret"], "secre"), "secre");
        assert_eq!(whole(&[], "anything"), "anything");
        assert_eq!(whole(&[""], "anything"), "anything");
    }

    #[test]
    fn the_longer_secret_wins_where_two_start() {
        assert_eq!(
            whole(&["tok", "token123"], "token123 tok"),
            "[redacted] [redacted]"
        );
        assert_eq!(whole(&["tok", "token123"], "token12"), "[redacted]en12");
    }

    #[test]
    fn a_secret_cut_between_pushes_is_replaced() {
        let mut r = Redactor::new(["s3cr3t"]);
        let mut out = r.push(b"a s3");
        assert_eq!(out, b"a ", "the possible start is held back");
        out.extend(r.push(b"cr"));
        out.extend(r.push(b"3t b s3c"));
        assert_eq!(out, b"a [redacted] b ");
        out.extend(r.finish());
        assert_eq!(out, b"a [redacted] b s3c");
    }

    #[test]
    fn bytes_need_not_be_utf8() {
        let secret = [0xff, 0x00, 0xfe];
        let out = redact(&[&secret[..]], &[1, 0xff, 0x00, 0xfe, 0xff, 2]);
        assert_eq!(out, [&[1][..], REDACTED, &[0xff, 2]].concat());
    }

    #[test]
    fn debug_hides_the_secrets() {
        assert_eq!(
            format!("{:?}", Redactor::new(["hunter2"])),
            "Redactor(1 secrets)"
        );
    }

    /// Bytes that do not occur in `[redacted]`, so a secret in the output can only be a leak.
    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![b'x', b'y', b'z', 0, 0xff]),
            0..max,
        )
    }

    proptest! {
        #[test]
        fn cutting_the_input_anywhere_changes_nothing(
            secrets in prop::collection::vec(bytes(5), 0..4),
            input in bytes(80),
            cuts in prop::collection::vec(0usize..80, 0..8),
        ) {
            let once = redact(&secrets, &input);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut r = Redactor::new(&secrets);
            let mut pieces = Vec::new();
            let mut from = 0;
            for to in cuts.into_iter().chain([input.len()]) {
                pieces.extend(r.push(&input[from..to]));
                from = to;
            }
            pieces.extend(r.finish());
            prop_assert_eq!(&pieces, &once);
            for s in secrets.iter().filter(|s| !s.is_empty()) {
                prop_assert!(
                    !once.windows(s.len()).any(|w| w == &s[..]),
                    "{:?} survives in {:?}", s, once
                );
            }
        }

        #[test]
        fn at_most_the_longest_secret_is_held_back(
            secrets in prop::collection::vec(bytes(6), 1..4),
            input in bytes(60),
        ) {
            let longest = secrets.iter().map(Vec::len).max().unwrap_or(0);
            let mut r = Redactor::new(&secrets);
            r.push(&input);
            prop_assert!(r.carry.len() < longest.max(1));
        }
    }
}
