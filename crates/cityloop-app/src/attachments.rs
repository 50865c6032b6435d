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

/// A photo as it may be published: a JPEG or PNG without the metadata cameras and phones write into
/// it (EXIF with the GPS position and the time, XMP, IPTC, comments, text chunks). `None` for other
/// types, and for a file whose parts cannot be read: those are not published.
pub fn photo_without_metadata(content_type: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    use img_parts::jpeg::{markers, Jpeg};
    use img_parts::png::Png;
    let bytes = img_parts::Bytes::copy_from_slice(bytes);
    match content_type {
        "image/jpeg" => {
            let mut jpeg = Jpeg::from_bytes(bytes).ok()?;
            // APP1 holds EXIF and XMP, APP13 IPTC; APP3–APP12 and APP15 are makers' notes. APP0 (JFIF),
            // APP2 (the colour profile) and APP14 (Adobe's colour transform) describe only the picture.
            jpeg.segments_mut().retain(|s| {
                let m = s.marker();
                !(m == markers::APP1
                    || (markers::APP3..=markers::APP13).contains(&m)
                    || m == markers::APP15
                    || m == markers::COM)
            });
            Some(jpeg.encoder().bytes().to_vec())
        }
        "image/png" => {
            let mut png = Png::from_bytes(bytes).ok()?;
            png.chunks_mut().retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME"));
            Some(png.encoder().bytes().to_vec())
        }
        _ => None,
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

    #[test]
    fn published_photos_lose_their_location_and_keep_their_picture() {
        // SOI, APP0 (JFIF), APP1 (EXIF with a GPS tag), COM, a tiny scan, EOI.
        let segment = |marker: u8, body: &[u8]| {
            let mut s = vec![0xFF, marker];
            s.extend(((body.len() + 2) as u16).to_be_bytes());
            s.extend(body);
            s
        };
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        jpeg.extend(segment(0xE1, b"Exif\0\0GPSLatitude 30.2741"));
        jpeg.extend(segment(0xFE, b"taken at home"));
        jpeg.extend(segment(0xDA, b"\x01\x01\0\0\x3f\0"));
        jpeg.extend([0x12, 0x34, 0xFF, 0xD9]);
        let published = photo_without_metadata("image/jpeg", &jpeg).unwrap();
        let text = String::from_utf8_lossy(&published);
        assert!(!text.contains("GPSLatitude") && !text.contains("taken at home"), "{text}");
        assert!(text.contains("JFIF"));
        assert!(published.ends_with(&[0x12, 0x34, 0xFF, 0xD9]), "the picture itself is kept");

        let chunk = |kind: &[u8; 4], body: &[u8]| {
            let mut c = (body.len() as u32).to_be_bytes().to_vec();
            c.extend(kind);
            c.extend(body);
            c.extend(crc32(kind, body).to_be_bytes());
            c
        };
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        png.extend(chunk(b"tEXt", b"Comment\0my address"));
        png.extend(chunk(b"eXIf", b"MM\0*GPS"));
        png.extend(chunk(b"IDAT", b"x"));
        png.extend(chunk(b"IEND", b""));
        let published = photo_without_metadata("image/png", &png).unwrap();
        let text = String::from_utf8_lossy(&published);
        assert!(!text.contains("my address") && !text.contains("eXIf"), "{text}");
        assert!(text.contains("IHDR") && text.contains("IDAT"));

        assert_eq!(photo_without_metadata("application/pdf", b"%PDF-1.7"), None);
        assert_eq!(photo_without_metadata("image/jpeg", b"\xFF\xD8 truncated"), None);
    }

    /// PNG's CRC-32 of a chunk's type and data.
    fn crc32(kind: &[u8], body: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in kind.iter().chain(body) {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
