//! A small builder for SQL with `$n` placeholders and their values, for queries assembled at run time
//! (filters, multi-row inserts). Placeholders are numbered as values are pushed, so the text and the
//! values can never disagree.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// One value to bind.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

/// The same values bound through rusqlite, for bulk loads into SQLite.
impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Arg::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Arg::Real(Some(v)) => ToSqlOutput::Owned(Value::Real(*v)),
            Arg::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Int(None) | Arg::Real(None) | Arg::Text(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::Real(Some(v))
    }
}
impl From<Option<f64>> for Arg {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}

/// SQL text plus the values of its placeholders.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string(), args: Vec::new() }
    }

    /// Appends literal SQL.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `(v1, v2, …)` placeholders for a list.
    pub fn bind_list<T: Into<Arg>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        self.text.push('(');
        let mut empty = true;
        for (i, v) in values.into_iter().enumerate() {
            empty = false;
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        if empty {
            // `in ()` is not SQL; `in (null)` matches nothing, which is what an empty list means.
            self.text.push_str("null");
        }
        self.text.push(')');
        self
    }

    /// The same statement in the placeholders that bind fastest on `backend`. SQLite looks a numbered
    /// placeholder up by name for every value bound, at a cost that grows with the square of their
    /// number: a multi-row statement of thousands of values spends most of its time there. Anonymous
    /// `?` placeholders bind by position, and mean the same when every `$n` appears once and in order,
    /// as this builder writes them; a statement that reuses one is left as it is.
    pub fn for_backend(mut self, backend: crate::Backend) -> Self {
        if backend == crate::Backend::Sqlite {
            if let Some(text) = anonymous_placeholders(&self.text, self.args.len()) {
                self.text = text;
            }
        }
        self
    }

    /// Appends another fragment, renumbering its placeholders after ours.
    pub fn append(&mut self, other: Sql) -> &mut Self {
        let offset = self.args.len();
        let mut text = String::with_capacity(other.text.len());
        let mut chars = other.text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                let n: usize = n.parse().unwrap_or(0);
                text.push('$');
                text.push_str(&(n + offset).to_string());
            } else {
                text.push(c);
            }
        }
        self.text.push_str(&text);
        self.args.extend(other.args);
        self
    }

    /// The sqlx query with every value bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Int(v) => q.bind(*v),
                Arg::Real(Some(v)) => q.bind(*v),
                // sqlx 0.8's Any driver swaps the types of typed nulls on PostgreSQL (a null `f64` goes
                // out as `real`, a null `f32` as `double precision`): a statement first prepared with a
                // null here would refuse every later 8-byte value ("incorrect binary data format").
                // A null `f32` goes out as the `double precision` null the column is.
                Arg::Real(None) => q.bind(Option::<f32>::None),
                Arg::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

/// `text` with `$1, $2, …` replaced by `?`, if each of the `count` placeholders appears once, in order.
fn anonymous_placeholders(text: &str, count: usize) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut expected = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            if n != expected {
                return None;
            }
            expected += 1;
            out.push('?');
        } else {
            out.push(c);
        }
    }
    (expected == count + 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_fragments_are_renumbered() {
        let mut a = Sql::new("select 1 where x = ");
        a.bind(1i64);
        let mut b = Sql::new(" and y in ");
        b.bind_list([2i64, 3]);
        a.append(b);
        assert_eq!(a.text, "select 1 where x = $1 and y in ($2, $3)");
        assert_eq!(a.args.len(), 3);
        let mut e = Sql::new("z in ");
        e.bind_list(Vec::<i64>::new());
        assert_eq!(e.text, "z in (null)");
    }

    #[test]
    fn sqlite_binds_by_position_when_every_placeholder_comes_once_in_order() {
        let mut rows = Sql::new("insert into t (a, b) values ");
        rows.bind_list([1i64, 2]).push(", ").bind_list([3i64, 4]);
        let fast = rows.clone().for_backend(crate::Backend::Sqlite);
        assert_eq!(fast.text, "insert into t (a, b) values (?, ?), (?, ?)");
        assert_eq!(rows.clone().for_backend(crate::Backend::Postgres).text, rows.text);
        // A placeholder used twice, or out of order, keeps its number.
        let mut twice = Sql::new("select $1 where x = $1");
        twice.args.push(Arg::from(1i64));
        assert_eq!(twice.clone().for_backend(crate::Backend::Sqlite).text, twice.text);
        let mut swapped = Sql::new("select $2, $1");
        swapped.args.extend([Arg::from(1i64), Arg::from(2i64)]);
        assert_eq!(swapped.clone().for_backend(crate::Backend::Sqlite).text, swapped.text);
        let mut twelve = Sql::new("values ");
        twelve.bind_list(0..12i64);
        assert_eq!(twelve.clone().for_backend(crate::Backend::Sqlite).text.matches('?').count(), 12);
    }
}
