//! Every word the console shows, in Chinese and English.
//!
//! Screen labels live in one [`Words`] struct with a Chinese and an
//! English value ([`ZH`], [`EN`]): a label missing in one language does not
//! compile. Names of protocol values (severity, incident state, level,
//! target state, stage, category, mode) are functions of [`Lang`] below.
//! The glossary is `shared/domain.md`: 上报 report, 受理 accept, 交办
//! dispatch, 签收 sign for, 督办 supervise, 越级 skip-level.
//!
//! Text that comes from the node (titles, timeline lines, refusal reasons)
//! is shown as the node sent it. The safety report screen's words are in
//! `report` ([`ReportWords`], [`Lang::report`]).

use liandong_dispatch::room::RoomState;
use liandong_dispatch::store::IncidentState;
use liandong_dispatch::wire::{Category, Mode, Role, Stage, TargetState};
use liandong_topology::{Level, Severity};

mod report;

pub use report::ReportWords;

/// The console's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From the locale variables as a shell sets them: Chinese if the
    /// first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and non-empty
    /// starts with `zh`, English otherwise.
    pub fn from_env() -> Lang {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let locale = var("LC_ALL").or_else(|| var("LC_MESSAGES")).or_else(|| var("LANG"));
        Lang::from_locale(locale.as_deref())
    }

    /// `zh_CN.UTF-8` → Chinese; anything else, or nothing, → English.
    pub fn from_locale(locale: Option<&str>) -> Lang {
        match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// `zh` or `en`, as `--lang` takes it.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.to_ascii_lowercase().as_str() {
            "zh" | "cn" | "中文" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// Severity as operators say it: 特别重大 … 常规, or I … Routine.
    pub fn severity(self, s: Severity) -> &'static str {
        match (self, s) {
            (Lang::Zh, Severity::I) => "特别重大",
            (Lang::Zh, Severity::II) => "重大",
            (Lang::Zh, Severity::III) => "较大",
            (Lang::Zh, Severity::IV) => "一般",
            (Lang::Zh, Severity::Routine) => "常规",
            (Lang::En, s) => s.name(),
        }
    }

    pub fn state(self, s: IncidentState) -> &'static str {
        match (self, s) {
            (Lang::Zh, IncidentState::Reported) => "已上报",
            (Lang::Zh, IncidentState::Accepted) => "已受理",
            (Lang::Zh, IncidentState::Dispatched) => "已派遣",
            (Lang::Zh, IncidentState::Resolved) => "已办结",
            (Lang::Zh, IncidentState::Verified) => "已核查",
            (Lang::Zh, IncidentState::Closed) => "已结案",
            (Lang::Zh, IncidentState::Cancelled) => "已撤销",
            (Lang::En, s) => s.name(),
        }
    }

    /// A level in a narrow column: 市, 县区, 乡镇, 村社区.
    pub fn level(self, l: Level) -> &'static str {
        match (self, l) {
            (Lang::Zh, Level::Province) => "省",
            (Lang::Zh, Level::City) => "市",
            (Lang::Zh, Level::County) => "县区",
            (Lang::Zh, Level::Township) => "乡镇",
            (Lang::Zh, Level::Village) => "村社区",
            (Lang::Zh, Level::Grid) => "网格",
            (Lang::En, l) => l.name(),
        }
    }

    /// A target's state for an order, without its note.
    pub fn target_state(self, s: &TargetState) -> &'static str {
        match (self, s) {
            (Lang::Zh, TargetState::Pending) => "待送达",
            (Lang::Zh, TargetState::Delivered) => "已送达",
            (Lang::Zh, TargetState::SignedFor { .. }) => "已签收",
            (Lang::Zh, TargetState::InProgress { .. }) => "处理中",
            (Lang::Zh, TargetState::Done { .. }) => "已完成",
            (Lang::Zh, TargetState::Refused { .. }) => "已拒收",
            (Lang::En, s) => s.name(),
        }
    }

    /// A target state with what came with it: 已签收 (李四), 已拒收 (不在辖区);
    /// "signed for by 李四", "refused: …".
    pub fn target_state_words(self, s: &TargetState) -> String {
        if self == Lang::En {
            return liandong_dispatch::room::state_words(s);
        }
        let note = match s {
            TargetState::SignedFor { by } => by,
            TargetState::InProgress { note } | TargetState::Done { note } => note,
            TargetState::Refused { reason } => reason,
            TargetState::Pending | TargetState::Delivered => "",
        };
        if note.is_empty() {
            self.target_state(s).to_owned()
        } else {
            format!("{} ({note})", self.target_state(s))
        }
    }

    /// What someone acts as in a coordination room: 领导 or 值班员.
    pub fn role(self, r: Role) -> &'static str {
        match (self, r) {
            (Lang::Zh, Role::Leader) => "领导",
            (Lang::Zh, Role::Operator) => "值班员",
            (Lang::En, r) => r.name(),
        }
    }

    pub fn room_state(self, s: RoomState) -> &'static str {
        match (self, s) {
            (Lang::Zh, RoomState::Open) => "开启中",
            (Lang::Zh, RoomState::Closed) => "已关闭",
            (Lang::En, s) => s.name(),
        }
    }

    /// Which deadline: 受理, 签收, 办结.
    pub fn stage(self, s: Stage) -> &'static str {
        match (self, s) {
            (Lang::Zh, Stage::Accept) => "受理",
            (Lang::Zh, Stage::SignFor) => "签收",
            (Lang::Zh, Stage::Finish) => "办结",
            (Lang::En, Stage::Accept) => "accept",
            (Lang::En, Stage::SignFor) => "sign-for",
            (Lang::En, Stage::Finish) => "finish",
        }
    }

    pub fn category(self, c: Category) -> &'static str {
        match (self, c) {
            (Lang::Zh, Category::Dispute) => "矛盾纠纷",
            (Lang::Zh, Category::Hazard) => "安全隐患",
            (Lang::Zh, Category::Request) => "群众诉求",
            (Lang::Zh, Category::Fire) => "火灾",
            (Lang::Zh, Category::Flood) => "汛情",
            (Lang::Zh, Category::Gathering) => "群体性事件",
            (Lang::Zh, Category::Accident) => "事故",
            (Lang::Zh, Category::Other) => "其他",
            (Lang::En, Category::Dispute) => "dispute",
            (Lang::En, Category::Hazard) => "hazard",
            (Lang::En, Category::Request) => "request",
            (Lang::En, Category::Fire) => "fire",
            (Lang::En, Category::Flood) => "flood",
            (Lang::En, Category::Gathering) => "gathering",
            (Lang::En, Category::Accident) => "accident",
            (Lang::En, Category::Other) => "other",
        }
    }

    pub fn mode(self, m: Mode) -> &'static str {
        match (self, m) {
            (Lang::Zh, Mode::Actual) => "实战",
            (Lang::Zh, Mode::Exercise) => "演练",
            (Lang::En, Mode::Actual) => "actual",
            (Lang::En, Mode::Exercise) => "exercise",
        }
    }

    /// The relation of a link as the node names it ("parent", "child",
    /// "unit", "ancestor", "descendant").
    pub fn relation(self, r: &str) -> String {
        let zh = match r {
            "parent" => "上级",
            "child" => "下级",
            "unit" => "成员单位",
            "ancestor" => "越级上级",
            "descendant" => "越级下级",
            other => return other.to_owned(),
        };
        match self {
            Lang::Zh => zh.to_owned(),
            Lang::En => r.to_owned(),
        }
    }
}

/// Every fixed label of the console, in one language. See [`ZH`], [`EN`].
#[derive(Debug)]
pub struct Words {
    pub app: &'static str,
    // Screens (tabs).
    pub board: &'static str,
    pub orders: &'static str,
    pub links: &'static str,
    pub detail: &'static str,
    pub composer: &'static str,
    pub help: &'static str,
    // Connection and status line.
    pub connecting: &'static str,
    pub live: &'static str,
    pub lost: &'static str,
    pub open_incidents: &'static str,
    pub open_orders: &'static str,
    pub storage_problem: &'static str,
    pub failed_over: &'static str,
    pub sent: &'static str,
    pub done: &'static str,
    pub refused: &'static str,
    pub error: &'static str,
    pub press_help: &'static str,
    // Board columns.
    pub col_severity: &'static str,
    pub col_title: &'static str,
    pub col_origin: &'static str,
    pub col_owner: &'static str,
    pub col_state: &'static str,
    pub col_age: &'static str,
    pub col_due: &'static str,
    pub col_orders: &'static str,
    pub signed: &'static str,
    pub supervised_mark: &'static str,
    pub exercise_mark: &'static str,
    pub no_incidents: &'static str,
    pub no_topology: &'static str,
    // Filters.
    pub filter: &'static str,
    pub all: &'static str,
    pub open: &'static str,
    pub search: &'static str,
    pub shown: &'static str,
    // Alarms.
    pub alarm: &'static str,
    pub alarm_new_report: &'static str,
    pub alarm_deadline: &'static str,
    pub alarm_supervised: &'static str,
    pub alarm_ack_hint: &'static str,
    pub more_alarms: &'static str,
    // Detail.
    pub timeline: &'static str,
    pub reported: &'static str,
    pub reporter: &'static str,
    pub photos: &'static str,
    pub place: &'static str,
    pub category: &'static str,
    pub owner: &'static str,
    pub accepted_by: &'static str,
    pub supervisor: &'static str,
    pub accept_by: &'static str,
    pub finish_by: &'static str,
    pub mode: &'static str,
    pub at_hop: &'static str,
    pub actions: &'static str,
    pub act_accept: &'static str,
    pub act_escalate: &'static str,
    pub act_dispatch: &'static str,
    pub act_note: &'static str,
    pub act_feedback: &'static str,
    pub act_resolve: &'static str,
    pub act_verify: &'static str,
    pub act_send_back: &'static str,
    pub act_close: &'static str,
    pub act_cancel: &'static str,
    pub not_known: &'static str,
    pub no_orders: &'static str,
    // Orders.
    pub col_instruction: &'static str,
    pub col_issuer: &'static str,
    pub col_targets: &'static str,
    pub col_target: &'static str,
    pub col_since: &'static str,
    pub overdue: &'static str,
    pub act_sign: &'static str,
    pub act_done: &'static str,
    pub act_refuse: &'static str,
    pub act_open_incident: &'static str,
    pub for_me: &'static str,
    // Composer.
    pub targets: &'static str,
    pub severity: &'static str,
    pub deadline: &'static str,
    pub instruction: &'static str,
    pub level_filter: &'static str,
    pub send: &'static str,
    pub for_incident: &'static str,
    pub policy_default: &'static str,
    pub whole_subtree: &'static str,
    pub nothing_selected: &'static str,
    pub confirm_title: &'static str,
    pub confirm_yes_no: &'static str,
    pub watching: &'static str,
    pub waiting_answer: &'static str,
    pub need_targets: &'static str,
    pub need_instruction: &'static str,
    pub nodes: &'static str,
    // Links.
    pub this_node: &'static str,
    pub parent: &'static str,
    pub col_peer: &'static str,
    pub col_relation: &'static str,
    pub col_link: &'static str,
    pub col_rtt: &'static str,
    pub col_queued: &'static str,
    pub col_last_heard: &'static str,
    pub up: &'static str,
    pub down: &'static str,
    pub via: &'static str,
    pub recent: &'static str,
    pub ago: &'static str,
    // Prompts.
    pub prompt_reason: &'static str,
    pub prompt_summary: &'static str,
    pub prompt_note: &'static str,
    pub prompt_feedback: &'static str,
    pub prompt_done: &'static str,
    pub prompt_refuse: &'static str,
    pub prompt_hint: &'static str,
    pub search_hint: &'static str,
    // Help sections.
    pub help_global: &'static str,
    pub help_lists: &'static str,
    // Coordination rooms (综合协调室).
    pub room: &'static str,
    pub room_mark: &'static str,
    pub alarm_room_opened: &'static str,
    pub room_refused: &'static str,
    pub present: &'static str,
    pub invited: &'static str,
    pub nobody_present: &'static str,
    pub open_tasks: &'static str,
    pub no_open_tasks: &'static str,
    pub room_log: &'static str,
    pub newer: &'static str,
    pub earlier_dropped: &'static str,
    pub loading: &'static str,
    pub no_room: &'static str,
    pub system: &'static str,
    pub opened_room: &'static str,
    pub closed_room: &'static str,
    pub entered: &'static str,
    pub left: &'static str,
    pub decision_tag: &'static str,
    pub task: &'static str,
    pub invited_node: &'static str,
    pub due: &'static str,
    pub say: &'static str,
    pub not_present: &'static str,
    pub unknown_command: &'static str,
    pub act_room: &'static str,
    pub act_room_open: &'static str,
    pub act_room_enter: &'static str,
    pub act_room_leave: &'static str,
}

pub const ZH: Words = Words {
    app: "联动",
    board: "督办看板",
    orders: "交办指令",
    links: "链路",
    detail: "事件详情",
    composer: "交办",
    help: "帮助",
    connecting: "连接中",
    live: "已连接",
    lost: "连接中断",
    open_incidents: "在办事件",
    open_orders: "在办指令",
    storage_problem: "存储故障",
    failed_over: "已越级",
    sent: "已发送",
    done: "完成",
    refused: "被拒绝",
    error: "错误",
    press_help: "? 帮助",
    col_severity: "级别",
    col_title: "事件",
    col_origin: "来源",
    col_owner: "层级",
    col_state: "状态",
    col_age: "时长",
    col_due: "时限",
    col_orders: "签收",
    signed: "签收",
    supervised_mark: "督",
    exercise_mark: "演",
    no_incidents: "没有在办事件",
    no_topology: "等待拓扑",
    filter: "筛选",
    all: "全部",
    open: "在办",
    search: "搜索",
    shown: "显示",
    alarm: "告警",
    alarm_new_report: "新报告",
    alarm_deadline: "超时",
    alarm_supervised: "督办",
    alarm_ack_hint: "空格确认",
    more_alarms: "条",
    timeline: "时间线",
    reported: "上报时间",
    reporter: "上报人",
    photos: "照片",
    place: "地点",
    category: "类别",
    owner: "责任中心",
    accepted_by: "受理人",
    supervisor: "督办中心",
    accept_by: "受理时限",
    finish_by: "办结时限",
    mode: "模式",
    at_hop: "已到达",
    actions: "操作",
    act_accept: "受理",
    act_escalate: "上报上级",
    act_dispatch: "交办",
    act_note: "备注",
    act_feedback: "反馈",
    act_resolve: "办结",
    act_verify: "核查通过",
    act_send_back: "退回",
    act_close: "结案",
    act_cancel: "撤销",
    not_known: "此事件不在本节点",
    no_orders: "没有指令",
    col_instruction: "指令",
    col_issuer: "下达",
    col_targets: "对象",
    col_target: "对象",
    col_since: "更新",
    overdue: "逾期",
    act_sign: "签收",
    act_done: "完成",
    act_refuse: "拒收",
    act_open_incident: "查看事件",
    for_me: "待我签收",
    targets: "交办对象",
    severity: "级别",
    deadline: "办结时限",
    instruction: "指令内容",
    level_filter: "层级",
    send: "发送",
    for_incident: "关联事件",
    policy_default: "按预案",
    whole_subtree: "全辖区",
    nothing_selected: "未选择",
    confirm_title: "确认交办",
    confirm_yes_no: "y 确认发送   n 返回修改",
    watching: "跟踪签收",
    waiting_answer: "等待节点应答",
    need_targets: "请先选择交办对象(空格选择,t 选整个辖区)",
    need_instruction: "请填写指令内容",
    nodes: "个节点",
    this_node: "本节点",
    parent: "上级",
    col_peer: "节点",
    col_relation: "关系",
    col_link: "链路",
    col_rtt: "时延",
    col_queued: "待送",
    col_last_heard: "最后联络",
    up: "正常",
    down: "中断",
    via: "经",
    recent: "最近通知",
    ago: "前",
    prompt_reason: "原因",
    prompt_summary: "办结情况",
    prompt_note: "备注",
    prompt_feedback: "反馈",
    prompt_done: "完成说明",
    prompt_refuse: "拒收原因",
    prompt_hint: "Enter 发送   Esc 取消",
    search_hint: "Enter 保留   Esc 清除",
    help_global: "全局",
    help_lists: "列表",
    room: "协调室",
    room_mark: "室",
    alarm_room_opened: "协调室开启",
    room_refused: "协调室未受理",
    present: "在场",
    invited: "已邀请",
    nobody_present: "无人在场",
    open_tasks: "未完成任务",
    no_open_tasks: "没有未完成任务",
    room_log: "记录",
    newer: "条更新",
    earlier_dropped: "条较早记录未保留",
    loading: "载入中…",
    no_room: "没有协调室",
    system: "系统",
    opened_room: "开启协调室",
    closed_room: "关闭协调室",
    entered: "进入",
    left: "离开",
    decision_tag: "【决定】",
    task: "任务",
    invited_node: "邀请",
    due: "限",
    say: "发言",
    not_present: "未进入 (/进入)",
    unknown_command: "命令?",
    act_room: "协调室",
    act_room_open: "开启协调室",
    act_room_enter: "进入",
    act_room_leave: "退出",
};

pub const EN: Words = Words {
    app: "Liandong",
    board: "Escalation board",
    orders: "Orders",
    links: "Links",
    detail: "Incident",
    composer: "Dispatch",
    help: "Help",
    connecting: "connecting",
    live: "live",
    lost: "connection lost",
    open_incidents: "open incidents",
    open_orders: "open orders",
    storage_problem: "storage failing",
    failed_over: "failed over",
    sent: "sent",
    done: "done",
    refused: "refused",
    error: "error",
    press_help: "? help",
    col_severity: "Sev",
    col_title: "Incident",
    col_origin: "Origin",
    col_owner: "Owner",
    col_state: "State",
    col_age: "Age",
    col_due: "Due",
    col_orders: "Signed",
    signed: "signed",
    supervised_mark: "S",
    exercise_mark: "E",
    no_incidents: "No open incidents",
    no_topology: "waiting for the topology",
    filter: "Filter",
    all: "all",
    open: "open",
    search: "search",
    shown: "shown",
    alarm: "ALARM",
    alarm_new_report: "new report",
    alarm_deadline: " deadline missed",
    alarm_supervised: "supervised",
    alarm_ack_hint: "Space: ack",
    more_alarms: "more",
    timeline: "Timeline",
    reported: "Reported",
    reporter: "Reporter",
    photos: "Photos",
    place: "Place",
    category: "Category",
    owner: "Owner",
    accepted_by: "Accepted by",
    supervisor: "Supervisor",
    accept_by: "Accept by",
    finish_by: "Finish by",
    mode: "Mode",
    at_hop: "Now at",
    actions: "Actions",
    act_accept: "accept",
    act_escalate: "escalate",
    act_dispatch: "dispatch",
    act_note: "note",
    act_feedback: "feedback",
    act_resolve: "resolve",
    act_verify: "verify",
    act_send_back: "send back",
    act_close: "close",
    act_cancel: "cancel",
    not_known: "this incident is not known here",
    no_orders: "No orders",
    col_instruction: "Instruction",
    col_issuer: "Issuer",
    col_targets: "Targets",
    col_target: "Target",
    col_since: "Updated",
    overdue: "overdue",
    act_sign: "sign for",
    act_done: "done",
    act_refuse: "refuse",
    act_open_incident: "open incident",
    for_me: "to sign",
    targets: "Targets",
    severity: "Severity",
    deadline: "Due in",
    instruction: "Instruction",
    level_filter: "Level",
    send: "Send",
    for_incident: "Incident",
    policy_default: "policy",
    whole_subtree: "whole area",
    nothing_selected: "none",
    confirm_title: "Send this order?",
    confirm_yes_no: "y: send   n: back to editing",
    watching: "Acknowledgements",
    waiting_answer: "waiting for the node",
    need_targets: "Pick targets first (Space marks a node, t the whole area below it)",
    need_instruction: "Write the instruction",
    nodes: "nodes",
    this_node: "This node",
    parent: "Parent",
    col_peer: "Node",
    col_relation: "Relation",
    col_link: "Link",
    col_rtt: "RTT",
    col_queued: "Queued",
    col_last_heard: "Last heard",
    up: "up",
    down: "down",
    via: "via",
    recent: "Recent notices",
    ago: "ago",
    prompt_reason: "Reason",
    prompt_summary: "Summary",
    prompt_note: "Note",
    prompt_feedback: "Feedback",
    prompt_done: "Done: note",
    prompt_refuse: "Refuse: reason",
    prompt_hint: "Enter: send   Esc: cancel",
    search_hint: "Enter: keep   Esc: clear",
    help_global: "Everywhere",
    help_lists: "Lists",
    room: "Room",
    room_mark: "R",
    alarm_room_opened: "room opened",
    room_refused: "room refused",
    present: "Present",
    invited: "Invited",
    nobody_present: "nobody present",
    open_tasks: "Open tasks",
    no_open_tasks: "no open tasks",
    room_log: "Log",
    newer: "newer",
    earlier_dropped: "earlier entries not kept",
    loading: "loading…",
    no_room: "no coordination room",
    system: "system",
    opened_room: "opened the room",
    closed_room: "closed the room",
    entered: "entered",
    left: "left",
    decision_tag: "DECISION: ",
    task: "task",
    invited_node: "invited",
    due: "due",
    say: "Say",
    not_present: "not in the room (/enter)",
    unknown_command: "command?",
    act_room: "room",
    act_room_open: "open room",
    act_room_enter: "enter",
    act_room_leave: "leave",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_follows_the_locale() {
        assert_eq!(Lang::from_locale(Some("zh_CN.UTF-8")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("zh_TW")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("en_US.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(Some("C")), Lang::En);
        assert_eq!(Lang::from_locale(None), Lang::En);
        assert_eq!(Lang::parse("ZH"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
    }

    #[test]
    fn severities_use_the_legal_names() {
        let names: Vec<_> = Severity::ALL.iter().rev().map(|&s| Lang::Zh.severity(s)).collect();
        assert_eq!(names, ["特别重大", "重大", "较大", "一般", "常规"]);
        assert_eq!(Lang::En.severity(Severity::Routine), "Routine");
    }
}
