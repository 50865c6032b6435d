//! Reply checks (答复质检): does a unit's reply answer the request, say what was done, when and by whom, or is
//! it a bare template? Each check gives a reason a dispatcher can read before closing the case.

use std::collections::HashSet;

use serde::Serialize;

use crate::words::content_words;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReplyCheck {
    /// 0 to 100.
    pub score: u8,
    /// How much of the request's key words the reply takes up, 0 to 1.
    pub relevance: f32,
    pub findings: Vec<Finding>,
}

/// One check and its outcome; `code` is stable for programs, `message` is for people (zh-CN), and
/// `message_en` says the same in English.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub passed: bool,
    pub message: String,
    pub message_en: String,
}

const ACTIONS: &[&str] = &[
    "现场", "核实", "核查", "调查", "处理", "整改", "清理", "清运", "维修", "修复", "拆除", "查处", "责令", "约谈",
    "协调", "处罚", "安排", "完成", "落实", "督促", "解决", "更换", "疏通", "答复", "告知", "办理", "发放", "补发",
    "退还", "检查", "执法", "立案", "恢复", "制止", "整治", "勘察", "实地", "走访", "联系", "责成", "调解", "受理",
    "约见", "回访", "已",
];
const ACTORS: &[&str] = &[
    "局",
    "街道",
    "办事处",
    "社区",
    "委员会",
    "居委会",
    "村委",
    "中心",
    "公司",
    "大队",
    "中队",
    "派出所",
    "工作人员",
    "执法人员",
    "网格员",
    "物业",
    "我单位",
    "我局",
    "我委",
    "我办",
    "管理处",
    "医院",
    "学校",
    "政府",
    "分局",
    "部门",
];
const TIME_WORDS: &[&str] = &[
    "近日", "目前", "今天", "当天", "即日", "近期", "本周", "下周", "本月", "下月", "上午", "下午", "当日", "随后",
    "此前", "日前", "年底", "月底",
];
/// Courtesy phrases every reply carries; a reply made of little else is a template.
const BOILERPLATE: &[&str] = &[
    "您好",
    "你好",
    "网友",
    "您的留言已收悉",
    "留言已收悉",
    "来信收悉",
    "感谢您对我们工作的支持",
    "感谢您的支持",
    "感谢您的关注",
    "感谢您对",
    "工作的关心和支持",
    "现将有关情况回复如下",
    "现回复如下",
    "特此回复",
    "谢谢",
    "如有疑问",
    "请拨打",
    "咨询电话",
    "欢迎监督",
    "已转交相关部门",
    "已转相关部门",
    "我们将",
    "高度重视",
];

/// Checks `reply` against the `request` it answers.
pub fn check_reply(request: &str, reply: &str) -> ReplyCheck {
    let request_words: HashSet<String> =
        content_words(request).into_iter().filter(|w| w.chars().count() >= 2).collect();
    let reply_words: HashSet<String> = content_words(reply).into_iter().collect();
    let shared = request_words.iter().filter(|w| reply_words.contains(*w) || reply.contains(w.as_str())).count();
    let relevance = if request_words.is_empty() {
        0.0
    } else {
        // Taking up half of the request's key words (at most six) is a full answer to what was asked.
        (shared as f32 / (request_words.len().min(12) as f32 / 2.0).max(1.0)).min(1.0)
    };

    let substance = strip_boilerplate(reply);
    let substance_chars = substance.chars().filter(|c| c.is_alphanumeric()).count();
    let is_template = substance_chars < 40;
    let action = ACTIONS.iter().find(|w| substance.contains(*w));
    let actor = ACTORS.iter().find(|w| substance.contains(*w));
    let time = mentions_time(&substance);

    let mut findings = vec![
        finding(
            "relevance",
            relevance >= 0.3,
            if relevance >= 0.3 {
                [
                    format!("答复回应了诉求要点（{shared}/{} 个关键词）", request_words.len()),
                    format!("The reply takes up the request ({shared} of its {} key words)", request_words.len()),
                ]
            } else {
                [
                    format!("答复与诉求关联弱：诉求关键词仅提及 {shared}/{} 个", request_words.len()),
                    format!("The reply barely touches the request: {shared} of its {} key words", request_words.len()),
                ]
            },
        ),
        finding(
            "action",
            action.is_some(),
            match action {
                Some(word) => [format!("说明了处理措施（“{word}”）"), format!("Says what was done (“{word}”)")],
                None => ["未说明做了什么".to_string(), "Does not say what was done".to_string()],
            },
        ),
        finding(
            "time",
            time.is_some(),
            match &time {
                Some(when) => [format!("说明了时间（“{when}”）"), format!("Says when (“{when}”)")],
                None => {
                    ["未说明何时处理或何时办结".to_string(), "Does not say when it was or will be done".to_string()]
                }
            },
        ),
        finding(
            "actor",
            actor.is_some(),
            match actor {
                Some(word) => [format!("说明了责任主体（“{word}”）"), format!("Says who is responsible (“{word}”)")],
                None => ["未说明由谁处理".to_string(), "Does not say who handled it".to_string()],
            },
        ),
    ];
    findings.push(finding(
        "template",
        !is_template,
        if is_template {
            [
                format!("套话答复：去掉客套语后只剩 {substance_chars} 字"),
                format!("A bare template: {substance_chars} characters once the courtesies are taken out"),
            ]
        } else {
            ["答复有具体内容".to_string(), "The reply has substance".to_string()]
        },
    ));

    let mut score = 35.0 * relevance
        + if action.is_some() { 25.0 } else { 0.0 }
        + if time.is_some() { 15.0 } else { 0.0 }
        + if actor.is_some() { 15.0 } else { 0.0 }
        + if is_template { 0.0 } else { 10.0 };
    if is_template {
        score = score.min(40.0);
    }
    ReplyCheck { score: score.round().clamp(0.0, 100.0) as u8, relevance, findings }
}

/// A finding from its message in Chinese and in English.
fn finding(code: &'static str, passed: bool, [message, message_en]: [String; 2]) -> Finding {
    Finding { code, passed, message, message_en }
}

fn strip_boilerplate(reply: &str) -> String {
    BOILERPLATE.iter().fold(reply.to_string(), |text, phrase| text.replace(phrase, ""))
}

/// A date or time the reply names: "5月20日", "2019年", "3个工作日", or a word such as 近日.
/// A number after a road or a building ("幸福路12号", "3栋2号") is an address, not a date.
fn mentions_time(text: &str) -> Option<String> {
    let is_numeral = |c: char| c.is_ascii_digit() || "一二三四五六七八九十两".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_numeral(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_numeral(chars[i]) {
            i += 1;
        }
        let number: String = chars[start..i].iter().collect();
        let next: String = chars[i..].iter().take(4).collect();
        let after_a_place = start > 0 && "路街巷道弄里村区楼栋幢院座单元室".contains(chars[start - 1]);
        let before_a_place = next.chars().nth(1).is_some_and(|c| "楼栋院门线口房室车".contains(c));
        for unit in ["月", "日", "号", "时", "点", "天", "年", "个工作日", "周"] {
            if next.starts_with(unit) && !(unit == "号" && (after_a_place || before_a_place)) {
                return Some(format!("{number}{unit}"));
            }
        }
    }
    TIME_WORDS.iter().find(|w| text.contains(*w)).map(|w| w.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "幸福小区3栋门口的路灯坏了一个多月，晚上出行很不方便，请尽快维修路灯。";

    #[test]
    fn a_full_reply_scores_high_and_a_template_low() {
        let good = check_reply(
            REQUEST,
            "您好！经核实，幸福小区3栋门口路灯因线路老化损坏，市政设施管理处已于5月20日安排工作人员更换线路，路灯已恢复照明。感谢您的支持。",
        );
        assert!(good.score >= 80, "{good:?}");
        assert!(good.findings.iter().all(|f| f.passed), "{good:?}");

        let template = check_reply(REQUEST, "您好！您的留言已收悉，我们将高度重视。感谢您对我们工作的支持！");
        assert!(template.score <= 40, "{template:?}");
        let failed: Vec<&str> = template.findings.iter().filter(|f| !f.passed).map(|f| f.code).collect();
        assert!(failed.contains(&"template") && failed.contains(&"relevance"), "{failed:?}");
    }

    #[test]
    fn a_house_number_is_not_a_date() {
        assert_eq!(mentions_time("工作人员到幸福路12号现场查看"), None);
        assert_eq!(mentions_time("3栋2号的住户已搬离"), None);
        assert_eq!(mentions_time("对12号楼进行维修"), None);
        assert_eq!(mentions_time("已于12号完成维修").as_deref(), Some("12号"));
        assert_eq!(mentions_time("将在3个工作日内答复").as_deref(), Some("3个工作日"));
    }

    #[test]
    fn an_off_topic_reply_loses_relevance_but_keeps_the_other_checks() {
        let off =
            check_reply(REQUEST, "经查，该学校收费符合规定，教育局已于3月1日向家长说明收费标准和依据，请家长放心。");
        assert!(off.relevance < 0.3, "{off:?}");
        assert!(!off.findings[0].passed);
        assert!(off.findings.iter().skip(1).take(3).all(|f| f.passed), "{off:?}");
    }
}
