//! 每月一题: which problems are the month's hard ones. A candidate is a category that is frequent, often
//! left unsolved or unsatisfied at the revisit, and that brings the same callers back.

/// Categories with fewer cases than this in a period are not candidates: a topic is a frequent problem.
pub const MIN_CASES: i64 = 10;

/// The month of one category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CategoryFigures {
    pub cases: i64,
    pub revisits: i64,
    pub unsolved: i64,
    pub unsatisfied: i64,
    pub repeat_callers: i64,
}

/// How hard a category's month was, 0–100: its volume against the busiest category (40), the share
/// of revisits left unsolved (25) and unsatisfied (20), and callers who came back (15; one caller in
/// five coming back counts fully).
pub fn topic_score(f: &CategoryFigures, busiest: i64) -> f64 {
    let share = |n: i64, of: i64| if of > 0 { (n as f64 / of as f64).clamp(0.0, 1.0) } else { 0.0 };
    let score = 40.0 * share(f.cases, busiest)
        + 25.0 * share(f.unsolved, f.revisits)
        + 20.0 * share(f.unsatisfied, f.revisits)
        + 15.0 * (5.0 * share(f.repeat_callers, f.cases)).min(1.0);
    (score * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frequent_problem_left_unsolved_outranks_a_frequent_one_that_is_solved() {
        let solved = CategoryFigures { cases: 100, revisits: 80, unsolved: 4, unsatisfied: 2, repeat_callers: 1 };
        let stuck = CategoryFigures { cases: 60, revisits: 50, unsolved: 30, unsatisfied: 25, repeat_callers: 12 };
        assert!(topic_score(&stuck, 100) > topic_score(&solved, 100));
        // 40 × 0.6 + 25 × 0.6 + 20 × 0.5 + 15 × min(1, 5 × 0.2)
        assert_eq!(topic_score(&stuck, 100), 64.0);
        let quiet = CategoryFigures { cases: 0, revisits: 0, unsolved: 0, unsatisfied: 0, repeat_callers: 0 };
        assert_eq!(topic_score(&quiet, 0), 0.0);
    }
}
