//! Which open gate an answer is for. Waves that run side by side can wait at several gates at
//! once (an approval before wave 3 and a decision after wave 4); when more than one gate could
//! take the answer, the operator says which with `--wave <name or index>`. Pure: the refusals'
//! words are unit-tested.

use drs_waves_contract::{GateKind, PendingGate};

use super::{Answer, wave_label};

/// "the approval gate of wave 3 'web'" / "the decision after wave 4 'batch' failed".
pub fn describe_gate(g: &PendingGate) -> String {
    let wave = wave_label(g.wave_index, &g.wave_name);
    match g.kind {
        GateKind::Approval => format!("the approval gate of {wave}"),
        GateKind::Decision => format!("the decision after {wave} failed"),
    }
}

/// The open gates, each described, joined for a message.
pub fn list_gates<'a>(gates: impl IntoIterator<Item = &'a PendingGate>) -> String {
    gates
        .into_iter()
        .map(describe_gate)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `wave` (what `--wave` was given: an index or a name) names the gate's wave.
pub fn names_wave(g: &PendingGate, wave: &str) -> bool {
    let wave = wave.trim();
    wave.parse::<u32>().is_ok_and(|i| i == g.wave_index) || g.wave_name == wave
}

/// The command that gives `answer` to the gate of wave `index`.
pub fn command_for(answer: Answer, execution: &str, index: u32) -> String {
    match answer {
        Answer::Approve => format!("drs-waves approve {execution} --wave {index}"),
        Answer::Stop => format!("drs-waves stop {execution} --wave {index}"),
        Answer::Retry => format!("drs-waves decide {execution} retry --wave {index}"),
        Answer::Skip => format!("drs-waves decide {execution} skip --wave {index}"),
    }
}

/// "approval gates" / "decisions" / "gates or decisions": what `answer` answers, plural.
fn what(answer: Answer) -> &'static str {
    match answer {
        Answer::Approve => "approval gates",
        Answer::Retry | Answer::Skip => "decisions",
        Answer::Stop => "gates or decisions",
    }
}

/// The gate `answer` is for, among the execution's open `gates`, given `--wave` if any.
///
/// - No open gate takes this answer: `Ok(None)` (the caller says what the execution does).
/// - Without `--wave`: the one gate that takes it, as before waves could run side by side; when
///   several do, a refusal naming them and how to choose (nothing is answered).
/// - With `--wave`: the gate of that wave that takes the answer; a refusal naming the open ones
///   when it names none (or, for a stop, both of one wave).
pub fn pick<'a>(
    gates: &'a [PendingGate],
    answer: Answer,
    wave: Option<&str>,
    execution: &str,
) -> Result<Option<&'a PendingGate>, String> {
    let open: Vec<&PendingGate> = gates.iter().filter(|g| answer.answers(g.kind)).collect();
    let Some(first) = open.first() else {
        return Ok(None);
    };
    let Some(wave) = wave else {
        if let [only] = open.as_slice() {
            return Ok(Some(only));
        }
        return Err(format!(
            "{execution} waits at {} {}: {}. Say which with --wave <name or index>, e.g. {}",
            open.len(),
            what(answer),
            list_gates(open.iter().copied()),
            command_for(answer, execution, first.wave_index)
        ));
    };
    let named: Vec<&PendingGate> = open
        .iter()
        .copied()
        .filter(|g| names_wave(g, wave))
        .collect();
    match named.as_slice() {
        [one] => Ok(Some(one)),
        [] => Err(format!(
            "{execution} has none of its open {} at wave '{}': open {} {}. Say one of them with --wave <name or index>, e.g. {}",
            what(answer),
            wave.trim(),
            if open.len() == 1 { "is" } else { "are" },
            list_gates(open.iter().copied()),
            command_for(answer, execution, first.wave_index)
        )),
        several => Err(format!(
            "--wave '{}' names {} open gates of {execution}: {}. Answer the approval with drs-waves approve|stop \
             and the decision with drs-waves decide",
            wave.trim(),
            several.len(),
            list_gates(several.iter().copied())
        )),
    }
}

/// What a cancel records as its wave: the one open gate's, or none when there are several (or
/// none).
pub fn cancel_wave(gates: &[PendingGate]) -> (Option<u32>, Option<String>) {
    match gates {
        [only] => (Some(only.wave_index), Some(only.wave_name.clone())),
        _ => (None, None),
    }
}
