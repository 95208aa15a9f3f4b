//! The validation of JSON values against the model's shapes, and the request check that
//! answers what the model refuses as DRS does.

use serde_json::Value;

use super::{Direction, Model, Shape, Violation};
use crate::wire::ApiError;

impl Model {
    /// Every place where `value` breaks shape `shape` (empty: it conforms).
    pub fn validate(&self, shape: &str, value: &Value, direction: Direction) -> Vec<Violation> {
        let mut out = Vec::new();
        self.walk(shape, value, direction, String::new(), &mut out);
        out
    }

    fn walk(
        &self,
        shape_name: &str,
        value: &Value,
        direction: Direction,
        path: String,
        out: &mut Vec<Violation>,
    ) {
        let scalar = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
            _ => None,
        };
        let mut fail = |message: String| {
            out.push(Violation {
                path: path.clone(),
                message,
                value: scalar.clone(),
            });
        };
        let Some(shape) = self.shapes.get(shape_name) else {
            fail(format!("Member has the unknown shape {shape_name}"));
            return;
        };
        match (shape, value) {
            // restJson1 readers take null as absent; DRS does not write it, and drs-sim
            // must not either (an SDK would read an empty default instead).
            (_, Value::Null) => {
                if direction == Direction::Response {
                    fail(format!("Member must not be null ({shape_name})"));
                }
            }
            (Shape::Structure { .. }, Value::Object(fields)) => {
                self.walk_structure(shape_name, shape, fields, direction, &path, out);
            }
            (Shape::List { member, min, max }, Value::Array(items)) => {
                if let Some(m) = length_violation(items.len(), *min, *max) {
                    fail(m);
                }
                for (i, item) in items.iter().enumerate() {
                    self.walk(member, item, direction, format!("{path}[{i}]"), out);
                }
            }
            (
                Shape::Map {
                    key,
                    value: value_shape,
                    min,
                    max,
                },
                Value::Object(entries),
            ) => {
                if let Some(m) = length_violation(entries.len(), *min, *max) {
                    fail(m);
                }
                for (k, v) in entries {
                    let at = format!("{path}{{{k}}}");
                    self.walk(key, &Value::from(k.as_str()), direction, at.clone(), out);
                    self.walk(value_shape, v, direction, at, out);
                }
            }
            (
                Shape::String {
                    min,
                    max,
                    pattern,
                    enum_values,
                },
                Value::String(s),
            ) => {
                let enum_values = enum_values.as_deref();
                for m in string_violations(s, (*min, *max), pattern.as_ref(), enum_values) {
                    fail(m);
                }
            }
            (Shape::Number { min, max }, Value::Number(n)) => {
                for m in number_violations(shape_name, n, *min, *max) {
                    fail(m);
                }
            }
            (Shape::Boolean, Value::Bool(_)) | (Shape::Unchecked, _) => {}
            (Shape::Timestamp { format }, v) => {
                if let Some(m) = timestamp_violation(format.as_deref(), v) {
                    fail(m);
                }
            }
            (shape, v) => fail(format!(
                "Member must be {} ({shape_name}), not {}",
                shape.json_kind(),
                json_kind(v)
            )),
        }
    }

    /// The violations of an object against a structure shape: required members, a union's
    /// one member, and each member against its own shape.
    fn walk_structure(
        &self,
        shape_name: &str,
        shape: &Shape,
        fields: &serde_json::Map<String, Value>,
        direction: Direction,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Shape::Structure {
            members,
            required,
            union,
            ..
        } = shape
        else {
            return;
        };
        for name in required {
            if fields.get(name).is_none_or(Value::is_null) {
                out.push(Violation {
                    path: join(path, name),
                    message: "Member must not be null".to_owned(),
                    value: None,
                });
            }
        }
        let set = fields.values().filter(|v| !v.is_null()).count();
        if *union && set != 1 {
            out.push(Violation {
                path: path.to_owned(),
                message: format!(
                    "Member must have exactly one member of the union {shape_name} set, \
                     not {set}"
                ),
                value: None,
            });
        }
        for (name, field) in fields {
            match members.get(name) {
                Some(m) => self.walk(&m.shape, field, direction, join(path, name), out),
                None if direction == Direction::Response => out.push(Violation {
                    path: join(path, name),
                    message: format!("Member is not a member of {shape_name}"),
                    value: None,
                }),
                None => {}
            }
        }
    }
}

impl Shape {
    fn json_kind(&self) -> &'static str {
        match self {
            Self::Structure { .. } | Self::Map { .. } => "an object",
            Self::List { .. } => "an array",
            Self::String { .. } => "a string",
            Self::Number { .. } => "a whole number",
            Self::Boolean => "a boolean",
            Self::Timestamp { .. } | Self::Unchecked => "a value",
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

/// The model's `min`/`max` of a list's items, a map's entries or a string's characters.
fn length_violation(len: usize, min: Option<i64>, max: Option<i64>) -> Option<String> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if let Some(min) = min
        && len < min
    {
        return Some(format!(
            "Member must have length greater than or equal to {min}"
        ));
    }
    if let Some(max) = max
        && len > max
    {
        return Some(format!(
            "Member must have length less than or equal to {max}"
        ));
    }
    None
}

/// What a string breaks of its shape's length, pattern and enum values.
fn string_violations(
    s: &str,
    (min, max): (Option<i64>, Option<i64>),
    pattern: Option<&(String, regex::Regex)>,
    enum_values: Option<&[String]>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = length_violation(s.chars().count(), min, max) {
        out.push(m);
    }
    if let Some((text, re)) = pattern
        && !re.is_match(s)
    {
        out.push(format!(
            "Member must satisfy regular expression pattern: {text}"
        ));
    }
    if let Some(values) = enum_values
        && !values.iter().any(|v| v == s)
    {
        out.push(format!(
            "Member must satisfy enum value set: [{}]",
            values.join(", ")
        ));
    }
    out
}

/// What a number breaks of its shape: whole, and within its range.
fn number_violations(
    shape_name: &str,
    n: &serde_json::Number,
    min: Option<i64>,
    max: Option<i64>,
) -> Vec<String> {
    let Some(n) = n.as_i64() else {
        return vec![format!("Member must be a whole number ({shape_name})")];
    };
    let mut out = Vec::new();
    if let Some(min) = min
        && n < min
    {
        out.push(format!(
            "Member must have value greater than or equal to {min}"
        ));
    }
    if let Some(max) = max
        && n > max
    {
        out.push(format!(
            "Member must have value less than or equal to {max}"
        ));
    }
    out
}

/// A timestamp in the JSON body: epoch seconds by default in restJson1, an RFC 3339 string
/// for `iso8601`, an HTTP date for `rfc822`.
fn timestamp_violation(format: Option<&str>, v: &Value) -> Option<String> {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    let ok = match (format, v) {
        (None | Some("unixTimestamp"), Value::Number(_)) => true,
        (Some("iso8601"), Value::String(s)) => {
            time::OffsetDateTime::parse(s, &Rfc3339).is_ok() && s.ends_with('Z')
        }
        (Some("rfc822"), Value::String(s)) => time::OffsetDateTime::parse(s, &Rfc2822).is_ok(),
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "Member must be a timestamp ({})",
            format.unwrap_or("epoch seconds")
        )
    })
}

/// Checks a request body against the operation's input shape, as DRS does before it acts:
/// a request the model refuses is answered 400 ValidationException, `reason`
/// fieldValidationFailed (the model's ValidationExceptionReason) and a `fieldList` entry
/// (ValidationExceptionField `name`, `message`) per violation; a body that is not JSON is
/// `cannotParse`. An operation the model does not know passes (the router answers it).
pub fn check_request(operation: &str, body: &[u8]) -> Result<(), ApiError> {
    let model = Model::drs();
    let Some(input) = model
        .operation(operation)
        .and_then(|op| op.input.as_deref())
    else {
        return Ok(());
    };
    // The SDK sends `{}` for an empty input; curl may send nothing.
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::validation("cannotParse", format!("Invalid request body: {e}"), &[])
        })?
    };
    let violations = model.validate(input, &value, Direction::Request);
    if violations.is_empty() {
        return Ok(());
    }
    Err(validation_error(&violations))
}

/// The ValidationException of a refused request, worded as AWS services word it
/// ("1 validation error detected: Value 'v' at 'x' failed to satisfy constraint: ...").
fn validation_error(violations: &[Violation]) -> ApiError {
    let count = violations.len();
    let detail: Vec<String> = violations
        .iter()
        .map(|v| {
            let value = v
                .value
                .as_ref()
                .map_or_else(String::new, |value| format!(" '{value}'"));
            format!(
                "Value{value} at '{}' failed to satisfy constraint: {}",
                v.path, v.message
            )
        })
        .collect();
    let message = format!(
        "{count} validation error{} detected: {}",
        if count == 1 { "" } else { "s" },
        detail.join("; ")
    );
    let fields: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| (v.path.as_str(), v.message.as_str()))
        .collect();
    ApiError::validation("fieldValidationFailed", message, &fields)
}
