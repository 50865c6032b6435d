//! Latin letters, digits and signs typed in full width (Ａ座, ３号楼) read the same as in half width
//! (A座, 3号楼): Chinese input methods give either, so a search looks for both.

/// The forms of a search word to look for, each once: as typed, with its full-width characters in half
/// width, and with its half-width ones in full width, in lower and in upper case. Latin letters in half
/// width are left to the search to compare without case; full-width ones get both cases here, since
/// databases differ in whether they fold them.
pub fn width_forms(word: &str) -> Vec<String> {
    let half: String = word.chars().map(to_half_width).collect();
    let full_lower: String = half.to_ascii_lowercase().chars().map(to_full_width).collect();
    let full_upper: String = half.to_ascii_uppercase().chars().map(to_full_width).collect();
    let mut forms = vec![word.to_string()];
    for form in [half, full_lower, full_upper] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// A full-width ASCII form as its ASCII character (１ → 1, ＋ → +, Ａ → A); any other character as it is.
pub fn to_half_width(c: char) -> char {
    match c {
        // Full-width ASCII forms (！ to ～) sit 0xFEE0 above ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn to_full_width(c: char) -> char {
    match c {
        '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_looked_for_as_typed_in_half_and_in_full_width() {
        assert_eq!(width_forms("３号楼"), ["３号楼", "3号楼"]);
        assert_eq!(width_forms("A座3"), ["A座3", "ａ座３", "Ａ座３"]);
        assert_eq!(width_forms("３号楼A座"), ["３号楼A座", "3号楼A座", "３号楼ａ座", "３号楼Ａ座"]);
        assert_eq!(width_forms("ｋｔｖ"), ["ｋｔｖ", "ktv", "ＫＴＶ"]);
        assert_eq!(width_forms("路灯"), ["路灯"], "Chinese has one width");
    }
}
