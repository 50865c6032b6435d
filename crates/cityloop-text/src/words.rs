//! Chinese word splitting (jieba) for the places that need real words: explanations, search, reply checks.

use std::sync::OnceLock;

use jieba_rs::Jieba;

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// The words of `text` that can carry meaning: no punctuation, no spaces, no stop words.
pub fn content_words(text: &str) -> Vec<String> {
    jieba()
        .cut(text, true)
        .into_iter()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty() && w.chars().any(char::is_alphanumeric) && !is_stop_word(w))
        .collect()
}

/// [`content_words`] with each word's part of speech as jieba tags it ("n", "v", "r", …; "x" for a
/// word its dictionary does not hold).
pub fn tagged_content_words(text: &str) -> Vec<(String, String)> {
    jieba()
        .tag(text, true)
        .into_iter()
        .map(|t| (t.word.trim().to_lowercase(), t.tag.to_string()))
        .filter(|(w, _)| !w.is_empty() && w.chars().any(char::is_alphanumeric) && !is_stop_word(w))
        .collect()
}

/// Common words that say nothing about what a request or a reply is about.
pub fn is_stop_word(word: &str) -> bool {
    const STOP: &[&str] = &[
        "的", "了", "是", "在", "有", "和", "与", "及", "或", "等", "我", "你", "他", "她", "它", "我们", "你们",
        "他们", "这", "那", "这个", "那个", "这些", "那些", "就", "也", "都", "很", "吧", "呢", "吗", "啊", "着", "被",
        "把", "对", "从", "向", "为", "于", "之", "其", "所", "而", "且", "但", "但是", "并", "个", "一个", "没有",
        "什么", "怎么", "如何", "可以", "能", "会", "要", "还", "又", "再", "让", "给", "到", "说", "去", "请", "您好",
        "你好", "谢谢", "问题", "现在", "已经", "因为", "所以", "如果", "以及", "进行", "相关", "情况", "一下", "一些",
        "不", "没", "就是", "还是", "自己", "希望", "这样", "那么", "该", "此",
    ];
    STOP.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_chinese_and_drops_stop_words_and_punctuation() {
        let words = content_words("小区门口的垃圾桶已经三天没有清运了！");
        assert!(words.contains(&"垃圾桶".to_string()), "{words:?}");
        assert!(!words.iter().any(|w| w == "的" || w == "！" || w == "已经"), "{words:?}");
    }
}
