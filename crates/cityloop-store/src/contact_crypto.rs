//! Residents' contact data encrypted at rest with AES-SIV (RFC 5297): authenticated, and deterministic,
//! so that equal phone numbers stay equal in the database (the phone lookup, repeat callers) while the
//! database holds no number in clear. The column name is bound in as associated data, so a name cannot
//! be passed off as a phone. Stored as `enc:<key id>:<hex>`; text without the prefix is clear text (a
//! database from before a key was set, until `cityloop privacy rotate` encrypts it).

use aes_siv::siv::Aes128Siv;
use aes_siv::KeyInit;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

const PREFIX: &str = "enc:";

/// One key: 32 bytes (AES-128-SIV), and its id (the start of its SHA-256).
#[derive(Clone)]
struct ContactKey {
    id: String,
    key: [u8; 32],
}

impl ContactKey {
    fn parse(hex_key: &str) -> std::result::Result<Self, String> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex_key.trim(), &mut key).map_err(|_| "must be 64 hex digits (32 bytes)".to_string())?;
        Ok(Self { id: hex::encode(&Sha256::digest(key)[..4]), key })
    }

    fn siv(&self) -> Aes128Siv {
        Aes128Siv::new(&self.key.into())
    }
}

/// The keys contact data is written and read with.
#[derive(Clone, Default)]
pub struct ContactCipher {
    /// New values are encrypted with it; none: written in clear.
    current: Option<ContactKey>,
    /// Earlier keys, still read (until a rotation has re-encrypted everything).
    previous: Vec<ContactKey>,
}

impl std::fmt::Debug for ContactCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContactCipher")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field("previous", &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl ContactCipher {
    /// From hex keys: the current one (empty: none) and earlier ones. The error names the bad key.
    pub fn new(current: &str, previous: &[String]) -> std::result::Result<Self, String> {
        let current = (!current.trim().is_empty())
            .then(|| ContactKey::parse(current).map_err(|e| format!("the current key {e}")))
            .transpose()?;
        let previous = previous
            .iter()
            .enumerate()
            .map(|(i, k)| ContactKey::parse(k).map_err(|e| format!("earlier key {} {e}", i + 1)))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Self { current, previous })
    }

    /// Whether new values are encrypted.
    pub fn encrypts(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the current key.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    fn seal_with(key: &ContactKey, column: &str, clear: &str) -> String {
        // AES-SIV takes any plaintext length and associated data; it fails only past 126 headers.
        let sealed = key.siv().encrypt([column.as_bytes()], clear.as_bytes()).unwrap_or_default();
        format!("{PREFIX}{}:{}", key.id, hex::encode(sealed))
    }

    /// The value to store for `clear` in `column` (an empty value stays empty: it says nothing).
    pub fn seal(&self, column: &str, clear: &str) -> String {
        match &self.current {
            Some(key) if !clear.is_empty() => Self::seal_with(key, column, clear),
            _ => clear.to_string(),
        }
    }

    /// The clear text of a stored value.
    pub fn open(&self, column: &str, stored: &str) -> Result<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let (id, sealed) = rest.split_once(':').unwrap_or((rest, ""));
        let key = self.current.iter().chain(&self.previous).find(|k| k.id == id).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "contact data is encrypted with key {id}, which is not configured (privacy.contact_key, \
                 privacy.previous_contact_keys)"
            ))
        })?;
        let corrupt = || StoreError::Corrupt(format!("{column}: encrypted value does not open with key {id}"));
        let bytes = hex::decode(sealed).map_err(|_| corrupt())?;
        let clear = key.siv().decrypt([column.as_bytes()], &bytes).map_err(|_| corrupt())?;
        String::from_utf8(clear).map_err(|_| corrupt())
    }

    /// Every form `clear` may be stored in (clear, and under each key), for equality filters.
    pub fn stored_forms(&self, column: &str, clear: &str) -> Vec<String> {
        let mut forms = vec![clear.to_string()];
        forms.extend(self.current.iter().chain(&self.previous).map(|k| Self::seal_with(k, column, clear)));
        forms
    }

    /// Whether a stored value is already under the current key (or clear with no key set).
    pub fn is_current(&self, stored: &str) -> bool {
        match &self.current {
            _ if stored.is_empty() => true,
            Some(key) => stored.strip_prefix(PREFIX).is_some_and(|rest| rest.starts_with(&format!("{}:", key.id))),
            None => !stored.starts_with(PREFIX),
        }
    }
}

impl crate::Store {
    /// The keys contact data is written and read with.
    pub fn contact_cipher(&self) -> &ContactCipher {
        &self.contacts
    }

    /// This store writing contact data with other keys (only for measuring what encryption costs).
    pub fn with_contact_cipher(&self, cipher: ContactCipher) -> crate::Store {
        crate::Store { contacts: std::sync::Arc::new(cipher), ..self.clone() }
    }

    /// Brings every case's contact data under the current key: values under an earlier key are
    /// re-encrypted, values in clear encrypted (with no key set: decrypted). A case whose contact
    /// changes meanwhile is left to the write that changed it. How many cases were rewritten.
    pub async fn rotate_contact_data(&self) -> Result<u64> {
        let cipher = &self.contacts;
        let (mut after, mut rewritten) = (0i64, 0u64);
        loop {
            let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
                "select id, contact_name, contact_phone from cases where id > $1 \
                 and (contact_name is not null or contact_phone is not null) order by id limit 1000",
            )
            .bind(after)
            .fetch_all(self.writer())
            .await?;
            let Some(last) = rows.last() else { return Ok(rewritten) };
            after = last.0;
            let mut tx = self.writer().begin().await?;
            for (id, name, phone) in rows {
                let stale = |v: &Option<String>| v.as_deref().is_some_and(|v| !cipher.is_current(v));
                if !stale(&name) && !stale(&phone) {
                    continue;
                }
                let reseal = |column: &str, v: &Option<String>| -> Result<Option<String>> {
                    v.as_deref().map(|v| Ok(cipher.seal(column, &cipher.open(column, v)?))).transpose()
                };
                let done = sqlx::query(
                    "update cases set contact_name = $1, contact_phone = $2 where id = $3 \
                     and coalesce(contact_name, '') = $4 and coalesce(contact_phone, '') = $5",
                )
                .bind(reseal("contact_name", &name)?)
                .bind(reseal("contact_phone", &phone)?)
                .bind(id)
                .bind(name.unwrap_or_default())
                .bind(phone.unwrap_or_default())
                .execute(&mut *tx)
                .await?;
                rewritten += done.rows_affected();
            }
            tx.commit().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const K2: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn values_are_sealed_deterministically_and_open_again() {
        let c = ContactCipher::new(K1, &[]).unwrap();
        let sealed = c.seal("contact_phone", "13812345678");
        assert!(sealed.starts_with("enc:") && !sealed.contains("13812345678"), "{sealed}");
        assert_eq!(sealed, c.seal("contact_phone", "13812345678"), "equal values stay equal");
        assert_ne!(sealed, c.seal("contact_name", "13812345678"), "bound to the column");
        assert_eq!(c.open("contact_phone", &sealed).unwrap(), "13812345678");
        assert!(c.open("contact_name", &sealed).is_err(), "not under another column");
        assert_eq!(c.open("contact_phone", "13812345678").unwrap(), "13812345678", "clear text reads as is");
        assert_eq!(c.seal("contact_name", ""), "", "an empty value stays empty");
        assert!(c.is_current(""));
    }

    #[test]
    fn a_tampered_value_or_a_missing_key_is_an_error() {
        let c = ContactCipher::new(K1, &[]).unwrap();
        let mut sealed = c.seal("contact_phone", "13812345678");
        sealed.replace_range(sealed.len() - 2.., "00");
        assert!(matches!(c.open("contact_phone", &sealed), Err(StoreError::Corrupt(_))));
        let other = ContactCipher::new(K2, &[]).unwrap();
        assert!(matches!(other.open("contact_phone", &c.seal("contact_phone", "1")), Err(StoreError::Unavailable(_))));
    }

    #[test]
    fn after_a_rotation_both_keys_read_and_filters_match_every_form() {
        let old = ContactCipher::new(K1, &[]).unwrap();
        let rotated = ContactCipher::new(K2, &[K1.to_string()]).unwrap();
        let before = old.seal("contact_phone", "139");
        assert_eq!(rotated.open("contact_phone", &before).unwrap(), "139");
        assert!(!rotated.is_current(&before) && rotated.is_current(&rotated.seal("contact_phone", "139")));
        let forms = rotated.stored_forms("contact_phone", "139");
        assert!(forms.contains(&before) && forms.contains(&"139".to_string()) && forms.len() == 3);
        assert!(ContactCipher::new("abc", &[]).unwrap_err().contains("64 hex digits"));
    }
}
