//! One normal form for every text the classifier and the fingerprints see.
//!
//! Operators type raw sentences with punctuation, full-width Latin letters and digits; archives hold the same
//! messages split into words with stop words removed. Both must give the same features, so the normal form
//! keeps letters and digits only (no spaces, no punctuation), folds full-width and upper-case Latin letters,
//! and drops the handful of function characters that word-split corpora leave out.

/// The text with traditional characters in their simplified forms (路燈壞了 → 路灯坏了), phrase by
/// phrase. Residents type either; the models learn from simplified text, and a traditional character
/// they never saw would otherwise leave the decision to the few characters both scripts share.
pub fn to_simplified(text: &str) -> String {
    zhconv::zhconv(text, zhconv::Variant::ZhHans)
}

/// Appends the normal form of `text` to `out`.
pub fn normalize_into(text: &str, fold_digits: bool, out: &mut Vec<char>) {
    for c in text.chars() {
        if (CJK_FIRST..=CJK_LAST).contains(&(c as u32)) {
            if !is_function_cjk(c) {
                out.push(c);
            }
            continue;
        }
        let c = fold_width_and_case(c);
        if !is_word_char(c) {
            continue;
        }
        out.push(if fold_digits && c.is_ascii_digit() { '0' } else { c });
    }
}

/// The normal form as a string (used where speed matters less: fingerprints, explanations).
pub fn normalize(text: &str) -> String {
    let mut chars = Vec::with_capacity(text.len() / 2);
    normalize_into(text, false, &mut chars);
    chars.into_iter().collect()
}

/// Whether `text` holds at least one Chinese character.
pub fn has_chinese(text: &str) -> bool {
    text.chars().any(is_han)
}

/// A Han character: the common block, the extensions (rare names and places, with the compatibility
/// supplement among them), the compatibility forms, the radicals and 〇.
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
            | '\u{3400}'..='\u{4DBF}'
            | '\u{20000}'..='\u{323AF}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{2E80}'..='\u{2FDF}'
            | '\u{3007}')
}

/// Letters and digits, with a fast path for ASCII (the general Unicode lookup is the slowest step of
/// feature extraction otherwise; the common CJK block never reaches here).
#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric()
    }
}

fn fold_width_and_case(c: char) -> char {
    let c = match c {
        // Full-width ASCII forms (！ to ～) map onto ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_ascii_lowercase()
}

/// Particles, pronouns and conjunctions that say nothing about the kind of request. Word-split corpora drop
/// them as stop words; dropping the characters everywhere keeps raw and split text aligned. All of them
/// are in the common CJK block.
const FUNCTION_CHARS: &[char] = &[
    '的', '了', '是', '在', '有', '和', '与', '及', '或', '等', '我', '你', '他', '她', '它', '们', '这', '那', '就',
    '也', '都', '很', '吧', '呢', '吗', '啊', '着', '被', '把', '对', '从', '向', '为', '于', '之', '其', '所', '而',
    '且', '但', '并', '个', '啦', '呀', '哦', '嘛',
];

/// The common CJK block, U+4E00 to U+9FFF, where nearly every character of a request lies.
const CJK_FIRST: u32 = 0x4E00;
const CJK_LAST: u32 = 0x9FFF;

/// [`FUNCTION_CHARS`] as one bit per character of the common CJK block (2.6 KB): the test costs a
/// shift and a mask, where the list costs up to 46 comparisons per character.
const FUNCTION_BITS: [u64; ((CJK_LAST - CJK_FIRST + 1) as usize).div_ceil(64)] = {
    let mut bits = [0u64; ((CJK_LAST - CJK_FIRST + 1) as usize).div_ceil(64)];
    let mut i = 0;
    while i < FUNCTION_CHARS.len() {
        let at = (FUNCTION_CHARS[i] as u32 - CJK_FIRST) as usize;
        bits[at / 64] |= 1 << (at % 64);
        i += 1;
    }
    bits
};

/// Whether a character of the common CJK block is one of [`FUNCTION_CHARS`].
#[inline]
fn is_function_cjk(c: char) -> bool {
    let at = (c as u32 - CJK_FIRST) as usize;
    FUNCTION_BITS[at / 64] & (1 << (at % 64)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_text_reads_as_simplified_and_simplified_text_is_kept() {
        assert_eq!(to_simplified("路燈壞了好幾天，請儘快維修"), "路灯坏了好几天，请尽快维修");
        let simplified = "幸福小区3栋门口的路灯坏了，噪音扰民 ABC１２";
        assert_eq!(to_simplified(simplified), simplified);
    }

    #[test]
    fn raw_and_word_split_text_share_one_normal_form() {
        let raw = "Ａ市西湖建筑集团占道施工，有安全隐患！";
        let split = "A 市 西湖 建筑 集团 占 道 施工 安全隐患";
        assert_eq!(normalize(raw), normalize(split));
        assert_eq!(normalize(raw), "a市西湖建筑集团占道施工安全隐患");
    }

    #[test]
    fn only_text_with_a_chinese_character_counts_as_chinese() {
        assert!(has_chinese("ETC 卡"));
        assert!(has_chinese("𠀾村"), "an extension character");
        assert!(!has_chinese("street light broken 123！"));
    }

    #[test]
    fn the_function_characters_and_only_they_are_dropped() {
        use std::collections::BTreeSet;
        let dropped: BTreeSet<char> =
            ('\u{4E00}'..='\u{9FFF}').filter(|c| normalize(&c.to_string()).is_empty()).collect();
        assert_eq!(dropped, FUNCTION_CHARS.iter().copied().collect::<BTreeSet<char>>());
        assert_eq!(normalize("路灯的灯罩坏了吗"), "路灯灯罩坏");
    }

    #[test]
    fn digits_fold_only_when_asked() {
        let mut out = Vec::new();
        normalize_into("3号楼12层", true, &mut out);
        assert_eq!(out.iter().collect::<String>(), "0号楼00层");
        out.clear();
        normalize_into("3号楼12层", false, &mut out);
        assert_eq!(out.iter().collect::<String>(), "3号楼12层");
    }
}
