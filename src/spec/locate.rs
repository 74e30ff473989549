//! Finds the line of a dotted key in YAML text, for error messages.
//!
//! serde reports a location only for syntax and type errors; range checks
//! happen after parsing, so we look the key up in the block-style source.
//! Flow-style mappings (`{a: 1}`) resolve to the line of their parent key.

/// 1-based line of `field` (e.g. `model.dropout`), or of its deepest parent found.
pub fn line_of(source: &str, field: &str) -> Option<usize> {
    let wanted: Vec<&str> = field.split('.').filter(|s| !s.is_empty()).collect();
    if wanted.is_empty() {
        return None;
    }
    // Stack of (indent, key) for the mapping keys enclosing the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut best: Option<(usize, usize)> = None; // (matched depth, line)
    for (i, raw) in source.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        let Some(colon) = trimmed.find(':') else {
            continue;
        };
        let key = trimmed[..colon].trim().trim_matches(|c| c == '"' || c == '\'');
        while stack.last().is_some_and(|(d, _)| *d >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let depth = stack.len();
        let matches = depth <= wanted.len() && stack.iter().zip(&wanted).all(|((_, k), w)| k == w);
        if matches && best.is_none_or(|(d, _)| depth > d) {
            best = Some((depth, i + 1));
        }
    }
    best.map(|(_, line)| line)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const SRC: &str = "name: x\nmodel:\n  cell: lstm\n  # comment\n  dropout: 1.5\ntrain:\n  dropout: 2\n";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(line_of(SRC, "model.dropout"), Some(5));
        assert_eq!(line_of(SRC, "train.dropout"), Some(7));
        assert_eq!(line_of(SRC, "name"), Some(1));
    }

    #[test]
    fn falls_back_to_the_parent() {
        assert_eq!(line_of(SRC, "model.hidden"), Some(2));
        assert_eq!(line_of(SRC, "data.path"), None);
    }
}
