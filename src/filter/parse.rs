//! Lexer and recursive-descent parser for the filter grammar (RFC 7644 §3.4.2.2, Figure 1).
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//!
//! Precedence is `not` > `and` > `or`, both binary operators left-associative. Keywords
//! and operators are case-insensitive. Recursion depth is bounded by the nesting limit,
//! so no input can overflow the stack.

use serde_json::Number;

use super::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, HARD_MAX_DEPTH, MAX_LOGICAL_OPERATORS,
    ParseLimits,
};

#[cfg(test)]
thread_local! {
    /// Steps of the lexer and the parser (bytes scanned, tokens looked at), counted by the
    /// tests that check that parsing works in time linear in the input.
    pub(super) static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one step (in tests; nothing otherwise).
#[inline(always)]
fn tick() {
    #[cfg(test)]
    WORK.with(|w| w.set(w.get() + 1));
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// An unquoted run: attribute path, keyword, operator, number, `true`/`false`/`null`.
    Word(&'a str),
    /// A JSON string literal, unescaped.
    Str(String),
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok<'a>,
    pos: usize,
}

/// Parses `input`; with `unquoted_values`, a comparison value written without quotes
/// (a word that is not `true`, `false`, `null` or a number) is read as a string.
pub(super) fn parse(
    input: &str,
    limits: &ParseLimits,
    unquoted_values: bool,
) -> Result<Filter, FilterError> {
    if input.len() > limits.max_len {
        return Err(FilterError::new(
            limits.max_len,
            format!("filter is longer than {} bytes", limits.max_len),
        ));
    }
    let tokens = lex(input)?;
    let mut parser = Parser {
        tokens,
        idx: 0,
        end: input.len(),
        depth: 0,
        max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
        operators: 0,
        max_operators: limits.max_terms.min(MAX_LOGICAL_OPERATORS),
        unquoted_values,
    };
    let filter = parser.parse_or(false)?;
    match parser.peek() {
        None => Ok(filter),
        Some(t) => {
            let message = match &t.tok {
                Tok::RParen => "unbalanced ')'".to_string(),
                Tok::RBracket => "unbalanced ']'".to_string(),
                _ => format!(
                    "expected 'and', 'or' or end of filter, found {}",
                    describe(t)
                ),
            };
            Err(FilterError::new(t.pos, message))
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_delimiter(b: u8) -> bool {
    is_space(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

/// Slices `input` at byte offsets that the lexer knows to be char boundaries; never panics.
fn slice(input: &str, start: usize, end: usize) -> Result<&str, FilterError> {
    input
        .get(start..end)
        .ok_or_else(|| FilterError::new(start, "invalid character boundary"))
}

fn lex(input: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let bytes = input.as_bytes();
    // About one token per 4 bytes in typical filters; capped so that huge input does not
    // reserve much before failing.
    let mut tokens = Vec::with_capacity(input.len().min(4096) / 4);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        tick();
        let tok = match b {
            _ if is_space(b) => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'"' => {
                let (s, end) = lex_string(input, i)?;
                tokens.push(Token {
                    tok: Tok::Str(s),
                    pos: i,
                });
                i = end;
                continue;
            }
            _ => {
                let start = i;
                while bytes.get(i).is_some_and(|&b| !is_delimiter(b)) {
                    tick();
                    i += 1;
                }
                tokens.push(Token {
                    tok: Tok::Word(slice(input, start, i)?),
                    pos: start,
                });
                continue;
            }
        };
        tokens.push(Token { tok, pos: i });
        i += 1;
    }
    Ok(tokens)
}

/// Lexes the JSON string starting at the `"` at byte `start`; returns the unescaped text and
/// the offset just past the closing quote.
fn lex_string(input: &str, start: usize) -> Result<(String, usize), FilterError> {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        tick();
        let mut j = i;
        while bytes.get(j).is_some_and(|&b| b != b'"' && b != b'\\') {
            tick();
            j += 1;
        }
        out.push_str(slice(input, i, j)?);
        match bytes.get(j) {
            None => return Err(FilterError::new(start, "unterminated string literal")),
            Some(b'"') => return Ok((out, j + 1)),
            Some(_) => {
                // A backslash at `j`.
                let c = match bytes.get(j + 1) {
                    Some(b'"') => '"',
                    Some(b'\\') => '\\',
                    Some(b'/') => '/',
                    Some(b'b') => '\u{08}',
                    Some(b'f') => '\u{0C}',
                    Some(b'n') => '\n',
                    Some(b'r') => '\r',
                    Some(b't') => '\t',
                    Some(b'u') => {
                        let (c, next) = lex_unicode_escape(input, j)?;
                        out.push(c);
                        i = next;
                        continue;
                    }
                    None => return Err(FilterError::new(start, "unterminated string literal")),
                    Some(_) => {
                        return Err(FilterError::new(
                            j,
                            "invalid escape in string literal (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                        ));
                    }
                };
                out.push(c);
                i = j + 2;
            }
        }
    }
}

fn hex4(input: &str, at: usize) -> Option<u32> {
    let digits = input.get(at..at + 4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Decodes `\uXXXX` (and a following low surrogate) at the backslash at byte `at`.
fn lex_unicode_escape(input: &str, at: usize) -> Result<(char, usize), FilterError> {
    let bad = |m: &str| FilterError::new(at, m.to_string());
    let hi = hex4(input, at + 2).ok_or_else(|| bad("invalid \\u escape: expected 4 hex digits"))?;
    match hi {
        0xD800..=0xDBFF => {
            let lo = match input.get(at + 6..at + 8) {
                Some("\\u") => hex4(input, at + 8),
                _ => None,
            };
            match lo {
                Some(lo @ 0xDC00..=0xDFFF) => {
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(code)
                        .map(|c| (c, at + 12))
                        .ok_or_else(|| bad("invalid \\u escape"))
                }
                _ => Err(bad(
                    "invalid \\u escape: high surrogate not followed by a low surrogate",
                )),
            }
        }
        0xDC00..=0xDFFF => Err(bad("invalid \\u escape: unpaired low surrogate")),
        _ => char::from_u32(hi)
            .map(|c| (c, at + 6))
            .ok_or_else(|| bad("invalid \\u escape")),
    }
}

fn describe(t: &Token<'_>) -> String {
    match &t.tok {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::LBracket => "'['".into(),
        Tok::RBracket => "']'".into(),
        Tok::Str(_) => "a string".into(),
        Tok::Word(w) => {
            let shown: String = w.chars().take(40).collect();
            if shown.len() < w.len() {
                format!("'{shown}...'")
            } else {
                format!("'{shown}'")
            }
        }
    }
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    idx: usize,
    /// Input length: the position reported for an unexpected end.
    end: usize,
    depth: usize,
    max_depth: usize,
    operators: usize,
    max_operators: usize,
    /// Compatibility (`unquoted_filter_values`): `userName eq bjensen` (WSO2 Identity
    /// Server, authentik). The value is the whole word: a maximal run of characters other
    /// than white space, `(`, `)`, `[`, `]` and `"`; it is a string when it is not `true`,
    /// `false` or `null` (any case) and does not begin like a number (`-` or a digit).
    /// The grammar has a value, and only a value, at that place, so no reading is in doubt.
    unquoted_values: bool,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        tick();
        self.tokens.get(self.idx)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token<'a>> {
        self.tokens.get(self.idx + ahead)
    }

    fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "end of filter".into(), describe)
    }

    fn error_expected(&self, what: &str) -> FilterError {
        FilterError::new(
            self.pos(),
            format!("expected {what}, found {}", self.found()),
        )
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self, pos: usize) -> Result<(), FilterError> {
        self.depth += 1;
        self.check_depth(self.depth, pos)
    }

    fn check_depth(&self, depth: usize, pos: usize) -> Result<(), FilterError> {
        if depth > self.max_depth {
            return Err(FilterError::new(
                pos,
                format!("filter is nested deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn count_operator(&mut self, pos: usize) -> Result<(), FilterError> {
        self.operators += 1;
        if self.operators > self.max_operators {
            return Err(FilterError::new(
                pos,
                format!(
                    "filter has more than {} 'and'/'or' operators",
                    self.max_operators
                ),
            ));
        }
        Ok(())
    }

    /// `or_expr = and_expr *("or" and_expr)`
    fn parse_or(&mut self, in_bracket: bool) -> Result<Filter, FilterError> {
        self.parse_chain(in_bracket, "or", Self::parse_and, Filter::Or)
    }

    /// `and_expr = unary *("and" unary)`
    fn parse_and(&mut self, in_bracket: bool) -> Result<Filter, FilterError> {
        self.parse_chain(in_bracket, "and", Self::parse_unary, Filter::And)
    }

    /// `operand *(keyword operand)`, joined from the left (`a or b or c` is
    /// `(a or b) or c`); each keyword counts towards the operator limit.
    fn parse_chain(
        &mut self,
        in_bracket: bool,
        keyword: &str,
        operand: fn(&mut Self, bool) -> Result<Filter, FilterError>,
        join: fn(Box<Filter>, Box<Filter>) -> Filter,
    ) -> Result<Filter, FilterError> {
        let mut left = operand(self, in_bracket)?;
        while self.peek_keyword(keyword) {
            self.count_operator(self.pos())?;
            self.idx += 1;
            let right = operand(self, in_bracket)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `unary = "not" "(" or_expr ")" / "(" or_expr ")" / attrExp / valuePath`
    fn parse_unary(&mut self, in_bracket: bool) -> Result<Filter, FilterError> {
        let Some(tok) = self.peek() else {
            return Err(self.error_expected("an attribute path, '(' or 'not'"));
        };
        let pos = tok.pos;
        match &tok.tok {
            Tok::LParen => {
                self.enter(pos)?;
                self.idx += 1;
                let inner = self.parse_group(in_bracket, pos)?;
                self.leave();
                Ok(inner)
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not")
                    && matches!(
                        self.peek_at(1),
                        Some(Token {
                            tok: Tok::LParen,
                            ..
                        })
                    ) =>
            {
                self.enter(pos)?;
                let open = self.peek_at(1).map_or(pos, |t| t.pos);
                self.idx += 2;
                let inner = self.parse_group(in_bracket, open)?;
                self.leave();
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::Word(w) => {
                let w = *w;
                self.idx += 1;
                self.parse_attr_expr(w, pos, in_bracket)
            }
            _ => Err(self.error_expected("an attribute path, '(' or 'not'")),
        }
    }

    /// The rest of a parenthesised group, after its `(` at `open`.
    fn parse_group(&mut self, in_bracket: bool, open: usize) -> Result<Filter, FilterError> {
        let inner = self.parse_or(in_bracket)?;
        match self.peek() {
            Some(Token {
                tok: Tok::RParen, ..
            }) => {
                self.idx += 1;
                Ok(inner)
            }
            _ => Err(self.error_expected(&format!(
                "')' (to close the '(' at position {open}), 'and' or 'or'"
            ))),
        }
    }

    fn parse_attr_expr(
        &mut self,
        word: &str,
        pos: usize,
        in_bracket: bool,
    ) -> Result<Filter, FilterError> {
        let path = parse_path(word, pos, in_bracket)?;
        let Some(Token {
            tok: Tok::LBracket,
            pos: open,
        }) = self.peek()
        else {
            return self.parse_operation(path);
        };
        let open = *open;
        if in_bracket {
            return Err(FilterError::new(
                open,
                "value filters ('[...]') cannot be nested",
            ));
        }
        if path.sub_attr.is_some() {
            return Err(FilterError::new(
                open,
                "a value filter ('[...]') must follow an attribute name without a sub-attribute",
            ));
        }
        self.enter(open)?;
        self.idx += 1;
        let mut inner = self.parse_or(true)?;
        match self.peek() {
            Some(Token {
                tok: Tok::RBracket, ..
            }) => self.idx += 1,
            _ => {
                return Err(self.error_expected(&format!(
                    "']' (to close the '[' at position {open}), 'and' or 'or'"
                )));
            }
        }
        self.leave();
        // `emails[type eq "work"].value eq "x"`, as Entra ID sends it: normalise to
        // `emails[type eq "work" and value eq "x"]`.
        let entra_tail = match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => w.strip_prefix('.').map(|sub| (sub, *pos)),
            _ => None,
        };
        if let Some((sub, dot)) = entra_tail {
            check_name(sub, dot + 1)?;
            self.count_operator(dot)?;
            if matches!(inner, Filter::Or(..)) {
                // Printed as `emails[(a or b) and value eq "x"]`, which may be one level
                // deeper than written; the printed form must parse under the same limits.
                self.check_depth(self.depth + 2 + super::display::nesting(&inner), dot)?;
            }
            self.idx += 1;
            let tail = self.parse_operation(AttrPath::new(sub))?;
            inner = Filter::And(Box::new(inner), Box::new(tail));
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        })
    }

    /// `"pr"` or `compareOp compValue` after an attribute path.
    fn parse_operation(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        const EXPECTED_OP: &str =
            "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after the attribute path";
        let Some(Token {
            tok: Tok::Word(w), ..
        }) = self.peek()
        else {
            return Err(self.error_expected(EXPECTED_OP));
        };
        if w.eq_ignore_ascii_case("pr") {
            self.idx += 1;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(w) else {
            return Err(self.error_expected(EXPECTED_OP));
        };
        self.idx += 1;
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, FilterError> {
        const EXPECTED_VALUE: &str =
            "a value (a quoted string, a number, true, false or null) after the operator";
        if let Some(Token {
            tok: Tok::Str(s), ..
        }) = self.tokens.get_mut(self.idx)
        {
            // The token is consumed here, so its string can be moved out.
            let value = CompValue::String(std::mem::take(s));
            self.idx += 1;
            return Ok(value);
        }
        let value = match self.peek() {
            Some(Token {
                tok: Tok::Word(w),
                pos,
            }) => {
                if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else if looks_numeric(w) {
                    CompValue::Number(parse_number(w, *pos)?)
                } else if self.unquoted_values {
                    CompValue::String((*w).to_owned())
                } else {
                    return Err(self.error_expected(EXPECTED_VALUE));
                }
            }
            _ => return Err(self.error_expected(EXPECTED_VALUE)),
        };
        self.idx += 1;
        Ok(value)
    }
}

fn looks_numeric(w: &str) -> bool {
    w.bytes()
        .next()
        .is_some_and(|b| b == b'-' || b.is_ascii_digit())
}

/// Parses a JSON number: `-? (0 / [1-9] *DIGIT) [. 1*DIGIT] [(e/E) [+/-] 1*DIGIT]`.
fn parse_number(w: &str, pos: usize) -> Result<Number, FilterError> {
    let b = w.as_bytes();
    let mut i = 0;
    let invalid = |at: usize| {
        FilterError::new(
            pos + at,
            format!("invalid number '{w}' (expected a JSON number such as -12, 3.5 or 1e3)"),
        )
    };
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b.get(int_start) == Some(&b'0')) {
        return Err(invalid(int_start));
    }
    let mut integral = true;
    if b.get(i) == Some(&b'.') {
        integral = false;
        i += 1;
        if digits(&mut i) == 0 {
            return Err(invalid(i));
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        integral = false;
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return Err(invalid(i));
        }
    }
    if i != b.len() {
        return Err(invalid(i));
    }
    if integral {
        if let Ok(u) = w.parse::<u64>() {
            return Ok(Number::from(u));
        }
        if let Ok(v) = w.parse::<i64>() {
            return Ok(Number::from(v));
        }
    }
    w.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| FilterError::new(pos, format!("number '{w}' is out of range")))
}

/// Checks `ATTRNAME = ALPHA *("-" / "_" / DIGIT / ALPHA)`, or `$ref`; `pos` is where it starts.
fn check_name(name: &str, pos: usize) -> Result<(), FilterError> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.char_indices();
    match chars.next() {
        None => return Err(FilterError::new(pos, "expected an attribute name")),
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        Some((_, c)) => {
            return Err(FilterError::new(
                pos,
                format!("invalid attribute name: must start with a letter, found '{c}'"),
            ));
        }
    }
    for (i, c) in chars {
        tick();
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(FilterError::new(
                pos + i,
                format!("invalid character '{c}' in attribute name"),
            ));
        }
    }
    Ok(())
}

/// Splits `[urn ":"] name ["." sub]`; the URN is everything up to the last `:`.
fn parse_path(word: &str, pos: usize, in_bracket: bool) -> Result<AttrPath, FilterError> {
    let (urn, rest, rest_pos) = match word.rfind(':') {
        Some(0) => return Err(FilterError::new(pos, "empty schema URN before ':'")),
        Some(i) => (
            Some(slice(word, 0, i)?),
            slice(word, i + 1, word.len())?,
            pos + i + 1,
        ),
        None => (None, word, pos),
    };
    if urn.is_some() && in_bracket {
        return Err(FilterError::new(
            pos,
            "attributes inside '[...]' are sub-attributes and take no schema URN",
        ));
    }
    let (name, sub) = match rest.find('.') {
        Some(d) => (
            slice(rest, 0, d)?,
            Some((slice(rest, d + 1, rest.len())?, rest_pos + d)),
        ),
        None => (rest, None),
    };
    check_name(name, rest_pos)?;
    let sub_attr = match sub {
        None => None,
        Some((sub, dot)) => {
            if in_bracket {
                return Err(FilterError::new(
                    dot,
                    "attributes inside '[...]' are sub-attributes and cannot have a sub-attribute",
                ));
            }
            if let Some(d2) = sub.find('.') {
                return Err(FilterError::new(
                    dot + 1 + d2,
                    "an attribute path has at most one sub-attribute",
                ));
            }
            check_name(sub, dot + 1)?;
            Some(sub.to_string())
        }
    };
    Ok(AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub_attr,
    })
}

#[cfg(test)]
mod unquoted_tests {
    use proptest::prelude::*;

    use super::parse;
    use crate::filter::{CompValue, Filter, ParseLimits};

    fn tolerant(input: &str) -> Result<Filter, crate::filter::FilterError> {
        parse(input, &ParseLimits::default(), true)
    }

    fn strict(input: &str) -> Result<Filter, crate::filter::FilterError> {
        parse(input, &ParseLimits::default(), false)
    }

    #[test]
    fn wso2_unquoted_value_is_a_string_under_the_tolerance_only() {
        let f = tolerant("userName Eq bjensen").unwrap();
        assert_eq!(f, strict("userName eq \"bjensen\"").unwrap());
        assert!(strict("userName Eq bjensen").is_err());
    }

    #[test]
    fn unquoted_values_end_at_white_space_brackets_and_parentheses() {
        assert_eq!(
            tolerant("(userName eq a@example.com) and emails[value eq b.c]").unwrap(),
            strict("(userName eq \"a@example.com\") and emails[value eq \"b.c\"]").unwrap()
        );
        assert_eq!(
            tolerant("userName eq bjensen or active eq true").unwrap(),
            strict("userName eq \"bjensen\" or active eq true").unwrap()
        );
    }

    #[test]
    fn literals_and_numbers_keep_their_reading_under_the_tolerance() {
        for (input, value) in [
            ("active eq TRUE", CompValue::Bool(true)),
            ("active eq false", CompValue::Bool(false)),
            ("title eq null", CompValue::Null),
        ] {
            match tolerant(input).unwrap() {
                Filter::Compare { value: v, .. } => assert_eq!(v, value, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        assert!(matches!(
            tolerant("x eq 42").unwrap(),
            Filter::Compare {
                value: CompValue::Number(_),
                ..
            }
        ));
        // Begins like a number but is not one: still an error, not a string.
        assert!(tolerant("userName eq 12ab").is_err());
        // A value that runs into a quoted string, or a missing value, stays an error.
        assert!(tolerant("userName eq bj\"x\"").is_err());
        assert!(tolerant("userName eq").is_err());
        assert!(tolerant("userName eq )").is_err());
    }

    proptest! {
        #[test]
        fn unquoted_values_round_trip_through_display(
            word in "[A-Za-z_@.][^ \t\r\n()\\[\\]\"]{0,12}",
        ) {
            prop_assume!(!["true", "false", "null"].iter().any(|k| word.eq_ignore_ascii_case(k)));
            let f = tolerant(&format!("userName eq {word}")).unwrap();
            prop_assert_eq!(strict(&f.to_string()).unwrap(), f.clone());
            prop_assert_eq!(tolerant(&f.to_string()).unwrap(), f);
        }
    }
}
