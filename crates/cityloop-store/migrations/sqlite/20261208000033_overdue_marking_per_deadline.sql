-- An overdue marking belongs to the deadline it found passed. Cases given a later deadline since
-- (an extension, a reopening, a dispatch) or none (returned to the dispatcher) are watched anew.
update cases set overdue_at = null
where overdue_at is not null and (deadline is null or deadline > overdue_at);
