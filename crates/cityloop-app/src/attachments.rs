//! Attachments (photos and documents): stored once by content hash, size and type checked by content.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};
use crate::moves::CaseRef;
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

/// How many of the cases holding one file are looked at to decide whether a caller may have it (the
/// same photo is rarely on more than a few cases).
const ATTACHMENT_CASES_CHECKED: i64 = 50;

/// Unattached uploads removed per transaction.
const SWEEP_BATCH: i64 = 500;

fn is_attachment_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

impl App {
    /// Checks the files a move or a new case is to carry: each uploaded by the acting user or held by
    /// the case already, so that knowing a file's hash is not a way to it. The answer does not tell a
    /// file that exists from one that does not.
    pub(crate) async fn check_attachments(
        &self,
        user: Option<cityloop_domain::UserId>,
        case: Option<cityloop_domain::CaseId>,
        hashes: &[String],
    ) -> Result<()> {
        for hash in hashes {
            if !is_attachment_hash(hash) || !self.store.attachment_usable(hash, user, case).await? {
                return Err(AppError::invalid("attachments", format!("unknown attachment `{hash}`; upload it first")));
            }
        }
        Ok(())
    }

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

    /// Stores a photo sent with the portal's form: for the resident's account when one is signed in
    /// (the account's request then carries it), else as a visitor's.
    pub async fn store_portal_attachment(
        &self,
        signed_in: Option<&Principal>,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment> {
        self.store_upload(signed_in.filter(|who| crate::intake::is_resident_account(who)), file_name, bytes).await
    }

    async fn store_upload(&self, who: Option<&Principal>, file_name: &str, bytes: &[u8]) -> Result<StoredAttachment> {
        if bytes.is_empty() {
            return Err(AppError::invalid("file", "is empty"));
        }
        if bytes.len() > self.settings.max_attachment_bytes {
            // Said in megabytes, as phones and cameras give a photo's size.
            let limit = self.settings.max_attachment_bytes;
            let said = if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
                format!("attachments are limited to {} MB", limit >> 20)
            } else {
                format!("attachments are limited to {limit} bytes")
            };
            return Err(AppError::TooLarge(said));
        }
        let content_type = sniff_content_type(bytes).ok_or_else(|| {
            AppError::invalid("file", "only JPEG, PNG, GIF, WebP images and PDF documents are accepted")
        })?;
        let hash = hex::encode(Sha256::digest(bytes));
        let name: String = file_name.chars().take(200).collect();
        // Recorded before the file is written: a sweep of unattached uploads that held the same
        // content has then finished, and the file it removed is written again below.
        self.store
            .insert_attachment(&hash, content_type, bytes.len(), &name, who.map(|w| w.user.id), self.now())
            .await?;
        let path = self.attachment_path(&hash);
        if !path.exists() {
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            tokio::fs::create_dir_all(&dir).await.map_err(|e| AppError::Internal(format!("attachment dir: {e}")))?;
            // Write to a temporary name and rename, so a crash never leaves a truncated file under the hash.
            let tmp = dir.join(format!("{hash}.part"));
            tokio::fs::write(&tmp, bytes).await.map_err(|e| AppError::Internal(format!("writing attachment: {e}")))?;
            tokio::fs::rename(&tmp, &path).await.map_err(|e| AppError::Internal(format!("storing attachment: {e}")))?;
        }
        Ok(StoredAttachment { hash, content_type: content_type.to_string(), size: bytes.len() })
    }

    /// Removes the uploads no case took within `attachments.unattached_hours` of their last upload:
    /// a photo a resident picked on the portal and never sent is not kept. Returns how many.
    pub async fn remove_unattached_uploads(&self) -> Result<u64> {
        let hours = self.settings.unattached_upload_hours;
        if hours == 0 {
            return Ok(0);
        }
        let before = self.now() - chrono::Duration::hours(i64::from(hours));
        let remove = |hash: &str| std::fs::remove_file(self.attachment_path(hash));
        let mut removed = 0;
        loop {
            let swept = self.store.sweep_unattached_uploads(before, SWEEP_BATCH, remove).await?;
            removed += swept.len() as u64;
            if (swept.len() as i64) < SWEEP_BATCH {
                return Ok(removed);
            }
        }
    }

    /// Reads an attachment back for a signed-in caller: only one who uploaded it or may see a case that
    /// holds it gets it; anyone else is told it does not exist, as for a case.
    pub async fn read_attachment_for(&self, who: &Principal, hash: &str) -> Result<(String, Vec<u8>)> {
        let hidden = || AppError::NotFound("attachment".into());
        if !is_attachment_hash(hash) {
            return Err(hidden());
        }
        let (uploaded, cases) =
            self.store.attachment_holders(hash, who.user.id, ATTACHMENT_CASES_CHECKED).await?.ok_or_else(hidden)?;
        let mut allowed = uploaded;
        for id in cases {
            if allowed {
                break;
            }
            allowed = self.visible_case(who, &CaseRef::Id(id.0)).await.is_ok();
        }
        if !allowed {
            return Err(hidden());
        }
        self.read_attachment(hash).await
    }

    /// Reads an attachment back: its type and bytes (for callers that checked who may have it).
    pub(crate) async fn read_attachment(&self, hash: &str) -> Result<(String, Vec<u8>)> {
        if !is_attachment_hash(hash) {
            return Err(AppError::NotFound("attachment".into()));
        }
        let content_type =
            self.store.attachment_type(hash).await?.ok_or_else(|| AppError::NotFound("attachment".into()))?;
        let bytes =
            tokio::fs::read(self.attachment_path(hash)).await.map_err(|_| AppError::NotFound("attachment".into()))?;
        Ok((content_type, bytes))
    }
}

/// A photo as it may be published: a JPEG, PNG, WebP or GIF without the metadata cameras and phones write into
/// it (EXIF with the GPS position and the time, XMP, IPTC, comments, text chunks). `None` for other
/// types, and for a file whose parts cannot be read: those are not published.
pub fn photo_without_metadata(content_type: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    use img_parts::jpeg::{markers, Jpeg};
    use img_parts::png::Png;
    let bytes = img_parts::Bytes::copy_from_slice(bytes);
    match content_type {
        "image/jpeg" => {
            let mut jpeg = Jpeg::from_bytes(bytes).ok()?;
            // Without a scan there is no picture: not a photo.
            jpeg.segments().iter().any(|s| s.marker() == markers::SOS).then_some(())?;
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
            png.chunks().iter().any(|c| &c.kind() == b"IDAT").then_some(())?;
            png.chunks_mut().retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME"));
            Some(png.encoder().bytes().to_vec())
        }
        "image/webp" => webp_without_metadata(bytes),
        "image/gif" => gif_without_metadata(&bytes[..]),
        _ => None,
    }
}

/// A WebP without its EXIF and XMP chunks, and with the extended header's flags saying so (a reader
/// that trusts the flags would otherwise look for chunks that are gone).
fn webp_without_metadata(bytes: img_parts::Bytes) -> Option<Vec<u8>> {
    use img_parts::riff::{RiffChunk, RiffContent};
    use img_parts::webp::{WebP, CHUNK_ANMF, CHUNK_EXIF, CHUNK_VP8, CHUNK_VP8L, CHUNK_VP8X, CHUNK_XMP};
    const EXIF_FLAG: u8 = 0b0000_1000;
    const XMP_FLAG: u8 = 0b0000_0100;
    let mut webp = WebP::from_bytes(bytes).ok()?;
    // A file without a picture is not a photo. (The picture is not decoded: the library's reading of
    // a lossy header trusts its length.)
    webp.chunks().iter().any(|c| [CHUNK_VP8, CHUNK_VP8L, CHUNK_ANMF].contains(&c.id())).then_some(())?;
    let chunks = webp.chunks_mut();
    chunks.retain(|c| c.id() != CHUNK_EXIF && c.id() != CHUNK_XMP);
    for chunk in chunks.iter_mut() {
        if chunk.id() == CHUNK_VP8X {
            let mut header = chunk.content().data()?.to_vec();
            *header.first_mut()? &= !(EXIF_FLAG | XMP_FLAG);
            *chunk = RiffChunk::new(CHUNK_VP8X, RiffContent::Data(header.into()));
        }
    }
    Some(webp.encoder().bytes().to_vec())
}

/// A GIF with only its pictures, their graphic control and plain-text blocks, and the application
/// blocks that say how an animation loops or give the colour profile: comments, XMP (which travels in
/// an application block) and anything unknown go. `None` when the blocks cannot be followed to the
/// trailer.
fn gif_without_metadata(bytes: &[u8]) -> Option<Vec<u8>> {
    const KEPT_APPLICATIONS: &[&[u8]] = &[b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"];
    /// Bytes of the colour table a packed field announces.
    fn colour_table(packed: u8) -> usize {
        if packed & 0x80 == 0 {
            0
        } else {
            3 << ((packed & 0x07) + 1)
        }
    }
    /// The end of a run of data sub-blocks starting at `at` (after its zero terminator).
    fn sub_blocks_end(bytes: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = usize::from(*bytes.get(at)?);
            at += 1;
            if len == 0 {
                return Some(at);
            }
            at += len;
        }
    }
    if !(bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) {
        return None;
    }
    // Header and logical screen descriptor, then the global colour table.
    let mut at = 13 + colour_table(*bytes.get(10)?);
    let mut out = bytes.get(..at)?.to_vec();
    loop {
        match *bytes.get(at)? {
            0x3B => {
                out.push(0x3B);
                return Some(out);
            }
            0x2C => {
                // Image descriptor, local colour table, LZW code size, image data.
                let data = at + 10 + colour_table(*bytes.get(at + 9)?);
                let end = sub_blocks_end(bytes, data + 1)?;
                out.extend_from_slice(bytes.get(at..end)?);
                at = end;
            }
            0x21 => {
                let label = *bytes.get(at + 1)?;
                let end = sub_blocks_end(bytes, at + 2)?;
                let kept = match label {
                    // Graphic control, plain text.
                    0xF9 | 0x01 => true,
                    0xFF => {
                        let len = usize::from(*bytes.get(at + 2)?);
                        KEPT_APPLICATIONS.contains(&bytes.get(at + 3..at + 3 + len)?)
                    }
                    _ => false,
                };
                if kept {
                    out.extend_from_slice(bytes.get(at..end)?);
                }
                at = end;
            }
            _ => return None,
        }
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
        assert_eq!(photo_without_metadata("image/gif", b"GIF89a truncated"), None);
        assert_eq!(photo_without_metadata("image/jpeg", b"\xFF\xD8 truncated"), None);
        assert_eq!(photo_without_metadata("image/jpeg", b"\xFF\xD8\xFF\xD9"), None, "no picture in it");
    }

    #[test]
    fn published_gifs_lose_comments_and_xmp_and_keep_their_frames_and_looping() {
        // A 1×1 GIF: header, screen, two-colour table, graphic control, image, trailer.
        let head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00".to_vec();
        let control = b"\x21\xf9\x04\x01\x00\x00\x00\x00".to_vec();
        let image = b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00".to_vec();
        let looping = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00".to_vec();
        let comment = b"\x21\xfe\x0dtaken at home\x00".to_vec();
        let xmp = b"\x21\xff\x0bXMP DataXMP\x0cGPS 30.2741N\x00".to_vec();
        let clean = [head.clone(), looping.clone(), control.clone(), image.clone(), b";".to_vec()].concat();
        let tagged = [head, comment, looping, xmp, control, image, b";".to_vec()].concat();
        assert_eq!(photo_without_metadata("image/gif", &tagged), Some(clean.clone()));
        assert_eq!(photo_without_metadata("image/gif", &clean), Some(clean.clone()));
        // Blocks that run past the end are not published.
        assert_eq!(photo_without_metadata("image/gif", &clean[..clean.len() - 3]), None);
    }

    #[test]
    fn published_webps_lose_exif_and_xmp_and_say_so_in_their_header() {
        let chunk = |id: &[u8; 4], body: &[u8]| {
            let mut c = id.to_vec();
            c.extend((body.len() as u32).to_le_bytes());
            c.extend(body);
            if body.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let riff = |chunks: Vec<Vec<u8>>| {
            let body = [b"WEBP".to_vec(), chunks.concat()].concat();
            [b"RIFF".to_vec(), (body.len() as u32).to_le_bytes().to_vec(), body].concat()
        };
        // VP8X with the EXIF and XMP flags, a 1×1 lossless picture, then the metadata.
        let picture = chunk(b"VP8L", b"\x2f\x00\x00\x00\x00\x07\x10\x11\x11\x88\x88\xfe\x07\x00");
        let tagged = riff(vec![
            chunk(b"VP8X", &[0b0000_1100, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            picture.clone(),
            chunk(b"EXIF", b"MM\0*GPS 30.2741N"),
            chunk(b"XMP ", b"<x:xmpmeta>home</x:xmpmeta>"),
        ]);
        let clean = riff(vec![chunk(b"VP8X", &[0; 10]), picture]);
        assert_eq!(photo_without_metadata("image/webp", &tagged), Some(clean));
        assert_eq!(photo_without_metadata("image/webp", b"RIFF\x04\0\0\0WEBP"), None, "no picture");
        // A lossy picture chunk too short to hold its header is passed on as it came, not read.
        let short = b"RIFF\x0e\0\0\0WEBPVP8 \x02\0\0\0\0\0";
        assert_eq!(photo_without_metadata("image/webp", short), Some(short.to_vec()));
        assert_eq!(photo_without_metadata("image/webp", b"RIFF\x40\0\0\0WEBPVP8L\x20\0\0\0"), None, "cut short");
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
