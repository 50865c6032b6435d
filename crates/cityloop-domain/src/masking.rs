//! Display masks for citizen contact data (GB/T 35273 practice): name 张**, mobile 138****1234.

/// Keeps the first character of a name and masks the rest: `张三丰` → `张**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Keeps the first three and last four digits of a phone number: `13812341234` → `138****1234`.
/// Short numbers keep only their last two characters.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n >= 11 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 7))
    } else if n > 2 {
        let tail: String = chars[n - 2..].iter().collect();
        format!("{}{tail}", "*".repeat(n - 2))
    } else {
        "*".repeat(n)
    }
}

/// Masks long digit runs inside free text (a phone or an ID number typed into a description), for text
/// shown to the public: runs of 7 to 12 digits keep their first three and last four, longer runs
/// (ID numbers) their first six and last four.
pub fn mask_numbers_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit() || **c == 'X' || **c == 'x').count();
        let digits = chars[i..i + run].iter().filter(|c| c.is_ascii_digit()).count();
        if run >= 7 && digits + 1 >= run && chars[i].is_ascii_digit() {
            let (head, tail) = if run > 12 { (6, 4) } else { (3, 4) };
            out.extend(&chars[i..i + head]);
            out.extend(std::iter::repeat_n('*', run - head - tail));
            out.extend(&chars[i + run - tail..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_text_are_masked_and_words_kept() {
        assert_eq!(mask_numbers_in_text("电话13812341234找我"), "电话138****1234找我");
        assert_eq!(mask_numbers_in_text("身份证11010519491231002X"), "身份证110105********002X");
        assert_eq!(mask_numbers_in_text("3号楼 2024年"), "3号楼 2024年");
        assert_eq!(mask_numbers_in_text("Box 1"), "Box 1");
    }

    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("王"), "王*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn mobiles_keep_prefix_and_last_four() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("010-12345"), "*******45");
        assert_eq!(mask_phone("12"), "**");
    }
}
