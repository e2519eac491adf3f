//! The operator language of Ironic's root device hints (oslo.utils' "specs matcher"), as
//! ironic-python-agent applies it to a disk's fields.
//!
//! A hint value is `[OPERATOR] OPERAND`. The operator is recognised only at the start of the
//! (lower-cased, trimmed) value, with or without a blank after it, trying the longer spelling
//! first as oslo's grammar does (`==` before `=`, `<=` before `<`, `s<=` before `s<`):
//!
//! | operator | compares | matches when the disk's value … |
//! | --- | --- | --- |
//! | `==` `!=` `>=` `<=` `>` `<` | numbers | … compares so with the operand |
//! | `=` | numbers | … is at least the operand (oslo's legacy meaning of `=`) |
//! | `s==` `s!=` `s>=` `s<=` `s>` `s<` | text | … compares so with the operand |
//! | `<in>` | text | … contains the operand |
//! | `<all-in>` | text | … contains every blank-separated operand |
//! | `<or>` | either | … equals one of the operands (`<or> a <or> b`) |
//! | `<range-in>` | numbers | … lies in `[lo hi]`, `(lo hi)`, `[lo hi)` or `(lo hi]` |
//!
//! Where Ironic itself misbehaves this module takes the evident intent instead: `<or>` on
//! `size` compares numbers (IPA compares a float with a string, which never matches);
//! `<all-in>` checks substrings (IPA raises on any disk); `<range-in>` takes `[20 30)` as
//! well as oslo's `[ 20 30 )`; a unary operator given twice (`<in> a <in> b`, of which IPA
//! silently uses only `a`) is refused rather than half-applied.

/// Operators, spelled as in oslo.utils.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    NumEq,
    /// oslo's `=`: "equal to or greater than", kept for Nova's legacy filters.
    NumAtLeast,
    NumNe,
    NumGe,
    NumLe,
    NumGt,
    NumLt,
    StrEq,
    StrNe,
    StrGe,
    StrLe,
    StrGt,
    StrLt,
    In,
    AllIn,
    Or,
    RangeIn,
}

/// In recognition order: a spelling that is a prefix of another comes after it.
const SPELLINGS: &[(&str, Op)] = &[
    ("<or>", Op::Or),
    ("<all-in>", Op::AllIn),
    ("<range-in>", Op::RangeIn),
    ("==", Op::NumEq),
    ("=", Op::NumAtLeast),
    ("!=", Op::NumNe),
    ("<in>", Op::In),
    (">=", Op::NumGe),
    ("<=", Op::NumLe),
    (">", Op::NumGt),
    ("<", Op::NumLt),
    ("s==", Op::StrEq),
    ("s!=", Op::StrNe),
    ("s<=", Op::StrLe),
    ("s<", Op::StrLt),
    ("s>=", Op::StrGe),
    ("s>", Op::StrGt),
];

/// All operator spellings, for messages and documentation.
pub const OPERATORS: &str =
    "==, !=, >=, <=, >, <, =, s==, s!=, s>=, s<=, s>, s<, <in>, <all-in>, <or>, <range-in>";

impl Op {
    pub fn spelling(self) -> &'static str {
        SPELLINGS
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }

    /// Operators whose operands are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Op::NumEq
                | Op::NumAtLeast
                | Op::NumNe
                | Op::NumGe
                | Op::NumLe
                | Op::NumGt
                | Op::NumLt
                | Op::RangeIn
        )
    }

    /// Operators that test containment rather than comparing whole values.
    pub fn is_substring(self) -> bool {
        matches!(self, Op::In | Op::AllIn)
    }
}

/// The two ends of a `<range-in>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f64,
    pub lo_inclusive: bool,
    pub hi: f64,
    pub hi_inclusive: bool,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = if self.lo_inclusive {
            x >= self.lo
        } else {
            x > self.lo
        };
        let below = if self.hi_inclusive {
            x <= self.hi
        } else {
            x < self.hi
        };
        above && below
    }
}

/// One parsed hint value: an operator and its operand(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub op: Op,
    /// False when the value had no operator and `op` is the key's default.
    pub explicit: bool,
    /// The operands, lower-cased and trimmed; one for unary operators, one or more for
    /// `<or>` and `<all-in>`, none for `<range-in>`.
    pub operands: Vec<String>,
    pub range: Option<Range>,
}

/// The operator at the start of `v` (already lower-cased) and the rest.
fn split_operator(v: &str) -> Option<(Op, &str)> {
    SPELLINGS
        .iter()
        .find(|(s, _)| v.starts_with(s))
        .map(|(s, op)| (*op, &v[s.len()..]))
}

/// The operator a hint value starts with, if any (`">= 100"` → `>=`).
pub fn leading_operator(v: &str) -> Option<Op> {
    split_operator(&v.trim().to_lowercase()).map(|(op, _)| op)
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

fn parse_range(text: &str, rest: &str) -> Result<Range, String> {
    let r = rest.trim();
    let bad = || {
        format!(
            "{text:?}: <range-in> takes a range such as \"<range-in> [20 30)\" \
             ([ ] include the end, ( ) exclude it)"
        )
    };
    let lo_inclusive = match r.chars().next() {
        Some('[') => true,
        Some('(') => false,
        _ => return Err(bad()),
    };
    let hi_inclusive = match r.chars().last() {
        Some(']') => true,
        Some(')') => false,
        _ => return Err(bad()),
    };
    if r.len() < 2 {
        return Err(bad());
    }
    let inner: Vec<&str> = r[1..r.len() - 1].split_whitespace().collect();
    let [lo, hi] = inner[..] else {
        return Err(bad());
    };
    let (Some(lo), Some(hi)) = (number(lo), number(hi)) else {
        return Err(format!(
            "{text:?}: the ends of a <range-in> must be numbers"
        ));
    };
    if lo > hi {
        return Err(format!(
            "{text:?}: the first end of a <range-in> must not be larger than the second"
        ));
    }
    Ok(Range {
        lo,
        lo_inclusive,
        hi,
        hi_inclusive,
    })
}

impl Spec {
    /// Parse a hint value; `default` is the operator a value without one gets (Ironic:
    /// `==` for numeric hints, `s==` for text). Values are lower-cased, as Ironic does.
    pub fn parse(text: &str, default: Op) -> Result<Spec, String> {
        let v = text.trim().to_lowercase();
        if v.is_empty() {
            return Err("empty value".into());
        }
        let Some((op, rest)) = split_operator(&v) else {
            return Ok(Spec {
                op: default,
                explicit: false,
                operands: vec![v],
                range: None,
            });
        };
        let operands: Vec<String> = match op {
            Op::RangeIn => {
                return Ok(Spec {
                    op,
                    explicit: true,
                    operands: vec![],
                    range: Some(parse_range(text, rest)?),
                })
            }
            // `<or> a <or> b c`: the pieces between the separators, each may hold blanks;
            // an empty piece (a trailing `<or>`) is dropped as Ironic drops it.
            Op::Or => rest
                .split("<or>")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
            Op::AllIn => rest
                .split("<all-in>")
                .flat_map(str::split_whitespace)
                .map(String::from)
                .collect(),
            _ => {
                let operand = rest.trim();
                if operand.contains(op.spelling()) {
                    return Err(format!(
                        "{text:?}: {} is given twice; only <or> takes several values",
                        op.spelling()
                    ));
                }
                vec![operand.to_string()]
            }
        };
        if operands.iter().all(|o| o.is_empty()) {
            return Err(format!(
                "{text:?}: operator {} needs a value after it",
                op.spelling()
            ));
        }
        if op.is_numeric() {
            if let Some(bad) = operands.iter().find(|o| number(o).is_none()) {
                return Err(format!(
                    "{text:?}: {} compares numbers and {bad:?} is not a number \
                     (s==, s!=, s<, … compare text)",
                    op.spelling()
                ));
            }
        }
        Ok(Spec {
            op,
            explicit: true,
            operands,
            range: None,
        })
    }

    /// Does a disk's numeric value (e.g. its size in GiB) satisfy the spec? Text-only
    /// operators never match a number.
    pub fn matches_number(&self, have: f64) -> bool {
        let n = |i: usize| self.operands.get(i).and_then(|o| number(o));
        let cmp = |f: fn(f64, f64) -> bool| n(0).is_some_and(|want| f(have, want));
        match self.op {
            Op::NumEq => cmp(|a, b| a == b),
            Op::NumAtLeast | Op::NumGe => cmp(|a, b| a >= b),
            Op::NumNe => cmp(|a, b| a != b),
            Op::NumLe => cmp(|a, b| a <= b),
            Op::NumGt => cmp(|a, b| a > b),
            Op::NumLt => cmp(|a, b| a < b),
            Op::Or => (0..self.operands.len()).any(|i| n(i) == Some(have)),
            Op::RangeIn => self.range.is_some_and(|r| r.contains(have)),
            _ => false,
        }
    }

    /// Does a disk's text value satisfy the spec? `norm` maps both the disk's value and the
    /// operands to the form they are compared in (for Ironic: lower-cased, URL-quoted).
    /// A numeric operator matches only when the disk's value reads as a number.
    pub fn matches_text(&self, have: &str, norm: &dyn Fn(&str) -> String) -> bool {
        if self.op.is_numeric() {
            return number(have).is_some_and(|x| self.matches_number(x));
        }
        let have = norm(have);
        let want = || norm(self.operands.first().map(String::as_str).unwrap_or(""));
        match self.op {
            Op::StrEq => have == want(),
            Op::StrNe => have != want(),
            Op::StrGe => have >= want(),
            Op::StrLe => have <= want(),
            Op::StrGt => have > want(),
            Op::StrLt => have < want(),
            Op::In => have.contains(&want()),
            Op::AllIn => self.operands.iter().all(|o| have.contains(&norm(o))),
            Op::Or => self.operands.iter().any(|o| have == norm(o)),
            _ => false,
        }
    }
}

/// Python's `urllib.parse.quote(s)` (safe `/`), which Ironic applies to both sides of a text
/// comparison: it changes nothing for equality but decides how blanks and punctuation sort
/// for `s<` and friends, so it is reproduced to sort as Ironic does.
pub fn url_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Ironic's normalisation of a text value: trimmed, lower-cased, URL-quoted.
pub fn ironic_norm(s: &str) -> String {
    url_quote(&s.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spec: &str, have: &str) -> bool {
        Spec::parse(spec, Op::StrEq)
            .unwrap()
            .matches_text(have, &ironic_norm)
    }
    fn num(spec: &str, have: f64) -> bool {
        Spec::parse(spec, Op::NumEq).unwrap().matches_number(have)
    }

    #[test]
    fn bare_values_take_the_default_operator() {
        let s = Spec::parse("  Samsung SSD ", Op::StrEq).unwrap();
        assert_eq!((s.op, s.explicit), (Op::StrEq, false));
        assert_eq!(s.operands, ["samsung ssd"]);
        assert!(text("Samsung SSD", "samsung ssd"));
        assert!(num("100", 100.0));
        assert!(!num("100", 100.5), "== on GiB is exact, as in IPA");
    }

    #[test]
    fn numeric_operators() {
        assert!(num("== 100", 100.0) && !num("==100", 99.0));
        assert!(num("!= 100", 99.0) && !num("!= 100", 100.0));
        assert!(num(">= 100", 100.0) && num(">=100", 101.0) && !num(">= 100", 99.9));
        assert!(num("<= 100", 100.0) && !num("<= 100", 100.1));
        assert!(num("> 100", 100.1) && !num("> 100", 100.0));
        assert!(num("< 100", 99.9) && !num("< 100", 100.0));
        // oslo's `=` is "at least", not equality.
        assert!(num("= 100", 250.0) && !num("= 100", 99.0));
        assert_eq!(Spec::parse("= 1", Op::NumEq).unwrap().op, Op::NumAtLeast);
        assert_eq!(Spec::parse("== 1", Op::NumEq).unwrap().op, Op::NumEq);
    }

    #[test]
    fn string_operators_compare_text_not_numbers() {
        // `==` reads numbers, so 0100 equals 100; `s==` compares the text.
        assert!(text("== 0100", "100"));
        assert!(!text("s== 0100", "100"));
        assert!(text("s== 100", "100"));
        assert!(
            !text("== 100", "abc"),
            "a number operator never matches text"
        );
        assert!(text("s!= foo", "bar") && !text("s!= foo", "FOO"));
        assert!(text("s< b", "a") && !text("s< b", "b"));
        assert!(text("s<= b", "b") && !text("s<= b", "c"));
        assert!(text("s> b", "c") && !text("s> b", "b"));
        assert!(text("s>= b", "b") && !text("s>= b", "a"));
        assert!(
            text("s==foo model", "Foo Model"),
            "no blank needed after s=="
        );
        // Ironic URL-quotes both sides before comparing, so ':' (%3A) sorts before '1'
        // although unquoted it sorts after it.
        assert!(!text("s> a1", "a:"));
        assert!(text("s< a1", "a:"));
        assert!("a:" > "a1");
    }

    #[test]
    fn in_is_a_case_insensitive_substring_test() {
        assert!(text("<in> samsung", "Samsung SSD 860"));
        assert!(text("<in>SSD 8", "Samsung SSD 860"));
        assert!(!text("<in> ssd 9", "Samsung SSD 860"));
        assert!(
            text("<IN> Samsung", "SAMSUNG"),
            "operators are lower-cased too"
        );
        assert!(text("<all-in> samsung 860", "Samsung SSD 860"));
        assert!(!text("<all-in> samsung 970", "Samsung SSD 860"));
        assert!(text("<all-in> ssd <all-in> samsung", "Samsung SSD 860"));
    }

    #[test]
    fn or_takes_several_values_with_blanks() {
        let s = Spec::parse("<or> foo <or> foo bar <or> bar <or>", Op::StrEq).unwrap();
        assert_eq!(s.operands, ["foo", "foo bar", "bar"]);
        assert!(text("<or> foo <or> foo bar <or> bar", "Foo Bar"));
        assert!(!text("<or> foo <or> bar", "foo bar"));
        assert!(num("<or> 100 <or> 200 <or> 300", 200.0));
        assert!(!num("<or> 100 <or> 200", 150.0));
        assert!(text("<or> 0:0:0:0 <or> 1:0:0:0", "1:0:0:0"));
    }

    #[test]
    fn range_in_with_each_bracket_kind() {
        for (spec, at20, at25, at30) in [
            ("<range-in> [20 30]", true, true, true),
            ("<range-in> [20 30)", true, true, false),
            ("<range-in> (20 30]", false, true, true),
            ("<range-in> (20 30)", false, true, false),
            ("<range-in> [ 20 30 )", true, true, false),
            ("<range-in>[20 30)", true, true, false),
        ] {
            assert_eq!(num(spec, 20.0), at20, "{spec} at 20");
            assert_eq!(num(spec, 25.0), at25, "{spec} at 25");
            assert_eq!(num(spec, 30.0), at30, "{spec} at 30");
            assert!(!num(spec, 19.0) && !num(spec, 31.0), "{spec} outside");
        }
        assert!(num("<range-in> [20 20]", 20.0));
        assert!(
            text("<range-in> [1 2]", "1.5"),
            "on text that reads as a number"
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        let e = |s: &str| Spec::parse(s, Op::NumEq).unwrap_err();
        assert!(e("").contains("empty"));
        assert!(e(">=").contains("needs a value"), "{}", e(">="));
        assert!(e("<or>").contains("needs a value"));
        assert!(
            e(">= ten").contains("\"ten\" is not a number"),
            "{}",
            e(">= ten")
        );
        assert!(e("<range-in> 20 30").contains("[20 30)"));
        assert!(e("<range-in> [20 30").contains("[20 30)"));
        assert!(e("<range-in> [20]").contains("[20 30)"));
        assert!(e("<range-in> [a b]").contains("must be numbers"));
        assert!(e("<range-in> [30 20]").contains("must not be larger"));
        assert!(e("<in> a <in> b").contains("given twice"));
    }

    #[test]
    fn quoting_matches_python() {
        assert_eq!(url_quote("foo bar/1:0~_.-"), "foo%20bar/1%3A0~_.-");
        assert_eq!(url_quote("é"), "%C3%A9");
        assert_eq!(ironic_norm("  Foo Model "), "foo%20model");
    }
}
