//! A plan's text (YAML, or JSON by its extension) into a [`PlanFile`]. Parsing stops at the
//! first syntax or type error (serde cannot go on), reported with its line and column and the
//! field's path as validation names it.

use std::path::Path;

use serde_path_to_error::Segment;

use super::{PlanError, PlanFile};

/// Parses a plan's text. JSON when the file name ends in `.json`, YAML otherwise.
pub fn parse(file: &str, text: &str) -> Result<PlanFile, PlanError> {
    let syntax = |location, path: String, message: String| PlanError::Syntax {
        file: file.to_owned(),
        location,
        path,
        message,
    };
    if text.trim().is_empty() {
        return Err(syntax(None, String::new(), "the plan file is empty".into()));
    }
    if Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let mut de = serde_json::Deserializer::from_str(text);
        let plan: PlanFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let inner = e.inner();
            let location = (inner.line() > 0).then(|| (inner.line(), inner.column()));
            let message = clean_message(&inner.to_string(), &e.path().to_string());
            syntax(location, friendly_path(e.path(), &message), message)
        })?;
        de.end().map_err(|e| {
            syntax(
                Some((e.line(), e.column())),
                String::new(),
                clean_message(&e.to_string(), ""),
            )
        })?;
        Ok(plan)
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let location = e.inner().location().map(|l| (l.line(), l.column()));
            let message = clean_message(&e.inner().to_string(), &e.path().to_string());
            syntax(location, friendly_path(e.path(), &message), message)
        })
    }
}

/// `waves[1].servers` -> `wave 2: servers`, matching how validation names waves. An unknown
/// field's own name is dropped from the path: the message names it already.
fn friendly_path(path: &serde_path_to_error::Path, message: &str) -> String {
    let mut segments: Vec<&Segment> = path.iter().collect();
    if let Some(Segment::Map { key }) = segments.last()
        && message.contains(&format!("unknown field `{key}`"))
    {
        segments.pop();
    }
    let mut out = String::new();
    let mut rest = segments.as_slice();
    if let [Segment::Map { key }, Segment::Seq { index }, tail @ ..] = rest
        && key == "waves"
    {
        out = format!("wave {}", index + 1);
        rest = tail;
        if !rest.is_empty() {
            out.push_str(": ");
        }
    }
    let mut first = true;
    for segment in rest {
        match segment {
            Segment::Map { key } => {
                if !first {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => continue,
        }
        first = false;
    }
    if out == "." { String::new() } else { out }
}

/// Drops what [`PlanError::Syntax`] already says: a leading path and every "at line L column C".
fn clean_message(message: &str, path: &str) -> String {
    let mut m = message;
    if let Some((prefix, rest)) = m.split_once(": ")
        && !prefix.is_empty()
        && path.starts_with(prefix)
    {
        m = rest;
    }
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " at line ".len()..];
        let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line_len = digits(after);
        let tail = &after[line_len..];
        match tail.strip_prefix(" column ") {
            Some(col) if line_len > 0 && digits(col) > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
