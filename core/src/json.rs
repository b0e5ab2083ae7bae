//! A pull reader over JSON text for hot paths: the caller reads the few fields
//! it needs, strings are borrowed from the text, and everything else is checked
//! and skipped without building anything.
//!
//! The reader is a fast path in front of serde_json, not a second JSON parser
//! with opinions of its own. Whatever it is not sure serde_json would read the
//! same way gives up with [`Unsure`], and the caller then reads the text with
//! serde_json, which decides (and words any error): malformed text, an escape
//! for half of a surrogate pair, nesting deeper than [`MAX_DEPTH`], and
//! whatever the caller itself does not want to judge (a number where text is
//! expected, a repeated field). On text serde_json reads, the reader reads the
//! same strings and skips the same values; tests hold the two together.

use std::borrow::Cow;

/// The reader cannot vouch for the text: read it with serde_json instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsure;

/// What the reader's steps return.
pub type Result<T> = std::result::Result<T, Unsure>;

/// Deepest nesting the reader follows (serde_json's own limit is 128).
pub const MAX_DEPTH: u32 = 100;

/// Bytes that end a run of plain string content: the closing quote, an escape,
/// and control characters (which JSON does not allow unescaped).
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A position in JSON text; a clone reads on from the same position.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The first byte of the next value or token, after whitespace; not consumed.
    pub fn peek(&mut self) -> Result<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Ok(b),
            }
        }
        Err(Unsure)
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// The end of the text: nothing but whitespace may follow.
    pub fn finish(mut self) -> Result<()> {
        match self.peek() {
            Err(Unsure) if self.pos == self.text.len() => Ok(()),
            _ => Err(Unsure),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Unsure);
        }
        Ok(())
    }

    /// Reads an object, handing each member's key to `member`, which must read or
    /// [`Reader::skip`] the value. A key with escapes is left to serde_json
    /// ([`Unsure`]): Kubernetes' field, label and annotation names never need one,
    /// so keys are passed borrowed from the text.
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Result<()>) -> Result<()> {
        self.sequence(b'{', b'}', |r| {
            if r.peek()? != b'"' {
                return Err(Unsure);
            }
            let (start, end, escaped) = r.string_span()?;
            if escaped {
                return Err(Unsure);
            }
            r.expect(b':')?;
            // Both ends are at ASCII quotes, so this is a char boundary.
            member(r, r.text.get(start..end).ok_or(Unsure)?)
        })
    }

    /// Reads an array, calling `element` for each element, which must read or
    /// [`Reader::skip`] it.
    pub fn array(&mut self, element: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.sequence(b'[', b']', element)
    }

    /// `open`, items separated by commas, `close`.
    fn sequence(&mut self, open: u8, close: u8, mut item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.expect(open)?;
        self.enter()?;
        if self.peek()? == close {
            self.pos += 1;
        } else {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b if b == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Unsure),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Reads a string: borrowed from the text unless it has escapes, which
    /// serde_json decodes.
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return Err(Unsure);
        }
        let (start, end, escaped) = self.string_span()?;
        let text = self.text;
        if !escaped {
            // Both ends are at ASCII quotes, so this is a char boundary.
            return text.get(start..end).map(Cow::Borrowed).ok_or(Unsure);
        }
        let quoted = text.get(start - 1..=end).ok_or(Unsure)?;
        serde_json::from_str::<String>(quoted)
            .map(Cow::Owned)
            .map_err(|_| Unsure)
    }

    /// Consumes the string at the current position (an opening quote): the range
    /// of its content and whether it has escapes.
    #[inline(always)]
    fn string_span(&mut self) -> Result<(usize, usize, bool)> {
        let bytes = self.bytes();
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while there are eight: the first quote, backslash
            // or control character among them, if any.
            if let Some(chunk) = bytes.get(i..i + 8) {
                const ONES: u64 = u64::from_le_bytes([1; 8]);
                const HIGH: u64 = ONES << 7;
                let v = u64::from_le_bytes(chunk.try_into().map_err(|_| Unsure)?);
                let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
                let stops = zero(v ^ (ONES * u64::from(b'"')))
                    | zero(v ^ (ONES * u64::from(b'\\')))
                    | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
                if stops == 0 {
                    i += 8;
                    continue;
                }
                i += (stops.trailing_zeros() / 8) as usize;
            }
            let b = *bytes.get(i).ok_or(Unsure)?;
            if !STRING_STOP[usize::from(b)] {
                i += 1;
                continue;
            }
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *bytes.get(i + 1).ok_or(Unsure)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let hex = bytes.get(i + 2..i + 6).ok_or(Unsure)?;
                            let unit = hex
                                .iter()
                                .try_fold(0u32, |unit, &h| char::from(h).to_digit(16).map(|d| unit << 4 | d));
                            // Half of a surrogate pair: serde_json judges these
                            // differently when it reads and when it skips.
                            if unit.is_none_or(|u| (0xD800..=0xDFFF).contains(&u)) {
                                return Err(Unsure);
                            }
                            i += 6;
                        }
                        _ => return Err(Unsure),
                    }
                }
                // An unescaped control character.
                _ => return Err(Unsure),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        self.peek()?;
        if self.bytes().get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// Reads `null`.
    pub fn null(&mut self) -> Result<()> {
        self.literal(b"null")
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => Err(Unsure),
        }
    }

    fn digits(&mut self) -> usize {
        let bytes = self.bytes();
        let start = self.pos;
        while bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips a number as JSON writes them (no leading zeros, digits after a point
    /// and in an exponent), without reading its value.
    fn skip_number(&mut self) -> Result<()> {
        let bytes = self.bytes();
        if bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(Unsure);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(Unsure),
        }
        if bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Unsure);
            }
        }
        if matches!(bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Unsure);
            }
        }
        Ok(())
    }

    /// Skips the next value, checking that it is well formed.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek()? {
            b'"' => self.string_span().map(drop),
            // Keys of skipped objects are checked, not decoded.
            b'{' => self.sequence(b'{', b'}', |r| {
                if r.peek()? != b'"' {
                    return Err(Unsure);
                }
                r.string_span()?;
                r.expect(b':')?;
                r.skip()
            }),
            b'[' => self.array(Self::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.null(),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => Err(Unsure),
        }
    }

    /// Reads the next value with `read` and returns its text too.
    pub fn spanned<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<(T, &'a str)> {
        self.peek()?;
        let start = self.pos;
        let value = read(self)?;
        Ok((value, self.text.get(start..self.pos).ok_or(Unsure)?))
    }

    /// Skips the next value and returns its text.
    pub fn raw(&mut self) -> Result<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos).ok_or(Unsure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    fn skips(text: &str) -> bool {
        let mut r = Reader::new(text);
        r.skip().is_ok() && r.finish().is_ok()
    }

    /// The reader skips only what serde_json accepts.
    fn agrees(text: &str) {
        if skips(text) {
            assert!(
                serde_json::from_str::<IgnoredAny>(text).is_ok(),
                "the reader accepts what serde_json rejects: {text:?}"
            );
        }
    }

    #[test]
    fn well_formed_values_are_skipped() {
        for text in [
            r#"{"a": [1, -2.5e+3, 0, 0.0, 1E9, true, false, null, "x\"y\\u00e9\n"], "b": {}, "c": []}"#,
            " \t\n\r\"plain\" ",
            "-0",
            r#"{"nested": {"deeper": [[[{"k": "v"}]]]}}"#,
            r#""\ud83d\ude00" "#,
        ] {
            let mut r = Reader::new(text);
            if text.contains("\\ud83d") {
                // Surrogate escapes are left to serde_json.
                assert_eq!(r.skip(), Err(Unsure));
                continue;
            }
            assert_eq!(r.skip(), Ok(()), "{text}");
            assert_eq!(r.finish(), Ok(()), "{text}");
            agrees(text);
        }
    }

    #[test]
    fn malformed_text_is_left_to_serde_json() {
        for text in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "01",
            "1.",
            "1e",
            "-",
            "+1",
            ".5",
            "tru",
            "nul",
            "True",
            "\"open",
            "\"bad \\x escape\"",
            "\"\\u12g4\"",
            "\"\\u+123\"",
            "\"tab\there\"",
            "[1 2]",
            "{\"a\":1}}",
            "1 2",
            "[\"a\",]",
            "{,}",
            "\u{feff}{}",
        ] {
            assert!(!skips(text), "{text:?}");
            assert!(serde_json::from_str::<IgnoredAny>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let mut r = Reader::new(r#"["plain", "esc\"aped\u00e9", "sn\u00f8w"]"#);
        let mut got = Vec::new();
        r.array(|r| {
            got.push(r.string()?);
            Ok(())
        })
        .unwrap();
        assert!(matches!(got[0], Cow::Borrowed("plain")));
        assert_eq!(got[1], "esc\"apedé");
        assert!(matches!(got[1], Cow::Owned(_)));
        assert_eq!(got[2], "snøw");
    }

    #[test]
    fn raw_is_the_value_text() {
        let mut r = Reader::new(r#"{"a":  {"b": [1, 2]} , "c": null}"#);
        let mut raw = None;
        r.object(|r, key| {
            if key == "a" {
                raw = Some(r.raw()?);
                Ok(())
            } else {
                r.skip()
            }
        })
        .unwrap();
        assert_eq!(raw, Some(r#"{"b": [1, 2]}"#));
    }

    #[test]
    fn nesting_beyond_the_limit_is_left_to_serde_json() {
        let depth = MAX_DEPTH as usize;
        let ok = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(skips(&ok));
        let deep = format!("{}{}", "[".repeat(depth + 1), "]".repeat(depth + 1));
        assert!(!skips(&deep));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Mangled JSON: whatever the reader skips, serde_json accepts.
        #[test]
        fn never_accepts_what_serde_json_rejects(
            cut in 0usize..200,
            at in 0usize..200,
            byte in prop::sample::select(b"{}[],:\"\\ -0123456789.eE+tfnulrsa\t\n".to_vec()),
        ) {
            let base = r#"{"a": [1, -2.5e+3, true, null, "x\"y\n"], "b": {"c": "d", "e": [[], {}]}, "f": 0.5E-2}"#;
            let mut bytes = base.as_bytes().to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut.max(1).min(bytes.len()));
            if let Ok(text) = std::str::from_utf8(&bytes) {
                agrees(text);
            }
        }
    }
}
