//! Just enough Markdown reading for the documentation tests: fenced code blocks (with the HTML
//! comment that may precede one), inline links, heading anchors and table rows. The docs are
//! plain CommonMark/GitHub Markdown written by us, so no nesting beyond that is handled.

/// A fenced code block.
pub struct CodeBlock {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The `<!-- … -->` comment on the line before the fence (a blank line between is allowed),
    /// trimmed of its delimiters.
    pub comment: Option<String>,
    pub body: String,
}

/// Every fenced code block, in order.
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    let mut comment: Option<String> = None;
    let mut open: Option<CodeBlock> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if let Some(block) = open.as_mut() {
            if fence {
                blocks.push(open.take().unwrap());
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
            continue;
        }
        if fence {
            open = Some(CodeBlock {
                line: i + 1,
                comment: comment.take(),
                body: String::new(),
            });
        } else if let Some(text) = line
            .trim()
            .strip_prefix("<!--")
            .and_then(|l| l.strip_suffix("-->"))
        {
            comment = Some(text.trim().to_owned());
        } else if !line.trim().is_empty() {
            comment = None;
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    blocks
}

/// The lines outside fenced code blocks, with inline code spans removed.
fn prose_lines(markdown: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    let mut in_block = false;
    markdown.lines().enumerate().filter_map(move |(i, line)| {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            return None;
        }
        if in_block {
            return None;
        }
        let mut text = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                text.push(c);
            }
        }
        Some((i + 1, text))
    })
}

/// The target of every inline link and image outside code, with its line.
pub fn links(markdown: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (line, text) in prose_lines(markdown) {
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((line, target.to_owned()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for each heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces turned into `-`.
pub fn anchors(markdown: &str) -> Vec<String> {
    let mut in_block = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        out.push(slug);
    }
    out
}

/// The cells of each row of the table whose header line starts with `header`, the header and
/// its delimiter row excluded.
pub fn table(markdown: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = markdown.lines().skip_while(|l| !l.starts_with(header));
    assert!(lines.next().is_some(), "no table starting with {header:?}");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The names in backquotes in a table cell: "`a`, `b`" → ["a", "b"].
pub fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// JSON text without the whitespace between its tokens (strings untouched), so that a pretty
/// and a compact rendering of the same document compare equal, key order and number spelling
/// included.
pub fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}
