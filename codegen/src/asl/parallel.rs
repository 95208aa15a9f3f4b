//! The Parallel state: branches that run at the same time, each a machine of its own (its own
//! StartAt and States, moving only among its own states), the state ending when every branch
//! has ended, and failing, with the other branches stopped, when one fails.

use serde::Serialize;
use serde_json::Value;

use super::{Catcher, Retrier, States, Transition};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parallel {
    #[serde(rename = "Comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(rename = "Branches")]
    pub branches: Vec<Branch>,
    /// Applied to the branches' outputs (an array, one per branch, in order).
    #[serde(rename = "ResultSelector", skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<Value>,
    #[serde(rename = "ResultPath", skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    #[serde(rename = "Retry", skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(rename = "Catch", skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    #[serde(flatten)]
    pub transition: Transition,
}

/// One branch of a Parallel state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Branch {
    #[serde(rename = "StartAt")]
    pub start_at: String,
    #[serde(rename = "States")]
    pub states: States,
}
