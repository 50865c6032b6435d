//! Display masks for citizen contact data (GB/T 35273 practice): name 张**, mobile 138****1234.

/// Keeps the first character of a name and masks the rest with two stars whatever its length
/// (`李四` → `李**`, `欧阳小明` → `欧**`): the mask should not tell how long the name is.
pub fn mask_name(name: &str) -> String {
    match name.chars().next() {
        None => String::new(),
        Some(first) => format!("{first}**"),
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

/// A digit, ASCII or full-width, as its ASCII value.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        _ => None,
    }
}

/// Masks personal data typed into free text, for text shown to the public: phone and ID numbers (runs
/// of 7 or more digits, ASCII or full-width, or of 10 or more split by single spaces or hyphens, an
/// ID's final X included) keep their first three and last four digits, or their first six and last four when
/// longer than 12; e-mail addresses keep the first character of their name (`a***@host`).
pub fn mask_numbers_in_text(text: &str) -> String {
    mask_personal_data(text, |digits, separated| digits.len() >= if separated { 10 } else { 7 }, false)
}

/// Text a resident wrote, as the public and the staff who see contacts masked may read it:
/// [`mask_numbers_in_text`], and the resident's own name wherever the text gives it
/// (我叫李小明 → 我叫李**), for residents sign their requests.
pub fn mask_resident_text(text: &str, resident_name: Option<&str>) -> String {
    let masked = mask_numbers_in_text(text);
    // A placeholder some channels record instead of a name names nobody: 市民反映 stays as it is.
    const NOT_NAMES: &[&str] = &["市民", "居民", "群众", "匿名", "网友", "业主", "先生", "女士"];
    match resident_name.map(str::trim) {
        Some(name) if name.chars().count() >= 2 && !NOT_NAMES.contains(&name) => masked.replace(name, &mask_name(name)),
        _ => masked,
    }
}

/// Masks what is surely personal in a log line: mobile numbers (with or without 86), landlines with
/// their area code (or 86 before it), ID card numbers and e-mail addresses, also where they stand next
/// to other numbers. Other numbers stay as they are, for a log is read for its case numbers, ids,
/// timings and dates.
pub fn mask_personal_data_in_log(line: &str) -> String {
    let is_personal = |digits: &[char], _| {
        let n = digits.len();
        let mobile = |d: &[char]| d.len() == 11 && d[0] == '1' && ('3'..='9').contains(&d[1]);
        mobile(digits)
            || (n == 13 && digits[..2] == ['8', '6'] && mobile(&digits[2..]))
            || (digits[0] == '0' && (10..=12).contains(&n))
            || (digits[..2.min(n)] == ['8', '6'] && (11..=13).contains(&n))
            || n == 18
    };
    mask_personal_data(line, is_personal, true)
}

/// Masks e-mail addresses, and the runs of digits (split by single spaces or hyphens, an ID's final X
/// included) that `is_personal` takes for a phone or ID number, given the digits and whether they
/// were split. With `by_groups`, a run that is not one number as a whole is looked at group by group:
/// the longest stretch of groups from each that is one is masked.
fn mask_personal_data(text: &str, is_personal: impl Fn(&[char], bool) -> bool, by_groups: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if digit(chars[i]).is_some() {
            // The run: digits with single separators between them, and a final X of an ID number.
            let mut end = i;
            let mut count = 0;
            while end < chars.len() {
                if digit(chars[end]).is_some() {
                    count += 1;
                    end += 1;
                } else if matches!(chars[end], ' ' | '-') && chars.get(end + 1).and_then(|c| digit(*c)).is_some() {
                    end += 1;
                } else {
                    break;
                }
            }
            if matches!(chars.get(end), Some('X' | 'x')) && count >= 14 {
                end += 1;
            }
            mask_run(&chars[i..end], &is_personal, by_groups, &mut out);
            i = end;
        } else if chars[i] == '@' && i > 0 && is_mail_char(chars[i - 1]) {
            // An e-mail address: keep the first character of the name before `@`.
            let mut start = out.chars().count();
            let kept: Vec<char> = out.chars().collect();
            while start > 0 && is_mail_char(kept[start - 1]) {
                start -= 1;
            }
            let mut masked: String = kept[..start].iter().collect();
            masked.push(kept[start]);
            masked.push_str("***@");
            out = masked;
            i += 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Writes a run of digit groups to `out`, masking what `is_personal` takes for a number.
fn mask_run(run: &[char], is_personal: &impl Fn(&[char], bool) -> bool, by_groups: bool, out: &mut String) {
    // The groups: where each starts and ends in the run, and its digits (ASCII, an ID's X included).
    let mut groups: Vec<(usize, usize, Vec<char>)> = Vec::new();
    for (at, c) in run.iter().enumerate() {
        let d = digit(*c).or_else(|| matches!(c, 'X' | 'x').then_some('X'));
        match (d, groups.last_mut()) {
            (Some(d), Some(group)) if group.1 == at => {
                group.1 = at + 1;
                group.2.push(d);
            }
            (Some(d), _) => groups.push((at, at + 1, vec![d])),
            (None, _) => {}
        }
    }
    let digits_of =
        |from: usize, to: usize| -> Vec<char> { groups[from..to].iter().flat_map(|g| g.2.clone()).collect() };
    if !by_groups {
        let digits = digits_of(0, groups.len());
        if is_personal(&digits, groups.len() > 1) {
            push_masked(&digits, out);
        } else {
            out.extend(run);
        }
        return;
    }
    let mut g = 0;
    while g < groups.len() {
        let personal = (g + 1..=groups.len()).rev().find(|&k| is_personal(&digits_of(g, k), k - g > 1));
        let next = match personal {
            Some(k) => {
                push_masked(&digits_of(g, k), out);
                k
            }
            None => {
                out.extend(&run[groups[g].0..groups[g].1]);
                g + 1
            }
        };
        if next < groups.len() {
            out.extend(&run[groups[next - 1].1..groups[next].0]);
        }
        g = next;
    }
}

/// A number with its middle masked: a phone its first three and last four digits, a mobile behind
/// the country code what it would show alone, an ID its region and last four.
fn push_masked(digits: &[char], out: &mut String) {
    let n = digits.len();
    let (head, tail) = if n == 13 && digits[..2] == ['8', '6'] {
        (5, 4)
    } else if n > 12 {
        (6, 4)
    } else {
        (3, 4)
    };
    out.extend(&digits[..head]);
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&digits[n - tail..]);
}

fn is_mail_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_text_hides_the_residents_name_and_numbers() {
        let title = "我叫李小明电话13912345678住3幢201室，李小明";
        assert_eq!(mask_resident_text(title, Some("李小明")), "我叫李**电话139****5678住3幢201室，李**");
        assert_eq!(mask_resident_text("路灯不亮", Some("李")), "路灯不亮", "a one-character name is left alone");
        assert_eq!(mask_resident_text("李四反映", None), "李四反映");
        assert_eq!(
            mask_resident_text("市民反映路灯不亮", Some("市民")),
            "市民反映路灯不亮",
            "a placeholder is no name"
        );
    }

    #[test]
    fn numbers_in_text_are_masked_and_words_kept() {
        assert_eq!(mask_numbers_in_text("电话13812341234找我"), "电话138****1234找我");
        assert_eq!(mask_numbers_in_text("身份证11010519491231002X"), "身份证110105********002X");
        assert_eq!(mask_numbers_in_text("3号楼 2024年"), "3号楼 2024年");
        assert_eq!(mask_numbers_in_text("Box 1"), "Box 1");
        assert_eq!(mask_numbers_in_text("打138-1234-5678或138 1234 5678"), "打138****5678或138****5678");
        assert_eq!(mask_numbers_in_text("电话１３８１２３４１２３４"), "电话138****1234");
        assert_eq!(mask_numbers_in_text("写信到 zhang.san@example.org 谢谢"), "写信到 z***@example.org 谢谢");
        assert_eq!(mask_numbers_in_text("2024-11-21 下午"), "2024-11-21 下午", "a date is not a phone");
    }

    #[test]
    fn numbers_next_to_other_numbers_are_masked_in_logs() {
        let cases = [
            ("13812341234 13912345678", "138****1234 139****5678"),
            ("13812341234 2 times", "138****1234 2 times"),
            ("0571-87654321-8001", "057*****4321-8001"),
            ("+86-571-87654321", "+86571****4321"),
            ("0086 13812341234", "0086 138****1234"),
            ("cases 12 34 56", "cases 12 34 56"),
        ];
        for (line, masked) in cases {
            assert_eq!(mask_personal_data_in_log(line), masked, "{line}");
        }
    }

    #[test]
    fn log_lines_lose_phones_ids_and_mail_and_keep_case_numbers_and_timings() {
        let line = "2026-12-04T16:22:32.123456Z  WARN case 20261121-000123 (id 1234567): phone=13812341234 \
                    tel 0571-87654321, +86 139 1234 5678, id 11010519491231002X, zhang@example.org micros=15234567";
        assert_eq!(
            mask_personal_data_in_log(line),
            "2026-12-04T16:22:32.123456Z  WARN case 20261121-000123 (id 1234567): phone=138****1234 \
                    tel 057*****4321, +86139****5678, id 110105********002X, z***@example.org micros=15234567"
        );
    }

    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李四"), "李**");
        assert_eq!(mask_name("王"), "王**");
        assert_eq!(mask_name("欧阳小明"), "欧**");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn mobiles_keep_prefix_and_last_four() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("010-12345"), "*******45");
        assert_eq!(mask_phone("12"), "**");
    }
}
