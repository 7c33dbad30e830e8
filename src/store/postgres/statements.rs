//! The store's connection to PostgreSQL and the statements prepared on it,
//! so that a statement is parsed and planned once per connection rather
//! than once per call.

use std::collections::HashMap;

use tokio_postgres::{Client, GenericClient, Statement};

use super::super::StoreError;

/// The store's connection, with the statements prepared on it.
pub(super) struct Connected {
    pub client: Client,
    pub statements: Statements,
}

impl Connected {
    pub fn new(client: Client) -> Connected {
        Connected {
            client,
            statements: Statements::default(),
        }
    }
}

/// The store's statements, by their SQL, prepared on one connection the
/// first time each runs: later calls skip the parse and plan. A new
/// connection starts with none.
#[derive(Default)]
pub(super) struct Statements(HashMap<String, Statement>);

impl Statements {
    pub async fn get(
        &mut self,
        client: &impl GenericClient,
        sql: &str,
    ) -> Result<Statement, StoreError> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql).await?;
        self.0.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}
