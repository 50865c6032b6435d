//! Named case-list filters a user keeps (saved views): the query string of the list, checked
//! before it is saved so that a saved view always opens.

use cityloop_store::SavedView;

use crate::error::{AppError, Result};
use crate::queries::CaseQuery;
use crate::scope::Principal;
use crate::App;

/// Longest view name.
const MAX_NAME_CHARS: usize = 40;
/// Most views one user keeps.
const MAX_VIEWS: usize = 50;

impl App {
    /// The user's saved views.
    pub async fn saved_views(&self, who: &Principal) -> Result<Vec<SavedView>> {
        Ok(self.store.saved_views(who.user.id).await?)
    }

    /// Saves the list's current filters under a name (replacing a view of the same name).
    pub async fn save_view(&self, who: &Principal, name: &str, query: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::invalid("name", format!("must be 1 to {MAX_NAME_CHARS} characters")));
        }
        let parsed: CaseQuery = serde_urlencoded::from_str(query)
            .map_err(|e| AppError::invalid("query", format!("is not a case-list query: {e}")))?;
        self.case_filter(who, &parsed)?;
        let existing = self.store.saved_views(who.user.id).await?;
        if existing.len() >= MAX_VIEWS && !existing.iter().any(|v| v.name == name) {
            return Err(AppError::invalid("name", format!("at most {MAX_VIEWS} views can be saved")));
        }
        Ok(self.store.save_view(who.user.id, name, query, self.now()).await?)
    }

    /// Deletes one of the user's views.
    pub async fn delete_view(&self, who: &Principal, id: i64) -> Result<()> {
        if self.store.delete_view(who.user.id, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("saved view".into()))
        }
    }
}
