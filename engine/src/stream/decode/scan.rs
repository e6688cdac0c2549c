//! A strict, allocation-free JSON reader for the fast path of event decoding.
//!
//! Why not serde: with `float_roundtrip`, serde_json parses every number
//! with its own correctly rounded algorithm before a visitor sees it, and a
//! visitor cannot ask for the number's text instead; and a tree (even a
//! borrowed one) costs an entry per member. This reader checks the syntax as
//! strictly as serde_json, keeps the members the event's paths name, and
//! reads numbers itself: digits eight at a time, then an exact conversion
//! (see [`decimal_to_f64`]) that rounds correctly, as serde_json's
//! `float_roundtrip` does, so the values are the same bits (tested); the
//! rare number it cannot settle (beyond 19 digits or 10^±22, or a tie) is
//! read by `str::parse::<f64>`, which also rounds correctly.
//! Measured with `cargo bench -p benches --bench streaming -- json/decode_only`
//! (events of 20 features and a score, about 575 bytes, into Arrow
//! builders; 2-core Xeon, 2026-12-07): 1.5 µs per event, against 2.3 µs
//! with digits one at a time and every 17-digit number parsed from its
//! text, and 3.0 µs for `serde_json::from_slice` into a `Value` alone.
//!
//! It only ever answers "this is the event" or "take the slow path": it
//! accepts a subset of what serde_json accepts (anything unusual, such as
//! a surrogate escape, a number beyond `f64`, or deep nesting, gives up),
//! and the slow path then decides and words any rejection. So the fast
//! path need not reproduce serde_json's error messages, only its values.

/// The fast path gives up; the slow path decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GiveUp;

/// Result of the fast path.
pub(super) type Fast<T> = Result<T, GiveUp>;

/// Nesting deeper than this gives up (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

/// Byte range of a text, in the payload or in the scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    /// In the payload, without escapes.
    Raw(u32, u32),
    /// Unescaped into the scratch buffer.
    Scratch(u32, u32),
}

/// One JSON value as the fast path keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Tok {
    Null,
    Bool(bool),
    /// An integer of at most 18 digits, not `-0`: its text is its canonical
    /// decimal form, and it reads exactly as an `f64`.
    Int(i64, u32, u32),
    /// Any other number: its value (NaN until [`Scanner::value`] reads the
    /// text, where the exact fast path does not apply) and its text.
    Num(f64, u32, u32),
    Str(Text),
    /// An array, read and skipped.
    Array,
    /// An object, read and skipped (or read into a buffer by the caller).
    Object,
}

/// The reader: the payload (valid UTF-8) and a position in it.
pub(super) struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A reader of `payload`; gives up unless it is UTF-8.
    pub(super) fn new(payload: &'a [u8]) -> Fast<Self> {
        let text = std::str::from_utf8(payload).map_err(|_| GiveUp)?;
        // Offsets are kept as u32.
        if text.len() >= u32::MAX as usize {
            return Err(GiveUp);
        }
        Ok(Self { text, bytes: payload, pos: 0 })
    }

    /// The text of `t`.
    #[inline]
    pub(super) fn text<'s>(payload: &'s str, scratch: &'s str, t: Text) -> &'s str {
        match t {
            Text::Raw(a, b) => payload.get(a as usize..b as usize).unwrap_or(""),
            Text::Scratch(a, b) => scratch.get(a as usize..b as usize).unwrap_or(""),
        }
    }

    /// The payload as text.
    pub(super) fn payload(&self) -> &'a str {
        self.text
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, consumed.
    #[inline]
    fn next_token_byte(&mut self) -> Fast<u8> {
        self.skip_ws();
        let b = self.peek().ok_or(GiveUp)?;
        self.pos += 1;
        Ok(b)
    }

    /// Expects `{`; true if the object is empty (`}` consumed too).
    #[inline]
    pub(super) fn begin_object(&mut self) -> Fast<bool> {
        if self.next_token_byte()? != b'{' {
            return Err(GiveUp);
        }
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads a key and its colon (after `{` or a `,`).
    #[inline]
    pub(super) fn key(&mut self, scratch: &mut String) -> Fast<Text> {
        if self.next_token_byte()? != b'"' {
            return Err(GiveUp);
        }
        let key = self.string(scratch)?;
        if self.next_token_byte()? != b':' {
            return Err(GiveUp);
        }
        Ok(key)
    }

    /// After a member: true if another follows (`,`), false at `}`.
    #[inline]
    pub(super) fn more_members(&mut self) -> Fast<bool> {
        match self.next_token_byte()? {
            b',' => Ok(true),
            b'}' => Ok(false),
            _ => Err(GiveUp),
        }
    }

    /// Only whitespace may follow the event.
    pub(super) fn end(&mut self) -> Fast<()> {
        self.skip_ws();
        if self.pos == self.bytes.len() { Ok(()) } else { Err(GiveUp) }
    }

    /// A value at an object member's place. Arrays and objects are read
    /// through and returned as [`Tok::Array`] / [`Tok::Object`].
    #[inline]
    pub(super) fn value(&mut self, scratch: &mut String, depth: u32) -> Fast<Tok> {
        let tok = self.scalar_or_open(scratch)?;
        Ok(match tok {
            Tok::Array => {
                self.rest_of_array(scratch, depth + 1)?;
                tok
            }
            Tok::Object => {
                self.rest_of_object(scratch, depth + 1)?;
                tok
            }
            // serde_json reads numbers in object members as numbers: one
            // beyond `f64` is an error there, so it is not taken here.
            Tok::Num(v, a, b) if v.is_nan() => Tok::Num(parse_f64(self.text, a, b)?, a, b),
            _ => tok,
        })
    }

    /// A value at an object member's place where the caller reads an
    /// object itself: `Tok::Object` means `{` was consumed and not more.
    #[inline]
    pub(super) fn value_or_open_object(&mut self, scratch: &mut String, depth: u32) -> Fast<Tok> {
        self.skip_ws();
        if self.peek() == Some(b'{') {
            return Ok(Tok::Object);
        }
        self.value(scratch, depth)
    }

    /// Reads a scalar, or consumes the opening bracket of an array or object.
    #[inline]
    fn scalar_or_open(&mut self, scratch: &mut String) -> Fast<Tok> {
        self.skip_ws();
        let start = self.pos;
        let first = self.peek().ok_or(GiveUp)?;
        self.pos += 1;
        match first {
            b'"' => Ok(Tok::Str(self.string(scratch)?)),
            b'{' => Ok(Tok::Object),
            b'[' => Ok(Tok::Array),
            b't' => self.literal(b"rue", Tok::Bool(true)),
            b'f' => self.literal(b"alse", Tok::Bool(false)),
            b'n' => self.literal(b"ull", Tok::Null),
            b'-' | b'0'..=b'9' => self.number(start),
            _ => Err(GiveUp),
        }
    }

    fn literal(&mut self, rest: &[u8], tok: Tok) -> Fast<Tok> {
        if self.bytes.get(self.pos..self.pos + rest.len()) == Some(rest) {
            self.pos += rest.len();
            Ok(tok)
        } else {
            Err(GiveUp)
        }
    }

    /// After `[`: the items, skipped, and `]`.
    fn rest_of_array(&mut self, scratch: &mut String, depth: u32) -> Fast<()> {
        if depth > MAX_DEPTH {
            return Err(GiveUp);
        }
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            // serde_json skips array items unparsed (`IgnoredAny`): numbers
            // beyond `f64` pass there, so they pass here too.
            match self.scalar_or_open(scratch)? {
                Tok::Array => self.rest_of_array(scratch, depth + 1)?,
                Tok::Object => self.rest_of_object(scratch, depth + 1)?,
                _ => {}
            }
            match self.next_token_byte()? {
                b',' => {}
                b']' => return Ok(()),
                _ => return Err(GiveUp),
            }
        }
    }

    /// After `{`: the members, skipped, and `}`.
    pub(super) fn rest_of_object(&mut self, scratch: &mut String, depth: u32) -> Fast<()> {
        if depth > MAX_DEPTH {
            return Err(GiveUp);
        }
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let mark = scratch.len();
            self.key(scratch)?;
            // The key is not needed: give its scratch space back.
            scratch.truncate(mark);
            let mark = scratch.len();
            self.value(scratch, depth)?;
            scratch.truncate(mark);
            if !self.more_members()? {
                return Ok(());
            }
        }
    }

    /// After the opening quote: the string and its closing quote.
    #[inline]
    fn string(&mut self, scratch: &mut String) -> Fast<Text> {
        let start = self.pos;
        loop {
            let b = *self.bytes.get(self.pos).ok_or(GiveUp)?;
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Text::Raw(start as u32, (self.pos - 1) as u32));
                }
                b'\\' => return self.escaped_string(start, scratch),
                0..=0x1f => return Err(GiveUp),
                _ => self.pos += 1,
            }
        }
    }

    /// A string with escapes, from `start`, unescaped into `scratch`.
    fn escaped_string(&mut self, start: usize, scratch: &mut String) -> Fast<Text> {
        let from = scratch.len();
        scratch.push_str(self.text.get(start..self.pos).ok_or(GiveUp)?);
        loop {
            let b = *self.bytes.get(self.pos).ok_or(GiveUp)?;
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Text::Scratch(from as u32, scratch.len() as u32));
                }
                b'\\' => {
                    let escape = *self.bytes.get(self.pos + 1).ok_or(GiveUp)?;
                    self.pos += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.text.get(self.pos..self.pos + 4).ok_or(GiveUp)?;
                            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                                return Err(GiveUp);
                            }
                            let code = u32::from_str_radix(hex, 16).map_err(|_| GiveUp)?;
                            self.pos += 4;
                            // Surrogates (pairs or lone) are left to serde_json.
                            char::from_u32(code).ok_or(GiveUp)?
                        }
                        _ => return Err(GiveUp),
                    };
                    scratch.push(c);
                }
                0..=0x1f => return Err(GiveUp),
                _ => {
                    // Copy the run up to the next quote or backslash at once.
                    let run = self.pos;
                    while let Some(&b) = self.bytes.get(self.pos) {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    scratch.push_str(self.text.get(run..self.pos).ok_or(GiveUp)?);
                }
            }
        }
    }

    /// A number starting at `start` (its first byte consumed).
    #[inline]
    fn number(&mut self, start: usize) -> Fast<Tok> {
        let bytes = self.bytes;
        let mut i = start;
        let negative = bytes[i] == b'-';
        if negative {
            i += 1;
        }
        // The digits, integer part and fraction, while there are at most 19
        // from the first that is not zero (so that `mantissa` cannot
        // overflow), and the power of ten they are scaled by.
        let mut digits = Digits::default();
        let int_start = i;
        match bytes.get(i) {
            Some(b'0') => {
                i += 1;
                digits.push(0);
            }
            Some(b'1'..=b'9') => i = digits.read(bytes, i),
            _ => return Err(GiveUp),
        }
        let int_end = i;
        let mut scale = 0i64;
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            let first = i + 1;
            i = digits.read(bytes, first);
            if i == first {
                return Err(GiveUp);
            }
            scale = -((i - first) as i64);
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            integer = false;
            i += 1;
            let sign = match bytes.get(i) {
                Some(b'-') => {
                    i += 1;
                    -1
                }
                Some(b'+') => {
                    i += 1;
                    1
                }
                _ => 1,
            };
            let first = i;
            let mut exponent = 0i64;
            while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 20);
                i += 1;
            }
            if i == first {
                return Err(GiveUp);
            }
            scale += sign * exponent;
        }
        self.pos = i;
        // `-0` is a float to serde_json (negative zero); 19 digits or more
        // may not fit an i64.
        let int_digits = int_end - int_start;
        if integer && int_digits <= 18 && !(negative && digits.mantissa == 0) {
            let magnitude = digits.mantissa as i64;
            let value = if negative { -magnitude } else { magnitude };
            return Ok(Tok::Int(value, start as u32, i as u32));
        }
        let value = match decimal_to_f64(&digits, scale) {
            Some(v) if negative => -v,
            Some(v) => v,
            None => f64::NAN,
        };
        Ok(Tok::Num(value, start as u32, i as u32))
    }
}

/// The decimal digits of a number, gathered as an integer.
#[derive(Debug, Default)]
struct Digits {
    mantissa: u64,
    /// Digits from the first that is not zero.
    count: u32,
    /// More than 19 digits: `mantissa` no longer holds them.
    overflow: bool,
}

impl Digits {
    #[inline(always)]
    fn push(&mut self, digit: u8) {
        self.push_chunk(u64::from(digit), 1, 10);
    }

    #[inline(always)]
    fn push_chunk(&mut self, value: u64, count: u32, power: u64) {
        if self.mantissa == 0 {
            // Leading zeros take no room.
            self.count = value.checked_ilog10().map_or(0, |d| d + 1);
        } else {
            self.count += count;
        }
        if self.count <= 19 {
            self.mantissa = self.mantissa * power + value;
        } else {
            self.overflow = true;
        }
    }

    /// Reads the run of digits from `i`, eight at a time while it lasts;
    /// returns where it ends.
    #[inline(always)]
    fn read(&mut self, bytes: &[u8], mut i: usize) -> usize {
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            if !all_digits(word) {
                break;
            }
            self.push_chunk(eight_digits(word), 8, 100_000_000);
            i += 8;
        }
        while let Some(&d @ b'0'..=b'9') = bytes.get(i) {
            self.push(d - b'0');
            i += 1;
        }
        i
    }
}

/// Whether all eight bytes of `word` are ASCII digits: each byte's high
/// nibble is 3, and adding 6 to it does not carry into the high nibble.
#[inline(always)]
fn all_digits(word: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    (word & HIGH) == THREES && (word.wrapping_add(0x0606_0606_0606_0606) & HIGH) == THREES
}

/// The value of eight ASCII digits, the first in the lowest byte, in three
/// multiplications: bytes become digits, neighbouring digits become pairs
/// (in the even bytes), and the four pairs are weighted by 10^6, 10^4, 10^2
/// and 1 in the upper half of two products.
#[inline(always)]
fn eight_digits(word: u64) -> u64 {
    let d = word - 0x3030_3030_3030_3030;
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8);
    const LOW: u64 = 0x0000_00FF_0000_00FF;
    let outer = (pairs & LOW).wrapping_mul(100 + (1_000_000 << 32));
    let inner = ((pairs >> 16) & LOW).wrapping_mul(1 + (10_000 << 32));
    (outer.wrapping_add(inner)) >> 32
}

/// `mantissa * 10^scale` correctly rounded, where that can be had without
/// big numbers; `None` where the text must be parsed instead.
///
/// A mantissa of at most 2^53 and a power of ten of at most 10^22 are both
/// exact `f64`s, so one multiplication or division rounds once, correctly
/// (Clinger's fast path). Otherwise (17 digits or more, as about half of
/// shortest-form doubles have) the result is carried to about 104 bits as
/// `q1 + q2`. The mantissa is split into `hi + lo`, both exact `f64`s.
/// Times a power of ten (exact up to 10^22), `q1` is the rounded product
/// and an FMA gives its rounding error exactly. Divided by one, `q1` is `hi` times the rounded reciprocal
/// (a multiplication: a division costs several times as much), within two
/// ulps, and an FMA gives the remainder `hi - q1 * 10^k`, whose quotient
/// corrects `q1`. `q1 + q2` then rounds to the same `f64` as the exact value
/// unless the two lie on either side of a midpoint between doubles, which
/// can only happen when `q1 + q2` is within its error bound (well under
/// 2^-40 of an ulp) of one: those numbers (ties, such as integers above
/// 2^53 halfway between two doubles, and one in about 2^40 others) go to
/// the text parser.
#[inline]
fn decimal_to_f64(digits: &Digits, scale: i64) -> Option<f64> {
    if digits.overflow || !(-22..=22).contains(&scale) {
        return None;
    }
    let k = scale.unsigned_abs() as usize;
    let mantissa = digits.mantissa;
    if mantissa <= 1 << 53 {
        // Clinger's fast path: fewer steps than the general case.
        let m = mantissa as f64;
        return Some(if scale >= 0 { m * POWERS_OF_TEN[k] } else { m / POWERS_OF_TEN[k] });
    }
    let hi = mantissa as f64;
    // hi < 2^64 (the mantissa has at most 19 digits), and |lo| <= 2^10: exact.
    let lo = mantissa.wrapping_sub(hi as u64) as i64 as f64;
    let (q1, q2) = if scale >= 0 {
        let power = POWERS_OF_TEN[k];
        let q1 = hi * power;
        (q1, hi.mul_add(power, -q1) + lo * power)
    } else {
        let (power, reciprocal) = (POWERS_OF_TEN[k], RECIPROCALS_OF_TEN[k]);
        let q1 = hi * reciprocal;
        (q1, ((-q1).mul_add(power, hi) + lo) * reciprocal)
    };
    let sum = q1 + q2;
    // What rounding `q1 + q2` to `sum` lost, exactly (|q2| <= |q1|).
    let lost = q2 - (sum - q1);
    let ulp = f64::from_bits(sum.to_bits() + 1) - sum;
    // Half the gap to the neighbouring doubles; below a power of two the
    // gap is half as wide.
    let half_gap = if sum.to_bits() & ((1 << 52) - 1) == 0 { ulp / 4.0 } else { ulp / 2.0 };
    (lost.abs() + ulp * POSSIBLE_ERROR < half_gap).then_some(sum)
}

/// A bound, in ulps of the result and with a wide margin, on how far the
/// `q1 + q2` of [`decimal_to_f64`] can be from the exact value.
const POSSIBLE_ERROR: f64 = 1.0 / (1u64 << 40) as f64;

/// 10^0 to 10^22: the powers of ten an f64 holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// 10^-0 to 10^-22, rounded.
const RECIPROCALS_OF_TEN: [f64; 23] = {
    let mut reciprocals = [1.0; 23];
    let mut k = 0;
    while k < 23 {
        reciprocals[k] = 1.0 / POWERS_OF_TEN[k];
        k += 1;
    }
    reciprocals
};

/// The value of a number's text: correctly rounded, as serde_json's
/// `float_roundtrip` reads it. Gives up beyond `f64` (serde_json's "number
/// out of range").
#[inline]
pub(super) fn parse_f64(payload: &str, start: u32, end: u32) -> Fast<f64> {
    let text = payload.get(start as usize..end as usize).ok_or(GiveUp)?;
    let value: f64 = text.parse().map_err(|_| GiveUp)?;
    if value.is_finite() { Ok(value) } else { Err(GiveUp) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number a payload's only value reads as.
    fn read(text: &str) -> f64 {
        let mut scanner = Scanner::new(text.as_bytes()).unwrap();
        match scanner.value(&mut String::new(), 0).unwrap() {
            Tok::Int(i, ..) => i as f64,
            Tok::Num(v, ..) => v,
            other => panic!("{text} read as {other:?}"),
        }
    }

    #[test]
    fn eight_digits_at_once_read_as_one_at_a_time() {
        for text in ["00000000", "12345678", "99999999", "90000001", "01020304"] {
            let word = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert!(all_digits(word), "{text}");
            assert_eq!(eight_digits(word), text.parse::<u64>().unwrap(), "{text}");
        }
        for text in ["1234567a", "/2345678", ":2345678", "1234 678", "123456.8"] {
            let word = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert!(!all_digits(word), "{text}");
        }
    }

    #[test]
    fn numbers_read_to_the_bits_the_standard_parser_gives() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut exact = 0;
        let total = 360_000;
        for i in 0..total {
            let bits = next();
            let text = match i % 6 {
                // Shortest round-trip forms: 17 digits about half the time.
                0 => format!("{}", f64::from_bits(bits >> 2) * 1e-300),
                1 => format!("{}", (bits >> 11) as f64 / (1u64 << 53) as f64 - 0.5),
                2 => format!("{:.18e}", (bits >> 11) as f64 / (1u64 << 40) as f64),
                // 17 to 19 digits and every scale the fast path takes.
                3 => {
                    let digits = 10_000_000_000_000_000 + bits % 9_000_000_000_000_000_000;
                    format!("{digits}e{}", (next() % 45) as i64 - 22)
                }
                4 => {
                    let digits = (bits >> 8) % 100_000_000_000_000_000;
                    format!("-{}.{digits:017}", bits % 7)
                }
                // Short mantissas (Clinger's fast path), zero among them.
                _ => format!("{}e{}", bits % 1000, (next() % 45) as i64 - 22),
            };
            let expected: f64 = text.parse().unwrap();
            let got = read(&text);
            assert_eq!(got.to_bits(), expected.to_bits(), "{text}: {got:e} against {expected:e}");
            // Before `value`, a number the exact path could not read is NaN.
            let mut scanner = Scanner::new(text.as_bytes()).unwrap();
            let tok = scanner.scalar_or_open(&mut String::new()).unwrap();
            if i % 6 != 0 && i % 6 != 2 {
                exact += usize::from(matches!(tok, Tok::Num(v, ..) if !v.is_nan()));
            }
        }
        // Those kinds all have at most 19 digits and scales within 10^±22.
        // What the exact path leaves are ties, integers above 2^53 that lie
        // exactly halfway between two doubles (such as 159787407200126928,
        // 16 past a multiple of 32 where doubles are 32 apart; it cannot
        // tell a tie from a near-tie), plus one in about 2^40 near-ties.
        let counted = total / 6 * 4;
        let left = counted - exact;
        assert!(left < counted / 100, "{left} of {counted} numbers parsed from the text");
        for text in ["0", "-0", "0.0", "-0.0", "0e7", "-0.000e-3", "1e-22", "9e22"] {
            let expected: f64 = text.parse().unwrap();
            assert_eq!(read(text).to_bits(), expected.to_bits(), "{text}");
        }
    }
}
