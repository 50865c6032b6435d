//! Group commit for intake: requests arriving together are written in one transaction by one task,
//! and each caller is answered only after that transaction has committed. Under load this turns
//! many small commits (each rewriting the same index pages on SQLite) into a few larger ones.

use cityloop_store::{CreatedCase, NewCaseWrite, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

/// Most cases per transaction.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<CreatedCase, StoreError>>;

/// The sending side; the writer task ends when the last sender is dropped.
#[derive(Clone)]
pub struct IntakeQueue {
    tx: mpsc::Sender<(NewCaseWrite, Reply)>,
}

impl IntakeQueue {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) = mpsc::channel::<(NewCaseWrite, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (writes, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                for (result, reply) in store.create_cases(&writes).await.into_iter().zip(replies) {
                    // The caller may have gone away (client disconnected); the case is stored anyway.
                    let _ = reply.send(result);
                }
            }
        });
        Self { tx }
    }

    /// Stores one case and waits for its commit.
    pub async fn submit(&self, write: NewCaseWrite) -> Result<CreatedCase, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((write, reply))
            .await
            .map_err(|_| StoreError::Unavailable("the intake writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the intake writer has stopped".into()))?
    }
}
