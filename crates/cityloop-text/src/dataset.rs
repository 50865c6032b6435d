//! Labelled text files: UTF-8 CSV with the columns `id,label,text` (others are ignored).

use crate::classifier::LabelledText;

/// One row of a data file.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    pub label: String,
    pub text: String,
}

/// Why a data file could not be read; `line` is 1-based, the header being line 1.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct DataError {
    pub line: u64,
    pub message: String,
}

/// Reads a whole data file. Every row needs an id, a label and a non-empty text.
pub fn parse_labelled_csv(bytes: &[u8]) -> Result<Vec<Row>, DataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(error) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
        return Err(DataError {
            line,
            message: "the file is not UTF-8 text (GBK or GB18030? save it as UTF-8)".into(),
        });
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| DataError { line: 1, message: e.to_string() })?.clone();
    let column = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| DataError {
            line: 1,
            message: format!("missing column `{name}` (the header must name id, label and text)"),
        })
    };
    let (id, label, text) = (column("id")?, column("label")?, column("text")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError {
            line: e.position().map_or(0, |p| p.line()),
            message: format!("not a valid CSV row: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |index: usize, name: &str| {
            let value = record.get(index).unwrap_or("").trim();
            if value.is_empty() {
                Err(DataError { line, message: format!("empty `{name}`") })
            } else {
                Ok(value.to_string())
            }
        };
        rows.push(Row { id: field(id, "id")?, label: field(label, "label")?, text: field(text, "text")? });
    }
    if rows.is_empty() {
        return Err(DataError { line: 1, message: "no rows after the header".into() });
    }
    Ok(rows)
}

impl From<Row> for LabelledText {
    fn from(row: Row) -> Self {
        LabelledText { label: row.label, text: row.text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_quotes_and_extra_columns() {
        let rows = parse_labelled_csv(
            "\u{feff}id,label,extra,text\n1,环境保护,x,\"噪音, 很大\"\n2,交通运输,,公交\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "噪音, 很大");
        assert_eq!(rows[1].label, "交通运输");
    }

    #[test]
    fn names_the_line_of_each_fault() {
        let missing = parse_labelled_csv(b"id,text\n1,x\n").unwrap_err();
        assert_eq!(missing.line, 1);
        assert!(missing.message.contains("label"), "{missing}");
        let empty = parse_labelled_csv("id,label,text\n1,a,x\n2,b,  \n".as_bytes()).unwrap_err();
        assert_eq!((empty.line, empty.message.as_str()), (3, "empty `text`"));
        let mut gbk = b"id,label,text\n1,a,ok\n2,b,".to_vec();
        gbk.extend_from_slice(&[0xd4, 0xeb, 0xd2, 0xf4, b'\n']);
        let encoding = parse_labelled_csv(&gbk).unwrap_err();
        assert_eq!(encoding.line, 3);
        assert!(encoding.message.contains("UTF-8"));
    }
}
