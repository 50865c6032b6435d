//! The cityloop domain: the case and its workflow, the places and organisations a city is made of,
//! categories with their case standards, the dispatch catalogue and the working calendar.
//!
//! Everything here is pure: no database, no network, no clock. Callers pass `now` and whatever facts
//! the rules need, which is what lets the workflow be property-tested and replayed by the demo generator.

pub mod access;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod catalogue;
pub mod clusters;
pub mod enums;
pub mod evaluation;
pub mod grid;
pub mod ids;
pub mod masking;
pub mod number;
pub mod open311;
pub mod signals;
pub mod spam;
pub mod standard;
pub mod topics;
pub mod width;
pub mod workflow;

pub use calendar::WorkCalendar;
pub use case::{Case, Contact, Location, PendingRequest, Revisit};
pub use enums::{Channel, RequestType, Role, Satisfaction, State, TimingMode, UnitKind, Urgency};
pub use ids::{CaseId, CategoryId, DivisionId, GridId, UnitId, UserId};
pub use standard::{CaseStandard, TimeLimit};
pub use workflow::{Actor, Effect, FlowEntry, Move, MoveContext, MoveError, MoveKind, Outcome, Relation};
