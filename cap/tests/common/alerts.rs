//! Alerts built in code for the writer's tests: one with every optional
//! element filled, several infos and Chinese text full of characters XML
//! must escape; small variations of it.

use liandong_cap::{
    Alert, Area, CapTime, Category, Certainty, Circle, Info, MsgType, NameValue, Point, Reference, Resource,
    ResponseType, Scope, Severity, Status, Urgency,
};

fn time(text: &str) -> CapTime {
    CapTime::parse(text).unwrap_or_else(|| panic!("test time {text}"))
}

fn pair(name: &str, value: &str) -> NameValue {
    NameValue {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// A typhoon warning of a provincial platform, every optional element
/// filled, in Chinese (first) and English.
pub fn typhoon() -> Alert {
    Alert {
        identifier: "44000041600000-2024-0721-0001".to_string(),
        sender: "warning.gd.gov.cn".to_string(),
        sent: time("2024-07-21T08:30:00+08:00"),
        status: Status::Actual,
        msg_type: MsgType::Update,
        source: Some("广东省突发事件预警信息发布中心 & <气象台>".to_string()),
        scope: Scope::Restricted,
        restriction: Some("仅限应急联动中心 (centres only)".to_string()),
        addresses: Some("\"440100\" \"440300\"".to_string()),
        codes: vec!["GB/T 35965.1-2018".to_string(), "QX/T 408-2017".to_string()],
        note: Some("更新：台风路径北移 <50km> & 风力增强".to_string()),
        references: vec![
            Reference {
                sender: "warning.gd.gov.cn".to_string(),
                identifier: "44000041600000-2024-0720-0007".to_string(),
                sent: time("2024-07-20T17:00:00+08:00"),
            },
            Reference {
                sender: "warning.gd.gov.cn".to_string(),
                identifier: "44000041600000-2024-0721-0000".to_string(),
                sent: time("2024-07-21T02:00:00-00:00"),
            },
        ],
        incidents: Some("TY2024-03 GD-2024-0720".to_string()),
        infos: vec![
            Info {
                language: "zh-CN".to_string(),
                categories: vec![Category::Met, Category::Safety],
                event: "台风红色预警 <一级> & 暴雨".to_string(),
                response_types: vec![ResponseType::Shelter, ResponseType::Evacuate, ResponseType::Prepare],
                urgency: Urgency::Immediate,
                severity: Severity::Extreme,
                certainty: Certainty::Likely,
                audience: Some("沿海居民、渔船 & 在建工地".to_string()),
                event_codes: vec![pair("GB/T 35965.1-2018", "11B03"), pair("QX/T 408", "台风 & 红色")],
                effective: Some(time("2024-07-21T08:30:00+08:00")),
                onset: Some(time("2024-07-21T12:00:00+08:00")),
                expires: Some(time("2024-07-22T08:30:00+08:00")),
                sender_name: Some("广东省气象台".to_string()),
                headline: Some("台风\"格美\"红色预警：风力 >12级".to_string()),
                description: Some(
                    "  预计未来24小时内，台风中心将在湛江至阳江一带沿海登陆。\n\t最大风力 > 12 级 & 阵风 < 17 级。\r\n请注意防范。 ".to_string(),
                ),
                instruction: Some("立即停止户外作业；渔船回港避风 & 人员上岸。".to_string()),
                web: Some("https://warning.gd.gov.cn/alerts/2024-0721-0001?lang=zh&amp=1".to_string()),
                contact: Some("省应急管理厅 020-12345678".to_string()),
                parameters: vec![pair("风力", "12级"), pair("Max & <gust>", "")],
                resources: vec![
                    Resource {
                        description: "台风路径图 <PNG>".to_string(),
                        mime_type: "image/png".to_string(),
                        size: Some(48_213),
                        uri: Some("https://warning.gd.gov.cn/img/ty2024-03.png".to_string()),
                        deref_uri: Some("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==".to_string()),
                        digest: Some("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3".to_string()),
                    },
                    Resource {
                        description: "广播音频".to_string(),
                        mime_type: "audio/mpeg".to_string(),
                        size: None,
                        uri: None,
                        deref_uri: None,
                        digest: None,
                    },
                ],
                areas: vec![
                    Area {
                        description: "湛江市 & 阳江市 沿海".to_string(),
                        polygons: vec![
                            vec![
                                Point { lat: 21.2, lon: 110.1 },
                                Point { lat: 21.9, lon: 111.95 },
                                Point { lat: 20.5, lon: 111.5 },
                                Point { lat: 20.25, lon: 110.0 },
                                Point { lat: 21.2, lon: 110.1 },
                            ],
                            vec![
                                Point { lat: -0.5, lon: -179.999999 },
                                Point { lat: 89.9, lon: 180.0 },
                                Point { lat: -90.0, lon: 0.0000001 },
                                Point { lat: -0.5, lon: -179.999999 },
                            ],
                        ],
                        circles: vec![
                            Circle { center: Point { lat: 21.27, lon: 110.36 }, radius_km: 150.0 },
                            Circle { center: Point { lat: 21.86, lon: 111.98 }, radius_km: 0.0 },
                        ],
                        geocodes: vec![pair("GB/T 2260", "440800"), pair("GB/T 2260", "441700")],
                        altitude: Some(0.0),
                        ceiling: Some(32_808.4),
                    },
                    Area {
                        description: "茂名市".to_string(),
                        polygons: vec![],
                        circles: vec![],
                        geocodes: vec![pair("GB/T 2260", "440900")],
                        altitude: Some(-12.5),
                        ceiling: None,
                    },
                ],
            },
            Info {
                response_types: vec![ResponseType::Shelter],
                expires: Some(time("2024-07-21T19:30:00-05:00")),
                headline: Some("Typhoon \"Gaemi\": winds > force 12".to_string()),
                areas: vec![Area::new("Zhanjiang & Yangjiang coast")],
                ..Info::new(
                    "en-US",
                    vec![Category::Met],
                    "Typhoon red warning <level 1> & rainstorm",
                    Urgency::Expected,
                    Severity::Severe,
                    Certainty::Observed,
                )
            },
            Info {
                response_types: vec![ResponseType::AllClear, ResponseType::None],
                ..Info::new(
                    "zh-Hant-HK",
                    vec![Category::Other, Category::Cbrne, Category::Infra],
                    "颱風",
                    Urgency::Unknown,
                    Severity::Unknown,
                    Certainty::Unknown,
                )
            },
        ],
    }
}

/// The smallest valid alert: the required elements only, no info.
pub fn minimal() -> Alert {
    Alert {
        identifier: "LD-0001".to_string(),
        sender: "center.example.cn".to_string(),
        sent: time("2024-01-01T00:00:00-00:00"),
        status: Status::Exercise,
        msg_type: MsgType::Alert,
        source: None,
        scope: Scope::Public,
        restriction: None,
        addresses: None,
        codes: vec![],
        note: None,
        references: vec![],
        incidents: None,
        infos: vec![],
    }
}

/// A cancel to a private list of addresses, one info with a circle only.
pub fn private_cancel() -> Alert {
    let mut alert = minimal();
    alert.identifier = "LD-0002".to_string();
    alert.msg_type = MsgType::Cancel;
    alert.scope = Scope::Private;
    alert.addresses = Some("center.a.example.cn center.b.example.cn".to_string());
    alert.references = vec![Reference {
        sender: alert.sender.clone(),
        identifier: "LD-0001".to_string(),
        sent: time("2023-12-31T23:00:00+14:00"),
    }];
    let mut area = Area::new("东城区");
    area.circles = vec![Circle {
        center: Point {
            lat: 39.93,
            lon: 116.42,
        },
        radius_km: 2.5,
    }];
    alert.infos = vec![Info {
        response_types: vec![ResponseType::AllClear],
        areas: vec![area],
        ..Info::new(
            "zh-CN",
            vec![Category::Fire],
            "火警解除",
            Urgency::Past,
            Severity::Minor,
            Certainty::Unlikely,
        )
    }];
    alert
}
