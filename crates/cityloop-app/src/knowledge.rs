//! The knowledge base (知识库): articles operators answer consultations from, searched with Chinese word
//! splitting and BM25. Each node keeps the index in memory and rebuilds it when the articles change
//! (on this node at once, from other nodes at the next refresh).

use std::sync::{Arc, RwLock};

use cityloop_domain::Role;
use cityloop_store::ArticleRow;
use cityloop_text::search::SearchIndex;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// The index with the articles it was built from and the store stamp it matches.
#[derive(Default)]
pub struct Knowledge {
    pub articles: Vec<ArticleRow>,
    index: SearchIndex,
    /// The store's article revision the index was built from; `None` before the first build.
    revision: Option<i64>,
}

#[derive(Default)]
pub struct KnowledgeSlot(RwLock<Arc<Knowledge>>);

impl KnowledgeSlot {
    fn get(&self) -> Arc<Knowledge> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// An article as admins write it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ArticleInput {
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArticleHit {
    pub id: i64,
    pub title: String,
    /// The start of the body, for the result list.
    pub excerpt: String,
    pub category: Option<String>,
    pub score: f32,
    pub matched: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImportOutcome {
    pub imported: usize,
}

const READ_ROLES: &[Role] = &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Admin];
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 20_000;

impl App {
    /// Rebuilds the search index if the stored articles changed since it was built.
    pub async fn refresh_knowledge(&self) -> Result<()> {
        let revision = self.store.articles_revision().await?;
        if self.knowledge.get().revision == Some(revision) {
            return Ok(());
        }
        let articles = self.store.list_articles().await?;
        let knowledge = tokio::task::spawn_blocking(move || {
            let index = SearchIndex::build(
                articles.iter().map(|a| (a.id, a.title.as_str(), a.body.as_str())).collect::<Vec<_>>(),
            );
            Knowledge { articles, index, revision: Some(revision) }
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        *self.knowledge.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(knowledge);
        Ok(())
    }

    /// Articles matching `query`, best first.
    pub fn search_knowledge(&self, who: &Principal, query: &str, limit: usize) -> Result<Vec<ArticleHit>> {
        if !who.has_any(READ_ROLES) {
            return Err(AppError::Forbidden("your roles cannot read the knowledge base".into()));
        }
        let knowledge = self.knowledge.get();
        Ok(knowledge
            .index
            .search(query, limit.clamp(1, 50))
            .into_iter()
            .filter_map(|hit| {
                let article = knowledge.articles.iter().find(|a| a.id == hit.id)?;
                Some(ArticleHit {
                    id: article.id,
                    title: article.title.clone(),
                    excerpt: article.body.chars().take(120).collect(),
                    category: article.category_code.clone(),
                    score: hit.score,
                    matched: hit.matched,
                })
            })
            .collect())
    }

    /// One article, from this node's copy.
    pub fn article(&self, who: &Principal, id: i64) -> Result<ArticleRow> {
        if !who.has_any(READ_ROLES) {
            return Err(AppError::Forbidden("your roles cannot read the knowledge base".into()));
        }
        self.knowledge
            .get()
            .articles
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or_else(|| AppError::NotFound("article".into()))
    }

    pub fn articles(&self) -> Vec<ArticleRow> {
        self.knowledge.get().articles.clone()
    }

    pub async fn create_article(&self, who: Option<&Principal>, input: &ArticleInput) -> Result<i64> {
        let (title, body, category) = self.check_article(who, input)?;
        let id = self.store.insert_article(&title, &body, category.as_deref(), input.tags.trim(), self.now()).await?;
        self.refresh_knowledge().await?;
        Ok(id)
    }

    pub async fn update_article(&self, who: Option<&Principal>, id: i64, input: &ArticleInput) -> Result<()> {
        let (title, body, category) = self.check_article(who, input)?;
        self.store
            .update_article(id, &title, &body, category.as_deref(), input.tags.trim(), self.now())
            .await
            .map_err(not_found)?;
        self.refresh_knowledge().await
    }

    pub async fn delete_article(&self, who: Option<&Principal>, id: i64) -> Result<()> {
        admin_only(who)?;
        self.store.delete_article(id).await.map_err(not_found)?;
        self.refresh_knowledge().await
    }

    /// Imports articles from CSV (`title,body[,category][,tags]` with a header) or Markdown (each `# `
    /// heading starts an article, the text under it is the body). Nothing is stored if any article is bad.
    pub async fn import_articles(&self, who: Option<&Principal>, file: &str, text: &str) -> Result<ImportOutcome> {
        admin_only(who)?;
        let articles = if file.ends_with(".md") || file.ends_with(".markdown") {
            parse_markdown(file, text)?
        } else {
            parse_csv(file, text)?
        };
        for (line, article) in &articles {
            self.check_article(who, article).map_err(|e| match e {
                AppError::Invalid { field, message } => AppError::invalid(format!("{file}:{line}: {field}"), message),
                other => other,
            })?;
        }
        let now = self.now();
        for (_, a) in &articles {
            self.store.insert_article(a.title.trim(), a.body.trim(), a.category.as_deref(), a.tags.trim(), now).await?;
        }
        self.refresh_knowledge().await?;
        Ok(ImportOutcome { imported: articles.len() })
    }

    fn check_article(&self, who: Option<&Principal>, input: &ArticleInput) -> Result<(String, String, Option<String>)> {
        admin_only(who)?;
        let title = input.title.trim();
        let body = input.body.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(AppError::invalid("title", format!("is required, at most {MAX_TITLE} characters")));
        }
        if body.is_empty() || body.chars().count() > MAX_BODY {
            return Err(AppError::invalid("body", format!("is required, at most {MAX_BODY} characters")));
        }
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) if self.reference().category_by_code(code).is_none() => {
                return Err(AppError::invalid("category", format!("unknown category `{code}`")))
            }
            other => other.map(str::to_string),
        };
        Ok((title.to_string(), body.to_string(), category))
    }
}

/// Admins edit the knowledge base; `None` is the command line on the server itself.
fn admin_only(who: Option<&Principal>) -> Result<()> {
    crate::admin::require_admin(who)
}

fn not_found(e: cityloop_store::StoreError) -> AppError {
    match e {
        cityloop_store::StoreError::NotFound => AppError::NotFound("article".into()),
        other => other.into(),
    }
}

fn parse_markdown(file: &str, text: &str) -> Result<Vec<(usize, ArticleInput)>> {
    let mut out: Vec<(usize, ArticleInput)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(title) = line.strip_prefix("# ") {
            out.push((i + 1, ArticleInput { title: title.trim().to_string(), ..Default::default() }));
        } else if let Some((_, article)) = out.last_mut() {
            article.body.push_str(line);
            article.body.push('\n');
        } else if !line.trim().is_empty() {
            return Err(AppError::invalid(format!("{file}:{}", i + 1), "text before the first `# ` heading"));
        }
    }
    if out.is_empty() {
        return Err(AppError::invalid(file, "no `# ` heading: each article starts with one"));
    }
    Ok(out)
}

fn parse_csv(file: &str, text: &str) -> Result<Vec<(usize, ArticleInput)>> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().map_err(|e| AppError::invalid(format!("{file}:1"), e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (title, body) = match (column("title"), column("body")) {
        (Some(t), Some(b)) => (t, b),
        _ => return Err(AppError::invalid(format!("{file}:1"), "the header must name title and body")),
    };
    let (category, tags) = (column("category"), column("tags"));
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            AppError::invalid(format!("{file}:{}", e.position().map_or(0, |p| p.line())), e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line()) as usize;
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_string();
        out.push((
            line,
            ArticleInput {
                title: cell(Some(title)),
                body: cell(Some(body)),
                category: Some(cell(category)).filter(|c| !c.trim().is_empty()),
                tags: cell(tags),
            },
        ));
    }
    Ok(out)
}
