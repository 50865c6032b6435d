//! Chinese text analysis for cityloop, free of IO: the request classifier, near-duplicate fingerprints,
//! BM25 search over word-split text, and reply checks.

pub mod classifier;
pub mod dataset;
pub mod features;
pub mod hotspots;
pub mod metrics;
pub mod normalize;
pub mod words;

pub use classifier::{Classification, Classifier, LabelledText, ModelError, TrainOptions};
pub mod reply;
pub mod search;
pub mod similarity;
