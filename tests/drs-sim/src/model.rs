//! The DRS API model (`model/drs-service-2.json`, vendored from the pinned botocore) and a
//! validator of JSON values against its shapes.
//!
//! drs-sim and the worker are written by the same hands; the model is the third party that
//! holds both to what DRS accepts and answers. Requests are checked before an operation runs
//! (see [`check_request`]); responses are checked by the tests (`tests/api/model_responses.rs`).
//!
//! What is checked, per the model's shape traits: structures (required members, unions with
//! exactly one member, and for responses no member the model does not define), lists and maps
//! (`min`/`max` entries, each member), strings (`min`/`max` length in characters, `pattern`,
//! `enum`), integers and longs (whole numbers within `min`/`max`), booleans, timestamps.
//! Members bound to a header, the URI or the query string are not part of the JSON body and
//! are left out.
//!
//! Patterns are matched against the whole value. botocore's copy has lost the anchors of the
//! Smithy model (`SourceServerID`'s `(s-[0-9a-zA-Z]{17}$|lct-...)` still carries one `$`),
//! and a whole-value match is what makes `ISO8601DatetimeString` refuse
//! `2024-05-01T12:00:00+00:00` and `2024-05-01`, as DRS does.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

mod check;

pub use check::check_request;

/// The vendored model: botocore's `botocore/data/drs/2020-02-26/service-2.json`.
pub const MODEL_JSON: &str = include_str!("../model/drs-service-2.json");

/// Which side of a call a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A client's request: members the model does not define are ignored (an older service
    /// ignores what a newer client sends).
    Request,
    /// An answer: every member must be one the model defines, or a client would drop it.
    Response,
}

/// One place where a value breaks the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `sourceServers[3].sourceServerID`, `filters.jobIDs`, `tags{Owner}`; empty for the
    /// value itself.
    pub path: String,
    /// What the model wants, in the words DRS uses: "Member must ...".
    pub message: String,
    /// The offending value when it is a string, number or boolean (AWS names it in the
    /// message, "Value 'pit-1' at ..."); none for objects and arrays.
    pub value: Option<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() {
            "the body"
        } else {
            &self.path
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// An operation of the model.
#[derive(Debug, Clone)]
pub struct Operation {
    pub name: String,
    /// `POST /StartRecovery` and the like.
    pub method: String,
    pub request_uri: String,
    /// The status of a successful answer (`http.responseCode`, 200 when absent).
    pub response_code: u16,
    pub input: Option<String>,
    pub output: Option<String>,
    /// The error shapes the model lists for the operation.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
struct Member {
    shape: String,
}

#[derive(Debug)]
enum Shape {
    Structure {
        members: BTreeMap<String, Member>,
        required: Vec<String>,
        union: bool,
        /// An error shape's `error.httpStatusCode`.
        error_status: Option<u16>,
    },
    List {
        member: String,
        min: Option<i64>,
        max: Option<i64>,
    },
    Map {
        key: String,
        value: String,
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        min: Option<i64>,
        max: Option<i64>,
        /// The model's text (for messages) and the whole-value regex built from it.
        pattern: Option<(String, Regex)>,
        enum_values: Option<Vec<String>>,
    },
    /// `integer` and `long`: whole JSON numbers.
    Number {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    /// restJson1 writes timestamps as epoch seconds unless `timestampFormat` says otherwise.
    Timestamp {
        format: Option<String>,
    },
    /// A type this validator does not know (`blob`, `double`, ...): any value passes, so an
    /// unknown type never refuses a request DRS would take.
    Unchecked,
}

/// The loaded model.
#[derive(Debug)]
pub struct Model {
    operations: BTreeMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

fn bound(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn shape_ref(v: &Value, key: &str) -> Result<String, String> {
    v.get(key)
        .and_then(|r| r.get("shape"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key}.shape"))
}

fn parse_shape(name: &str, v: &Value) -> Result<Shape, String> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    Ok(match kind {
        "structure" => {
            let mut members = BTreeMap::new();
            for (member, spec) in v
                .get("members")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                // Header, URI and query-string members travel outside the JSON body.
                if spec.get("location").is_some() {
                    continue;
                }
                let shape = spec
                    .get("shape")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("member {member} has no shape"))?;
                members.insert(
                    member.clone(),
                    Member {
                        shape: shape.to_owned(),
                    },
                );
            }
            let required = v
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter(|m| members.contains_key(*m))
                .map(str::to_owned)
                .collect();
            let union = v.get("union").and_then(Value::as_bool).unwrap_or(false);
            let error_status = v
                .get("error")
                .and_then(|e| bound(e, "httpStatusCode"))
                .and_then(|c| u16::try_from(c).ok());
            Shape::Structure {
                members,
                required,
                union,
                error_status,
            }
        }
        "list" => Shape::List {
            member: shape_ref(v, "member")?,
            min: bound(v, "min"),
            max: bound(v, "max"),
        },
        "map" => Shape::Map {
            key: shape_ref(v, "key")?,
            value: shape_ref(v, "value")?,
            min: bound(v, "min"),
            max: bound(v, "max"),
        },
        "string" => {
            let pattern = match text(v, "pattern") {
                None => None,
                Some(p) => {
                    let re = Regex::new(&format!("^(?:{p})$"))
                        .map_err(|e| format!("pattern {p:?} does not compile: {e}"))?;
                    Some((p, re))
                }
            };
            Shape::String {
                min: bound(v, "min"),
                max: bound(v, "max"),
                pattern,
                enum_values: v.get("enum").and_then(Value::as_array).map(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                }),
            }
        }
        "integer" | "long" => Shape::Number {
            min: bound(v, "min"),
            max: bound(v, "max"),
        },
        "boolean" => Shape::Boolean,
        "timestamp" => Shape::Timestamp {
            format: text(v, "timestampFormat"),
        },
        _ => {
            tracing::debug!(shape = name, kind, "shape type not checked");
            Shape::Unchecked
        }
    })
}

impl Model {
    /// Parses a botocore service model.
    pub fn parse(json: &str) -> Result<Self, String> {
        let root: Value =
            serde_json::from_str(json).map_err(|e| format!("the model is not JSON: {e}"))?;
        let mut shapes = HashMap::new();
        for (name, spec) in root
            .get("shapes")
            .and_then(Value::as_object)
            .ok_or("the model has no shapes")?
        {
            let shape = parse_shape(name, spec).map_err(|e| format!("shape {name}: {e}"))?;
            shapes.insert(name.clone(), shape);
        }
        let mut operations = BTreeMap::new();
        for (name, spec) in root
            .get("operations")
            .and_then(Value::as_object)
            .ok_or("the model has no operations")?
        {
            let http = spec.get("http").cloned().unwrap_or_default();
            let operation = Operation {
                name: name.clone(),
                method: text(&http, "method").unwrap_or_else(|| "POST".to_owned()),
                request_uri: text(&http, "requestUri").unwrap_or_default(),
                response_code: bound(&http, "responseCode")
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(200),
                input: shape_ref(spec, "input").ok(),
                output: shape_ref(spec, "output").ok(),
                errors: spec
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("shape").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect(),
            };
            operations.insert(name.clone(), operation);
        }
        let model = Self { operations, shapes };
        model.check_references()?;
        Ok(model)
    }

    /// The vendored DRS model, parsed once. It is a file of this crate, checked by its tests,
    /// so failing to parse it is a bug of the build, not a condition to handle.
    pub fn drs() -> &'static Self {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| {
            Self::parse(MODEL_JSON)
                .unwrap_or_else(|e| panic!("model/drs-service-2.json cannot be used: {e}"))
        })
    }

    /// Every shape that a shape or an operation names exists, so validation never meets a
    /// dangling name.
    fn check_references(&self) -> Result<(), String> {
        let known = |name: &str, from: &str| {
            if self.shapes.contains_key(name) {
                Ok(())
            } else {
                Err(format!("{from} names the unknown shape {name}"))
            }
        };
        for (name, shape) in &self.shapes {
            match shape {
                Shape::Structure { members, .. } => {
                    for m in members.values() {
                        known(&m.shape, name)?;
                    }
                }
                Shape::List { member, .. } => known(member, name)?,
                Shape::Map { key, value, .. } => {
                    known(key, name)?;
                    known(value, name)?;
                }
                _ => {}
            }
        }
        for op in self.operations.values() {
            for s in op.input.iter().chain(&op.output).chain(&op.errors) {
                known(s, &op.name)?;
            }
        }
        Ok(())
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// Every operation of the model, by name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    pub fn has_shape(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }

    /// The body members of a structure shape (none for other shapes).
    pub fn members(&self, shape: &str) -> Vec<&str> {
        match self.shapes.get(shape) {
            Some(Shape::Structure { members, .. }) => members.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The HTTP status of an error shape (its `error.httpStatusCode`).
    pub fn error_status(&self, shape: &str) -> Option<u16> {
        match self.shapes.get(shape) {
            Some(Shape::Structure { error_status, .. }) => *error_status,
            _ => None,
        }
    }

    /// The values of an enum string shape.
    pub fn enum_values(&self, shape: &str) -> Option<&[String]> {
        match self.shapes.get(shape) {
            Some(Shape::String { enum_values, .. }) => enum_values.as_deref(),
            _ => None,
        }
    }
}
