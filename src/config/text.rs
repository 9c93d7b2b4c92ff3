//! Line-level reading and editing of the config text, for the two things a
//! YAML parser cannot do for us: pointing at the line of a key found invalid
//! after parsing, and rewriting one value while keeping the user's comments
//! and layout. Only block-style mappings (the style of the example config) are
//! understood; callers re-parse the result of an edit to be sure it is right.

/// The 1-based line where the dotted `key_path` (e.g. `appservice.as_token`)
/// is defined, if it can be found in block-style YAML.
pub fn locate_key(text: &str, key_path: &str) -> Option<usize> {
    let segments: Vec<&str> = key_path.split('.').collect();
    let mut depth = 0;
    // Indentation of the mapping currently searched; `None` until its first key.
    let mut level_indent: Option<usize> = Some(0);
    let mut parent_indent: Option<usize> = None;

    for (index, line) in text.lines().enumerate() {
        let Some((indent, key)) = key_of_line(line) else {
            continue;
        };
        if parent_indent.is_some_and(|parent| indent <= parent) {
            return None;
        }
        let level = *level_indent.get_or_insert(indent);
        if indent != level || key != segments[depth] {
            continue;
        }
        if depth + 1 == segments.len() {
            return Some(index + 1);
        }
        depth += 1;
        parent_indent = Some(indent);
        level_indent = None;
    }
    None
}

/// Replaces the value on line `line` (1-based), which must hold `key: value`,
/// with `new_value`, keeping the indentation, the key and a trailing comment.
/// Returns `None` when the line does not have that shape.
pub fn replace_value_on_line(
    text: &str,
    line: usize,
    key: &str,
    new_value: &str,
) -> Option<String> {
    let mut out = String::with_capacity(text.len() + new_value.len());
    let mut replaced = false;
    for (index, original) in text.split_inclusive('\n').enumerate() {
        if index + 1 != line {
            out.push_str(original);
            continue;
        }
        let (content, ending) = split_line_ending(original);
        let (indent, found_key) = key_of_line(content)?;
        if found_key != key {
            return None;
        }
        let after_colon = content[indent..].split_once(':')?.1;
        let comment = trailing_comment(after_colon);
        out.push_str(&content[..indent]);
        out.push_str(key);
        out.push_str(": ");
        out.push_str(new_value);
        if let Some(comment) = comment {
            out.push_str("  ");
            out.push_str(comment);
        }
        out.push_str(ending);
        replaced = true;
    }
    replaced.then_some(out)
}

/// Indentation and key of a `key:` or `key: value` line; `None` for blank,
/// comment, list or other lines.
fn key_of_line(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
        return None;
    }
    let indent = line.len() - trimmed.len();
    let (key, rest) = trimmed.split_once(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t', '\r'])) {
        return None;
    }
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    Some((indent, key))
}

/// The `# comment` after an empty or trivially empty value (`""`, `''`,
/// `null`, `~`), which is all a token line holds before it is filled in.
fn trailing_comment(after_colon: &str) -> Option<&str> {
    let value = after_colon.trim_start();
    let rest = ["\"\"", "''", "null", "~"]
        .iter()
        .find_map(|empty| value.strip_prefix(empty))
        .unwrap_or(value)
        .trim_start();
    rest.starts_with('#').then(|| rest.trim_end())
}

fn split_line_ending(line: &str) -> (&str, &str) {
    if let Some(content) = line.strip_suffix("\r\n") {
        (content, "\r\n")
    } else if let Some(content) = line.strip_suffix('\n') {
        (content, "\n")
    } else {
        (line, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# top comment
homeserver:
  address: http://localhost:8008
  domain: example.org

appservice:
  # the bot
  bot:
    username: telegrambot
    as_token: not-this-one
  as_token: \"\"   # filled in by generate-registration
  hs_token:
owner: \"@me:example.org\"
";

    #[test]
    fn locates_nested_keys() {
        assert_eq!(locate_key(TEXT, "homeserver.domain"), Some(4));
        assert_eq!(locate_key(TEXT, "appservice.bot.username"), Some(9));
        assert_eq!(locate_key(TEXT, "appservice.as_token"), Some(11));
        assert_eq!(locate_key(TEXT, "appservice.hs_token"), Some(12));
        assert_eq!(locate_key(TEXT, "owner"), Some(13));
    }

    #[test]
    fn does_not_find_keys_outside_their_section() {
        assert_eq!(locate_key(TEXT, "homeserver.as_token"), None);
        assert_eq!(locate_key(TEXT, "telegram.api_id"), None);
        assert_eq!(locate_key(TEXT, "username"), None);
    }

    #[test]
    fn replaces_value_and_keeps_comment() {
        let edited = replace_value_on_line(TEXT, 11, "as_token", "abc123").unwrap();
        assert!(edited.contains("\n  as_token: abc123  # filled in by generate-registration\n"));
        assert!(edited.contains("    as_token: not-this-one\n"));
        assert!(edited.starts_with("# top comment\n"));
        let edited = replace_value_on_line(&edited, 12, "hs_token", "xyz").unwrap();
        assert!(edited.contains("\n  hs_token: xyz\nowner:"));
    }

    #[test]
    fn refuses_a_line_with_another_key() {
        assert_eq!(replace_value_on_line(TEXT, 10, "hs_token", "x"), None);
        assert_eq!(replace_value_on_line(TEXT, 99, "as_token", "x"), None);
    }
}
