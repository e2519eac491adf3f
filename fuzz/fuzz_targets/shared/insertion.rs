//! Where a fuzz target inserts a secret into its input: the input's first character picks
//! the place in the rest (on a character boundary). Shared by the cmdline and redact targets.

/// The rest of `text` after its first character, split at the place that character picks;
/// `None` for an empty input.
pub fn split_at_chosen(text: &str) -> Option<(&str, &str)> {
    let first = text.chars().next()?;
    let rest = &text[first.len_utf8()..];
    let mut at = (first as usize) % (rest.len() + 1);
    while !rest.is_char_boundary(at) {
        at -= 1;
    }
    Some(rest.split_at(at))
}
