//! Spam heuristics for what arrives without an account (the resident portal, residents' apps through
//! Open311): advertising and link farms, floods of contact numbers, keyboard mashing. Each sign adds to
//! a score (0–100) with its reason, so that an operator can see why; a real complaint about a shop
//! that will not issue an invoice, or one that quotes a web address, stays well under the bar.

use serde::{Deserialize, Serialize};

/// What the score is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpamRules {
    /// A submission at or above this score is refused with its reasons (0 turns the check off).
    pub refuse_at: u32,
}

impl Default for SpamRules {
    fn default() -> Self {
        Self { refuse_at: 70 }
    }
}

/// A sign of spam and what it adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpamSign {
    /// `links`, `advertising`, `contacts`, `repetition`, `no_chinese`.
    pub kind: &'static str,
    pub points: u32,
    /// What was seen (the words, how many links).
    pub detail: String,
}

/// The verdict on one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpamVerdict {
    pub score: u32,
    pub signs: Vec<SpamSign>,
}

impl SpamVerdict {
    /// Whether the rules refuse it.
    pub fn refused_by(&self, rules: &SpamRules) -> bool {
        rules.refuse_at > 0 && self.score >= rules.refuse_at
    }
}

/// Phrases of advertising and illegal services that a request about the city does not use. Whole
/// phrases, not single words: `发票` alone is a common complaint (a shop refuses one), `代开发票` is an
/// offer.
const ADVERTISING: &[&str] = &[
    "代开发票",
    "代开增值税",
    "发票代开",
    "加微信",
    "加vx",
    "加qq",
    "qq群",
    "加我微信",
    "私聊微信",
    "刷单",
    "兼职日结",
    "日赚",
    "日结工资",
    "网赚",
    "贷款秒批",
    "无抵押贷款",
    "低息贷款",
    "快速放款",
    "代办证件",
    "博彩",
    "百家乐",
    "六合彩",
    "时时彩",
    "彩票预测",
    "代孕",
    "私服",
    "约炮",
    "裸聊",
    "成人视频",
    "免费领取",
    "点击链接",
    "点击领取",
    "恭喜您中奖",
    "优惠券领取",
    "代写论文",
    "信用卡套现",
    "收购银行卡",
];

/// Words of someone reporting a wrong rather than advertising: a complaint about an advertiser quotes
/// the advertisement.
const COMPLAINING: &[&str] = &[
    "投诉", "举报", "反映", "诈骗", "被骗", "受骗", "受害", "报警", "查处", "恳请", "骚扰", "广告", "短信", "垃圾",
    "要求", "处理",
];

/// Scores a submission's title and description.
pub fn score(title: &str, description: &str) -> SpamVerdict {
    let text = format!("{title}\n{description}");
    let lower = text.to_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let mut signs = Vec::new();

    let links = count_links(&lower);
    if links > 0 {
        // One address is often the evidence a resident points at; several are a link farm.
        let points = match links {
            1 => 15,
            2 => 40,
            _ => 60,
        };
        signs.push(SpamSign { kind: "links", points, detail: format!("{links} web addresses") });
    }

    let found: Vec<&str> = ADVERTISING.iter().copied().filter(|p| compact.contains(p)).collect();
    // `加微` within `加微信` is one phrase, not two.
    let ads: Vec<&str> = found.iter().copied().filter(|p| !found.iter().any(|q| q != p && q.contains(p))).collect();
    if !ads.is_empty() {
        let mut points = (45 + 15 * (ads.len() as u32 - 1)).min(75);
        // Only a text without links: an advertisement with one is one, however it is worded. (A
        // complaint often lists the numbers of those it is about, so numbers do not count here.)
        if links == 0 && COMPLAINING.iter().any(|w| compact.contains(w)) {
            points /= 3;
        }
        signs.push(SpamSign { kind: "advertising", points, detail: ads.join("、") });
    }

    let numbers = contact_numbers(&text);
    if numbers >= 5 {
        signs.push(SpamSign { kind: "contacts", points: 25, detail: format!("{numbers} phone or QQ numbers") });
    }

    // Letters only: masked numbers (`****`), rules of dashes and amounts (`1000000000000`) are not
    // mashing.
    let chars: Vec<char> = compact.chars().filter(|c| c.is_alphabetic()).collect();
    if let Some((c, run)) = longest_run(&chars).filter(|(_, run)| *run >= 12) {
        signs.push(SpamSign { kind: "repetition", points: 35, detail: format!("`{c}` {run} times in a row") });
    } else if chars.len() >= 40 {
        let distinct = chars.iter().collect::<std::collections::HashSet<_>>().len();
        if distinct <= 8 {
            signs.push(SpamSign {
                kind: "repetition",
                points: 35,
                detail: format!("{distinct} different characters in {}", chars.len()),
            });
        }
    }

    let letters = chars.iter().filter(|c| c.is_alphabetic()).count();
    let chinese = chars.iter().filter(|c| ('\u{4E00}'..='\u{9FFF}').contains(*c)).count();
    if letters >= 20 && chinese == 0 {
        signs.push(SpamSign { kind: "no_chinese", points: 25, detail: format!("{letters} letters, none Chinese") });
    }

    let score = signs.iter().map(|s| s.points).sum::<u32>().min(100);
    SpamVerdict { score, signs }
}

/// Distinct web addresses (`http://…`, `https://…`, `www.…` and bare domains of the usual endings):
/// the same one in the title and the text is one.
fn count_links(lower: &str) -> usize {
    // Anything but ASCII ends an address: `加我abc.top详聊` holds one.
    let separators = |c: char| c.is_whitespace() || !c.is_ascii() || "()<>\"'".contains(c);
    lower
        .split(separators)
        .filter(|w| {
            w.contains("http://")
                || w.contains("https://")
                || w.starts_with("www.")
                || [".com", ".cn", ".net", ".top", ".xyz", ".vip", ".cc"]
                    .iter()
                    .any(|end| w.trim_end_matches('/').ends_with(end) && w.len() > end.len() + 1 && w.is_ascii())
        })
        // A government site is what residents cite, not what spammers sell.
        .filter(|w| !w.split('/').find(|part| part.contains('.')).is_some_and(|host| host.ends_with(".gov.cn")))
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Runs of 5 to 12 ASCII digits (QQ and phone numbers) in the text.
fn contact_numbers(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit()).filter(|run| (5..=12).contains(&run.len())).count()
}

/// The character repeated most times in a row, and how many.
fn longest_run(chars: &[char]) -> Option<(char, usize)> {
    let mut best: Option<(char, usize)> = None;
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        if best.is_none_or(|(_, n)| j - i > n) {
            best = Some((chars[i], j - i));
        }
        i = j;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_complaints_pass_and_advertising_is_refused_with_its_reasons() {
        let rules = SpamRules::default();
        for (title, text) in [
            ("商家拒开发票", "新华路一家超市购物后拒绝开具发票，请税务部门查处。"),
            ("小区噪音扰民", "楼下烧烤店每天营业到凌晨两点，噪音很大，电话13812345678。"),
            ("网站打不开", "市政务服务网 www.example.gov.cn 预约页面一直打不开，无法办理业务。"),
        ] {
            let verdict = score(title, text);
            assert!(!verdict.refused_by(&rules), "{title}: {verdict:?}");
        }
        let official =
            score("预约", "关注市政务微信号后，点击链接 https://zwfw.example.gov.cn/yy 预约，页面一直打不开");
        assert!(!official.refused_by(&rules), "{official:?}");
        assert_eq!(score("x", "加我abc.top详聊").signs[0].kind, "links");
        let ad = score("优惠", "代开发票，加微信 abc123，详情 http://a.xyz http://b.top 点击链接领取");
        assert!(ad.refused_by(&rules), "{ad:?}");
        assert_eq!(ad.score, 100);
        let kinds: Vec<&str> = ad.signs.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec!["links", "advertising"]);
        assert!(ad.signs[1].detail.contains("代开发票") && ad.signs[1].detail.contains("加微信"));
        // Complaining words do not excuse an advertisement with a link.
        assert!(score("投诉", "代开发票 加微信 详见 http://a.xyz 投诉无门").refused_by(&rules));
        assert!(score("啊", &"啊".repeat(30)).signs.iter().any(|s| s.kind == "repetition"));
        let numbers = score("招聘", "联系 13800000001 13800000002 13800000003 13800000004 QQ 123456789");
        assert!(numbers.signs.iter().any(|s| s.kind == "contacts"));
        let latin = score("hello", "cheap watches buy now best price limited offer");
        assert!(latin.signs.iter().any(|s| s.kind == "no_chinese"));
        assert!(!SpamVerdict { score: 99, signs: vec![] }.refused_by(&SpamRules { refuse_at: 0 }), "off");
    }
}
