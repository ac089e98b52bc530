//! Messages that point at the fix: "did you mean `pcgrad`?" for an unknown key or kind
//! (the closest known name by edit distance), and a tab where YAML wants spaces.

/// The edit distance (insertions, deletions, substitutions) between `a` and `b`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The known name closest to `name`, if it is close: at most a third of the longer
/// name's characters differ (at least one may).
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d > 0 && *d <= (name.chars().count().max(k.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `message` (serde's "unknown field `x`, expected one of `a`, `b`" or "unknown variant
/// …") with "(did you mean `a`?)" after the unknown name when a known one is close.
pub fn did_you_mean(message: &str) -> String {
    for what in ["unknown field `", "unknown variant `"] {
        let Some(start) = message.find(what) else {
            continue;
        };
        let after = start + what.len();
        let Some(len) = message[after..].find('`') else {
            continue;
        };
        let name = &message[after..after + len];
        let rest = &message[after + len + 1..];
        let Some(list) = rest
            .strip_prefix(", expected one of ")
            .or_else(|| rest.strip_prefix(", expected "))
        else {
            continue;
        };
        let known = list.split('`').skip(1).step_by(2);
        if let Some(best) = closest(name, known) {
            let cut = after + len + 1;
            return format!(
                "{} (did you mean `{best}`?){}",
                &message[..cut],
                &message[cut..]
            );
        }
    }
    message.to_string()
}

/// The YAML parser's `message` about `text`, said plainly when the line it points at is
/// indented with a tab (YAML allows spaces only).
pub fn tab_said(text: &str, message: &str, line: Option<usize>) -> String {
    let Some(line) = line else {
        return message.to_string();
    };
    let Some(content) = text.lines().nth(line.saturating_sub(1)) else {
        return message.to_string();
    };
    let indent: String = content.chars().take_while(|c| c.is_whitespace()).collect();
    if indent.contains('\t') {
        format!(
            "line {line} is indented with a tab: YAML indents with spaces only, replace the tab ({message})"
        )
    } else {
        message.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("pcgard", "pcgrad"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("lrr", "lr"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn the_closest_known_name_is_suggested_when_close() {
        let m = "weightings[0]: unknown variant `pcgard`, expected one of `equal`, `pcgrad`, `mgda` at line 3 column 5";
        assert_eq!(
            did_you_mean(m),
            "weightings[0]: unknown variant `pcgard` (did you mean `pcgrad`?), expected one of `equal`, `pcgrad`, `mgda` at line 3 column 5"
        );
        let m = "unknown field `lrr`, expected `lr` or `epochs`";
        assert!(did_you_mean(m).contains("`lrr` (did you mean `lr`?)"));
        // Nothing close: unchanged.
        let m = "unknown variant `zzzzzz`, expected one of `equal`, `pcgrad`";
        assert_eq!(did_you_mean(m), m);
    }

    #[test]
    fn a_tab_in_the_indentation_is_named() {
        let text = "a:\n\tb: 1\n";
        let said = tab_said(text, "found character", Some(2));
        assert!(said.starts_with("line 2 is indented with a tab"), "{said}");
        assert_eq!(tab_said("a:\n  b: 1\n", "x", Some(2)), "x");
    }
}
