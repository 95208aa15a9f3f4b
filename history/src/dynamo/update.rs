//! [`Update`]: an UpdateItem expression built clause by clause, every attribute behind a
//! placeholder.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// SET clauses with `#name`/`:name` placeholders for every attribute (many of ours are
/// DynamoDB reserved words: status, mode, error, ...).
#[derive(Default)]
pub(crate) struct Update {
    pub(crate) sets: Vec<String>,
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
    pub(crate) removes: Vec<String>,
    pub(crate) condition: Option<String>,
}

impl Update {
    pub(crate) fn remove(&mut self, attr: &str) -> &mut Self {
        let i = self.removes.len();
        self.removes.push(format!("#r{i}"));
        self.names.insert(format!("#r{i}"), attr.to_string());
        self
    }

    /// REMOVE of a nested path whose `#name` placeholders the caller gives with
    /// [`Update::name`].
    pub(crate) fn remove_path(&mut self, path: &str) -> &mut Self {
        self.removes.push(path.to_string());
        self
    }

    pub(crate) fn set(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("#a{i} = :v{i}"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// SET of a nested path whose `#name` placeholders the caller gives with [`Update::name`].
    pub(crate) fn set_path(&mut self, path: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("{path} = :v{i}"));
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// Appends the items of the list `v` to the list `attr`.
    pub(crate) fn append(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets.push(format!("#a{i} = list_append(#a{i}, :v{i})"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    pub(crate) fn set_if_not_exists(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let i = self.sets.len();
        self.sets
            .push(format!("#a{i} = if_not_exists(#a{i}, :v{i})"));
        self.names.insert(format!("#a{i}"), attr.to_string());
        self.values.insert(format!(":v{i}"), v);
        self
    }

    /// A condition; its placeholders (`#x`, `:x`) are given with [`Update::name`] and
    /// [`Update::value`].
    pub(crate) fn condition(&mut self, expr: &str) -> &mut Self {
        self.condition = Some(expr.to_string());
        self
    }

    pub(crate) fn name(&mut self, placeholder: &str, attr: &str) -> &mut Self {
        self.names.insert(placeholder.to_string(), attr.to_string());
        self
    }

    pub(crate) fn value(&mut self, placeholder: &str, v: AttributeValue) -> &mut Self {
        self.values.insert(placeholder.to_string(), v);
        self
    }

    /// A SET clause written out, its placeholders given with [`Update::name`] and
    /// [`Update::value`].
    pub(crate) fn clause(&mut self, clause: &str) -> &mut Self {
        self.sets.push(clause.to_string());
        self
    }

    pub(crate) fn expression(&self) -> String {
        let mut e = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            e.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        e
    }
}

impl Update {
    /// This update as an action of a TransactWriteItems, on the item at `key` of `table`.
    pub(crate) fn into_transact(
        self,
        table: &str,
        key: crate::codec::Item,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, crate::HistoryError> {
        let expression = self.expression();
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(|e| crate::HistoryError::Failed(format!("transaction request: {e}")))?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update)
            .build())
    }
}
