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

#[cfg(test)]
mod tests {
    use super::*;

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
