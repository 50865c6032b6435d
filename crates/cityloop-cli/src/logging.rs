//! The log: to standard error, as text or JSON, with residents' phone and ID numbers and e-mail
//! addresses masked in every line, whatever wrote them (an error that quotes a value, a path).

use std::io::{self, Write};

use cityloop_domain::masking::mask_personal_data_in_log;
use tracing_subscriber::EnvFilter;

use crate::settings::Settings;

pub fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| MaskedLog(io::stderr()));
    if settings.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A writer that masks personal data in what it is given before passing it on. The formatter hands
/// over each event whole, in one write, so a number is never split between two writes.
struct MaskedLog<W: Write>(W);

impl<W: Write> Write for MaskedLog<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(mask_personal_data_in_log(text).as_bytes())?,
            Err(_) => self.0.write_all(mask_personal_data_in_log(&String::from_utf8_lossy(buf)).as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_reaches_the_log_has_phones_masked() {
        let mut log = MaskedLog(Vec::new());
        write!(
            log,
            "{{\"level\":\"WARN\",\"message\":\"refused\",\"phone\":\"13812341234\",\"case\":\"20261121-000123\"}}"
        )
        .unwrap();
        let written = String::from_utf8(log.0).unwrap();
        assert_eq!(
            written,
            "{\"level\":\"WARN\",\"message\":\"refused\",\"phone\":\"138****1234\",\"case\":\"20261121-000123\"}"
        );
    }
}
