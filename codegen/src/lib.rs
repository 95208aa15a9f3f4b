//! drs-codegen: the recovery plan model and its validation, the contract shared with the
//! activity worker, and the generator that compiles a plan into a Step Functions state machine.

pub mod contract;
