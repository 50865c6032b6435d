//! Attachments (photos and documents): stored once by content hash, size and type checked by content.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredAttachment {
    pub hash: String,
    pub content_type: String,
    pub size: usize,
}

/// The type of a file from its first bytes: JPEG, PNG, GIF, WebP or PDF; anything else is refused.
pub fn sniff_content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

impl App {
    fn attachment_path(&self, hash: &str) -> PathBuf {
        self.settings.attachments_dir.join(&hash[..2]).join(hash)
    }

    /// Stores an uploaded file; the same content uploaded twice is stored once.
    pub async fn store_attachment(&self, who: &Principal, file_name: &str, bytes: &[u8]) -> Result<StoredAttachment> {
        self.store_upload(Some(who), file_name, bytes).await
    }

    /// Stores a photo a resident sends with a request on the public portal.
    pub async fn store_public_attachment(&self, file_name: &str, bytes: &[u8]) -> Result<StoredAttachment> {
        self.store_upload(None, file_name, bytes).await
    }

    async fn store_upload(&self, who: Option<&Principal>, file_name: &str, bytes: &[u8]) -> Result<StoredAttachment> {
        if bytes.is_empty() {
            return Err(AppError::invalid("file", "is empty"));
        }
        if bytes.len() > self.settings.max_attachment_bytes {
            return Err(AppError::TooLarge(format!(
                "attachments are limited to {} bytes",
                self.settings.max_attachment_bytes
            )));
        }
        let content_type = sniff_content_type(bytes).ok_or_else(|| {
            AppError::invalid("file", "only JPEG, PNG, GIF, WebP images and PDF documents are accepted")
        })?;
        let hash = hex::encode(Sha256::digest(bytes));
        let path = self.attachment_path(&hash);
        if !path.exists() {
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            tokio::fs::create_dir_all(&dir).await.map_err(|e| AppError::Internal(format!("attachment dir: {e}")))?;
            // Write to a temporary name and rename, so a crash never leaves a truncated file under the hash.
            let tmp = dir.join(format!("{hash}.part"));
            tokio::fs::write(&tmp, bytes).await.map_err(|e| AppError::Internal(format!("writing attachment: {e}")))?;
            tokio::fs::rename(&tmp, &path).await.map_err(|e| AppError::Internal(format!("storing attachment: {e}")))?;
        }
        let name: String = file_name.chars().take(200).collect();
        self.store
            .insert_attachment(&hash, content_type, bytes.len(), &name, who.map(|w| w.user.id), self.now())
            .await?;
        Ok(StoredAttachment { hash, content_type: content_type.to_string(), size: bytes.len() })
    }

    /// Reads an attachment back: its type and bytes.
    pub async fn read_attachment(&self, hash: &str) -> Result<(String, Vec<u8>)> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::NotFound("attachment".into()));
        }
        let content_type =
            self.store.attachment_type(hash).await?.ok_or_else(|| AppError::NotFound("attachment".into()))?;
        let bytes =
            tokio::fs::read(self.attachment_path(hash)).await.map_err(|_| AppError::NotFound("attachment".into()))?;
        Ok((content_type, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_recognised_by_content_not_by_name() {
        assert_eq!(sniff_content_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_content_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_content_type(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff_content_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_content_type(b"<html><script>"), None);
        assert_eq!(sniff_content_type(b"MZ\x90\0"), None);
    }
}
