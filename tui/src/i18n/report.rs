//! The safety report screen's words (平安报表), in Chinese and English,
//! apart from the rest so [`Words`](super::Words) stays one screen's
//! worth of labels at a time. The column words are the CLI's
//! (`liandong safety-report`): 收到 received, 承办 owned, 办结 resolved,
//! 办结率 rate, 按时受理率 on time, 督办 supervised, 平安指数 index; a
//! row's source 本级 own, 报送 vN, 迟报 late vN, 未报送 awaiting.

use liandong_dispatch::figures::Source;

use super::Lang;

/// The safety report screen's labels in one language.
#[derive(Debug)]
pub struct ReportWords {
    /// The screen's name, in its title and in the help.
    pub title: &'static str,
    /// Its tab's label (short: the tabs and the clock share a line).
    pub tab: &'static str,
    pub month: &'static str,
    pub today: &'static str,
    pub col_from: &'static str,
    pub col_source: &'static str,
    pub col_received: &'static str,
    pub col_owned: &'static str,
    pub col_resolved: &'static str,
    pub col_rate: &'static str,
    pub col_on_time: &'static str,
    pub col_supervised: &'static str,
    pub col_index: &'static str,
    /// Before the subtree's index in the title line.
    pub index: &'static str,
    pub alarm_line: &'static str,
    pub below_line: &'static str,
    /// An index under a line: 低于 60.
    pub under: &'static str,
    /// The bar chart's title.
    pub chart_index: &'static str,
    /// The sparklines' title.
    pub chart_daily: &'static str,
    /// Over each sparkline's busiest day's count.
    pub peak: &'static str,
    /// Drills are counted apart: 演练另计 3 起, drills apart: 3.
    pub drills_apart: &'static str,
    pub drills_unit: &'static str,
    /// A period not over yet: children send theirs after it ends.
    pub running: &'static str,
    pub awaiting_from: &'static str,
    pub warning: &'static str,
    pub asking: &'static str,
    pub no_figures: &'static str,
    /// The alarm banner's words for an index alarm.
    pub alarm_index: &'static str,
}

pub const ZH: ReportWords = ReportWords {
    title: "平安报表",
    tab: "平安报表",
    month: "本月",
    today: "今日",
    col_from: "来自",
    col_source: "数据",
    col_received: "收到",
    col_owned: "承办",
    col_resolved: "办结",
    col_rate: "办结率",
    col_on_time: "按时受理率",
    col_supervised: "督办",
    col_index: "平安指数",
    index: "平安指数",
    alarm_line: "预警线",
    below_line: "低于预警线",
    under: "低于",
    chart_index: "平安指数",
    chart_daily: "每日收到",
    peak: "峰值",
    drills_apart: "演练另计",
    drills_unit: " 起",
    running: "本期未结束: 下级期末后报送",
    awaiting_from: "未报送",
    warning: "预警",
    asking: "查询中…",
    no_figures: "尚无数据 (r 刷新)",
    alarm_index: "平安指数预警",
};

pub const EN: ReportWords = ReportWords {
    title: "Safety report",
    tab: "Report",
    month: "this month",
    today: "today",
    col_from: "From",
    col_source: "Source",
    col_received: "Received",
    col_owned: "Owned",
    col_resolved: "Resolved",
    col_rate: "Rate",
    col_on_time: "On time",
    col_supervised: "Supervised",
    col_index: "Index",
    index: "index",
    alarm_line: "alarm line",
    below_line: "below the alarm line",
    under: "under",
    chart_index: "Safety index",
    chart_daily: "Received per day",
    peak: "peak",
    drills_apart: "drills apart:",
    drills_unit: "",
    running: "period not over: children report after it ends",
    awaiting_from: "awaiting",
    warning: "warning",
    asking: "asking…",
    no_figures: "no figures yet (r refreshes)",
    alarm_index: "safety index alarm",
};

impl Lang {
    pub fn report(self) -> &'static ReportWords {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// Where a report's row comes from: 本级, 报送 v1, 迟报 v2, 未报送;
    /// own, summary v1, late v2, awaiting.
    pub fn source(self, s: &Source) -> String {
        match (self, s) {
            (Lang::Zh, Source::Own) => "本级".into(),
            (
                Lang::Zh,
                Source::Summary {
                    version, late: false, ..
                },
            ) => format!("报送 v{version}"),
            (
                Lang::Zh,
                Source::Summary {
                    version, late: true, ..
                },
            ) => format!("迟报 v{version}"),
            (Lang::Zh, Source::Reported) => "报送".into(),
            (Lang::Zh, Source::Awaiting) => "未报送".into(),
            (Lang::En, Source::Own) => "own".into(),
            (
                Lang::En,
                Source::Summary {
                    version, late: false, ..
                },
            ) => format!("summary v{version}"),
            (
                Lang::En,
                Source::Summary {
                    version, late: true, ..
                },
            ) => format!("late v{version}"),
            (Lang::En, Source::Reported) => "in summary".into(),
            (Lang::En, Source::Awaiting) => "awaiting".into(),
        }
    }
}
