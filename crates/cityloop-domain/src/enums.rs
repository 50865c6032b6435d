//! The closed vocabularies of the domain. Each has one wire name (snake_case), used in the API, the
//! database and the CLI alike, and a Chinese label for people.

use serde::{Deserialize, Serialize};

/// Defines a string-backed enum with its wire names, labels and parsing.
/// A value with a wire name and a Chinese label: every enumeration declared with `wire_enum!`.
pub trait Labelled: Copy + PartialEq + 'static {
    /// The name used on the wire and in storage.
    fn wire(self) -> &'static str;
    /// The Chinese label shown to people.
    fn label(self) -> &'static str;
}

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal / $zh:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $wire)] $variant),* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name used on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }

            /// The Chinese label shown to people.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),* }
            }

            /// Parses a wire name; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)* _ => None }
            }

            /// The wire names, for error messages.
            pub fn wire_names() -> Vec<&'static str> {
                vec![$($wire),*]
            }
        }

        impl $crate::enums::Labelled for $name {
            fn wire(self) -> &'static str {
                self.as_str()
            }
            fn label(self) -> &'static str {
                self.label_zh()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum!(
    /// Where a request came in.
    Channel {
        Hotline = "hotline" / "热线电话",
        Web = "web" / "网站",
        App = "app" / "移动应用",
        Sms = "sms" / "短信",
        Open311 = "open311" / "Open311",
        Inspector = "inspector" / "监督员上报",
        Sensor = "sensor" / "机器发现",
        Referral = "referral" / "上级交办",
        Media = "media" / "网络舆情",
    }
);

wire_enum!(
    /// 诉求类型.
    RequestType {
        Consultation = "consultation" / "咨询",
        Help = "help" / "求助",
        Complaint = "complaint" / "投诉",
        Report = "report" / "举报",
        Suggestion = "suggestion" / "建议",
        Praise = "praise" / "表扬",
        Other = "other" / "其他",
    }
);

impl RequestType {
    /// Kinds an operator may close by answering on the spot (咨询 answered from the knowledge base,
    /// praise and suggestions acknowledged); complaints, reports and help requests need a unit.
    pub fn can_be_answered_directly(self) -> bool {
        matches!(self, RequestType::Consultation | RequestType::Praise | RequestType::Suggestion | RequestType::Other)
    }
}

wire_enum!(
    /// What a user may do. A user can hold several roles.
    Role {
        Admin = "admin" / "系统管理员",
        Operator = "operator" / "受理员",
        Lead = "lead" / "值班长",
        Dispatcher = "dispatcher" / "派遣员",
        Handler = "handler" / "处置人员",
        Inspector = "inspector" / "监督员",
        Coordinator = "coordinator" / "街道协调员",
        Leader = "leader" / "领导",
        Citizen = "citizen" / "市民",
        Recipient = "recipient" / "数据使用方",
    }
);

wire_enum!(
    /// Where a case stands in the loop.
    State {
        Reported = "reported" / "已上报",
        Verifying = "verifying" / "核实中",
        Registered = "registered" / "已立案",
        PendingSign = "pending_sign" / "待签收",
        ReturnReview = "return_review" / "退单审核",
        Handling = "handling" / "处置中",
        Suspended = "suspended" / "挂账",
        Feedback = "feedback" / "已反馈",
        ClosePending = "close_pending" / "待结案",
        Closed = "closed" / "已结案",
        Voided = "voided" / "已作废",
        Merged = "merged" / "已合并",
    }
);

impl State {
    /// No further work happens on a case in these states (a closed case can still be reopened).
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Closed | State::Voided | State::Merged)
    }

    /// States in which the handling clock runs and a case can become overdue.
    pub fn clock_runs(self) -> bool {
        matches!(self, State::PendingSign | State::Handling)
    }
}

wire_enum!(
    /// How urgent a case is; categories carry a default.
    Urgency {
        Normal = "normal" / "一般",
        Urgent = "urgent" / "紧急",
        Critical = "critical" / "特急",
    }
);

wire_enum!(
    /// How a time limit is counted.
    TimingMode {
        Continuous = "continuous" / "连续计时",
        WorkingHours = "working_hours" / "工作时",
        WorkingDays = "working_days" / "工作日",
        CalendarDays = "calendar_days" / "自然日",
    }
);

wire_enum!(
    /// The outcome a resident gives at the revisit (回访).
    Satisfaction {
        Satisfied = "satisfied" / "满意",
        BasicallySatisfied = "basically_satisfied" / "基本满意",
        Unsatisfied = "unsatisfied" / "不满意",
    }
);

wire_enum!(
    /// Kinds of handling units.
    UnitKind {
        Government = "government" / "政府",
        Department = "department" / "职能部门",
        StreetOffice = "street_office" / "街道办事处",
        Community = "community" / "社区居委会",
        Utility = "utility" / "公共服务企业",
        Center = "center" / "指挥中心",
    }
);

wire_enum!(
    /// Levels of administrative divisions.
    DivisionLevel {
        City = "city" / "市",
        District = "district" / "区",
        Street = "street" / "街道",
        Community = "community" / "社区",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_name_parses_back_to_its_value() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(*s));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Role::parse("nobody"), None);
    }

    #[test]
    fn serde_uses_the_wire_names() {
        assert_eq!(serde_json::to_string(&State::PendingSign).unwrap(), "\"pending_sign\"");
        assert_eq!(
            serde_json::from_str::<Satisfaction>("\"basically_satisfied\"").unwrap(),
            Satisfaction::BasicallySatisfied
        );
    }
}
