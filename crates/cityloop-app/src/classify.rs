//! The request classifier in service: versions kept in the store, the newest loaded on every node (a new
//! version is picked up without a restart), category suggestions at intake and on demand, and training on
//! the platform's own closed cases.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cityloop_domain::{CategoryId, Role};
use cityloop_text::classifier::{shuffled, Evidence};
use cityloop_text::features::Scratch;
use cityloop_text::metrics::Scores;
use cityloop_text::normalize::to_simplified;
use cityloop_text::{Classifier, LabelledText, TrainOptions};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// A classifier version loaded for prediction.
pub struct LoadedModel {
    pub version: i64,
    pub source: String,
    pub classifier: Classifier,
}

/// The model this node predicts with; replaced as a whole when a newer version appears.
#[derive(Default)]
pub struct ModelSlot {
    model: RwLock<Option<Arc<LoadedModel>>>,
    /// A stored version that could not be loaded: not fetched again until a newer one appears.
    unloadable: AtomicI64,
    /// One training at a time per node (a second click on "retrain" does not start a second run).
    training: AtomicBool,
}

impl ModelSlot {
    fn get(&self) -> Option<Arc<LoadedModel>> {
        self.model.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, model: Arc<LoadedModel>) {
        *self.model.write().unwrap_or_else(|p| p.into_inner()) = Some(model);
    }
}

/// Clears the training flag however training ends.
struct TrainingTurn<'a>(&'a AtomicBool);

impl Drop for TrainingTurn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A suggested category: the model's label, its probability and the category it names on this platform.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CategorySuggestion {
    pub label: String,
    pub probability: f32,
    /// The platform's category code, when the label names one (by code or by name).
    pub category: Option<String>,
    pub category_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassifyOutcome {
    pub model_version: i64,
    pub suggestions: Vec<CategorySuggestion>,
    /// Words of the text that pushed the decision towards the first suggestion, strongest first.
    pub words: Vec<Evidence>,
}

/// What intake decided about a case that came without a category.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntakeSuggestion {
    pub model_version: i64,
    pub category: String,
    pub probability: f32,
    /// The suggestion was confident enough to be applied.
    pub applied: bool,
}

/// A new version trained from the platform's cases.
#[derive(Debug, Clone, Serialize)]
pub struct TrainedVersion {
    pub version: i64,
    pub documents: usize,
    pub labels: usize,
    /// Training time of the final model.
    pub seconds: f64,
    /// Scores on a fifth of the cases held out from a model trained on the rest.
    pub held_out: Option<Scores>,
}

/// Cases used for one training run, newest first.
pub const MAX_TRAINING_CASES: i64 = 200_000;

const CLASSIFY_ROLES: &[Role] = &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Inspector, Role::Admin];

impl App {
    /// The model in use on this node, if any.
    pub fn model(&self) -> Option<Arc<LoadedModel>> {
        self.models.get()
    }

    /// Loads the newest stored version if it is newer than the one in use; returns the version now in use.
    pub async fn refresh_model(&self) -> Result<Option<i64>> {
        let current = self.model().map(|m| m.version);
        let Some(latest) = self.store.latest_model_version().await? else { return Ok(current) };
        if current.is_some_and(|v| v >= latest) || self.models.unloadable.load(Ordering::SeqCst) == latest {
            return Ok(current);
        }
        let (row, bytes) = self.store.load_model(latest).await?;
        let classifier = tokio::task::spawn_blocking(move || Classifier::from_bytes(&bytes))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| {
                self.models.unloadable.store(latest, Ordering::SeqCst);
                AppError::Internal(format!("classifier version {latest} cannot be loaded: {e}"))
            })?;
        tracing::info!(version = latest, source = %row.source, "classifier loaded");
        self.models.set(Arc::new(LoadedModel { version: latest, source: row.source, classifier }));
        Ok(Some(latest))
    }

    /// The top categories for a text, with probabilities and the words that drove the decision.
    pub fn classify(&self, who: &Principal, text: &str, top: usize) -> Result<ClassifyOutcome> {
        if !who.has_any(CLASSIFY_ROLES) {
            return Err(AppError::Forbidden("your roles cannot use the classifier".into()));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(AppError::invalid("text", "is required"));
        }
        if text.chars().count() > crate::intake::MAX_DESCRIPTION_CHARS {
            return Err(AppError::invalid("text", "is longer than 10000 characters"));
        }
        let model = self.model().ok_or_else(no_model)?;
        // The model learnt from simplified characters: a traditional text is judged in that form.
        let text = to_simplified(text);
        if !model.classifier.can_judge(&text) {
            // No guess from the labels' frequencies alone: a person chooses.
            return Ok(ClassifyOutcome { model_version: model.version, suggestions: Vec::new(), words: Vec::new() });
        }
        let result = model.classifier.classify(&text, top.clamp(1, 20));
        Ok(ClassifyOutcome {
            model_version: model.version,
            suggestions: result.top.into_iter().map(|r| self.suggestion(r.label, r.probability)).collect(),
            words: result.words,
        })
    }

    fn suggestion(&self, label: String, probability: f32) -> CategorySuggestion {
        let reference = self.reference();
        let category = resolve_label(&reference, &label);
        CategorySuggestion {
            category: category.map(|c| c.code.clone()),
            category_name: category.map(|c| c.name.clone()),
            label,
            probability,
        }
    }

    /// The category intake gives a case that arrived without one: the most likely leaf category, applied
    /// when its probability reaches the threshold. Fast path: no explanation.
    pub(crate) fn intake_suggestion(&self, title: &str, description: &str) -> Option<(CategoryId, IntakeSuggestion)> {
        let model = self.model()?;
        let text = to_simplified(&format!("{title}\n{description}"));
        if !model.classifier.can_judge(&text) {
            return None;
        }
        let scores = model.classifier.scores(&text, &mut Scratch::default());
        let reference = self.reference();
        // The most likely label that names a leaf category (a model trained elsewhere may know others).
        let (top, category) =
            model.classifier.classify_scores(&scores, scores.len()).into_iter().find_map(|r| {
                resolve_label(&reference, &r.label).filter(|c| reference.is_leaf(c.id)).map(|c| (r, c))
            })?;
        let applied = top.probability >= self.settings.auto_category_threshold;
        Some((
            category.id,
            IntakeSuggestion {
                model_version: model.version,
                category: category.code.clone(),
                probability: top.probability,
                applied,
            },
        ))
    }

    /// Trains a new version on the most recent closed cases (their final category), stores it, and
    /// puts it to use on this node; other nodes pick it up at their next refresh.
    pub async fn train_model_from_cases(&self, seed: u64) -> Result<TrainedVersion> {
        if self.models.training.swap(true, Ordering::SeqCst) {
            return Err(AppError::Duplicate("a training run is already going on this node".into()));
        }
        let _turn = TrainingTurn(&self.models.training);
        let rows = self.store.training_texts(MAX_TRAINING_CASES).await?;
        let examples: Vec<LabelledText> = rows
            .into_iter()
            .map(|(code, title, description)| LabelledText {
                label: code,
                text: to_simplified(&format!("{title}\n{description}")),
            })
            .collect();
        let mut labels: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
        labels.sort();
        labels.dedup();
        if labels.len() < 2 {
            return Err(AppError::invalid(
                "cases",
                format!("training needs closed cases of at least two categories; found {}", labels.len()),
            ));
        }
        let label_count = labels.len();
        let options = TrainOptions { seed, ..TrainOptions::default() };
        let (model, held_out, took) = tokio::task::spawn_blocking(move || {
            let held_out = evaluate_held_out(&examples, &options);
            let start = Instant::now();
            let model = Classifier::train(&examples, &options);
            (model, held_out, start.elapsed())
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let model = model.map_err(|e| AppError::invalid("cases", e.to_string()))?;
        let documents = model.info().documents;
        let version = self.store_model("cases", &model, held_out.as_ref()).await?;
        self.models.set(Arc::new(LoadedModel { version, source: "cases".into(), classifier: model }));
        Ok(TrainedVersion { version, documents, labels: label_count, seconds: secs(took), held_out })
    }

    /// Stores a model trained elsewhere (for example from a CSV file) as the newest version.
    pub async fn install_model(&self, source: &str, bytes: &[u8]) -> Result<i64> {
        let model = Classifier::from_bytes(bytes).map_err(|e| AppError::invalid("model", e.to_string()))?;
        let version = self.store_model(source, &model, None).await?;
        self.models.set(Arc::new(LoadedModel { version, source: source.into(), classifier: model }));
        Ok(version)
    }

    async fn store_model(&self, source: &str, model: &Classifier, held_out: Option<&Scores>) -> Result<i64> {
        let metrics = serde_json::to_string(&held_out).unwrap_or_else(|_| "null".into());
        let bytes = model.to_bytes();
        Ok(self
            .store
            .insert_model(
                source,
                model.info().documents as i64,
                model.labels().len() as i64,
                &metrics,
                bytes,
                self.now(),
            )
            .await?)
    }
}

/// The platform's category a model label names: by code, else by a name no other category has.
fn resolve_label<'a>(reference: &'a crate::Reference, label: &str) -> Option<&'a cityloop_store::CategoryRow> {
    reference.category_by_code(label).or_else(|| {
        let mut named = reference.categories.iter().filter(|c| c.name == label);
        match (named.next(), named.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// Trains on four fifths and scores the last fifth; `None` when there are too few examples to split.
fn evaluate_held_out(examples: &[LabelledText], options: &TrainOptions) -> Option<Scores> {
    if examples.len() < 50 {
        return None;
    }
    let order = shuffled(examples.len(), options.seed.wrapping_add(1));
    let (test, train) = order.split_at(examples.len() / 5);
    let train: Vec<LabelledText> = train.iter().map(|&i| examples[i].clone()).collect();
    let model = Classifier::train(&train, options).ok()?;
    Some(model.evaluate(test.iter().map(|&i| &examples[i])))
}

fn no_model() -> AppError {
    AppError::NotReady("no classifier model yet: train one with `cityloop classify train --from-db`".into())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
