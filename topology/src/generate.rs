//! Generated federations: the demo, real-sized Fuzhou and Jiangsu, and any
//! uniform fan-out. Ids are well-formed division codes, names plausible
//! Chinese place names (synthetic below the county level), and listen
//! addresses distinct ports on one IP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::policy::{LinkSettings, Policy, Reach};
use crate::tree::NodeInfo;
use crate::{Kind, Level, LoadError, NodeId, Severity, Topology};

/// The ready-made federations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 1 city, 2 counties each with a police unit, 4 townships, 8 villages.
    Demo,
    /// Fuzhou's real counts: 1 city, 13 counties, 173 townships, 2,660 villages.
    Fuzhou,
    /// Jiangsu's real counts: 1 province, 13 cities, 98 counties, 1,280
    /// townships, 21,420 villages (22,812 nodes).
    Jiangsu,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Demo, Preset::Fuzhou, Preset::Jiangsu];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Demo => "demo",
            Preset::Fuzhou => "fuzhou",
            Preset::Jiangsu => "jiangsu",
        }
    }

    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// A uniform tree: `fanout[0]` children under the top center, `fanout[1]`
/// under each of those, and so on down the levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOut {
    /// Level of the single top center (province or city).
    pub top: Level,
    pub fanout: Vec<u32>,
    /// Member units (such as `police`, `justice`) added beside every
    /// county center.
    pub units: Vec<String>,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Preset(Preset),
    FanOut(FanOut),
}

/// Where generated nodes listen: consecutive ports from `base_port` on `ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addressing {
    pub ip: IpAddr,
    pub base_port: u16,
}

impl Default for Addressing {
    /// 127.0.0.1 from port 7100: Jiangsu's 22,812 ports end below 30,000,
    /// clear of Linux's ephemeral range (32768 and up).
    fn default() -> Self {
        Addressing {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: 7100,
        }
    }
}

/// Why a shape could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{needed} nodes do not fit in the ports from {base} to 65535: lower --base-port")]
    PortsExhausted { needed: usize, base: u16 },
    #[error("fan-out {got} under the {level} level is too wide: division codes allow at most {max}")]
    FanOutTooWide { level: Level, got: u32, max: u32 },
    #[error("fan-out of {got} levels below a {top} does not fit: at most {max} levels lie below it")]
    TooDeep { top: Level, got: usize, max: usize },
    #[error("the top of a fan-out must be a province or a city, not a {0}")]
    BadTop(Level),
    #[error("fan-out {0} is zero: every level needs at least one child")]
    ZeroFanOut(usize),
    #[error("bad member unit name: {0}")]
    BadUnit(#[from] crate::IdError),
    #[error("generated topology is invalid (a bug): {0}")]
    Invalid(#[from] LoadError),
}

/// Generates a federation of the given shape.
pub fn generate(shape: &Shape, addressing: Addressing) -> Result<Topology, GenerateError> {
    let mut b = Builder {
        nodes: Vec::new(),
        addressing,
    };
    let (name, link) = match shape {
        Shape::Preset(Preset::Demo) => {
            demo(&mut b)?;
            // Short timers so failover is visible within seconds in the demo.
            (
                "福州市综治联动网(演示)",
                LinkSettings {
                    heartbeat: Duration::from_secs(1),
                    failover_after: Duration::from_secs(5),
                    ..LinkSettings::default()
                },
            )
        }
        Shape::Preset(Preset::Fuzhou) => {
            fuzhou(&mut b)?;
            ("福州市综治联动网", LinkSettings::default())
        }
        Shape::Preset(Preset::Jiangsu) => {
            jiangsu(&mut b)?;
            ("江苏省综治联动网", LinkSettings::default())
        }
        Shape::FanOut(f) => {
            fan_out(&mut b, f)?;
            ("合成联动网", LinkSettings::default())
        }
    };
    let needed = b.nodes.len();
    if usize::from(addressing.base_port) + needed > 65_536 {
        return Err(GenerateError::PortsExhausted {
            needed,
            base: addressing.base_port,
        });
    }
    let policy = fit_policy(&b.nodes);
    Ok(Topology::build(name, b.nodes, policy, link)?)
}

/// The default policy, with any level the tree lacks replaced by the next
/// level above that it has (or the top), so every generated tree is valid.
fn fit_policy(nodes: &[NodeInfo]) -> Policy {
    let has = |l: Level| nodes.iter().any(|n| n.kind == Kind::Center && n.level == l);
    let mut policy = Policy::default();
    for s in Severity::ALL {
        if let Reach::Level(level) = policy.reach(s)
            && !has(level)
        {
            let above = Level::ALL[..level.depth() as usize].iter().rev().find(|&&l| has(l));
            policy.set_reach(s, above.map_or(Reach::Top, |&l| Reach::Level(l)));
        }
    }
    policy
}

struct Builder {
    nodes: Vec<NodeInfo>,
    addressing: Addressing,
}

impl Builder {
    fn add(
        &mut self,
        id: String,
        name: String,
        level: Level,
        kind: Kind,
        parent: Option<&NodeId>,
    ) -> Result<NodeId, GenerateError> {
        let id = NodeId::parse(&id)?;
        // Ports past 65535 are caught after generation with the full count.
        let port = (usize::from(self.addressing.base_port) + self.nodes.len()).min(65_535) as u16;
        self.nodes.push(NodeInfo {
            id: id.clone(),
            name,
            level,
            kind,
            parent: parent.cloned(),
            listen: SocketAddr::new(self.addressing.ip, port),
        });
        Ok(id)
    }

    fn center(
        &mut self,
        id: String,
        name: impl Into<String>,
        level: Level,
        parent: Option<&NodeId>,
    ) -> Result<NodeId, GenerateError> {
        self.add(id, name.into(), level, Kind::Center, parent)
    }

    fn unit(&mut self, center: &NodeId, center_name: &str, unit: &str, level: Level) -> Result<NodeId, GenerateError> {
        let id = format!("{center}-{unit}");
        let name = format!("{}{}", short(center_name), unit_name(unit));
        self.add(id, name, level, Kind::MemberUnit, Some(center))
    }

    /// Townships under each county and villages under each township,
    /// spread as evenly as the totals allow.
    fn townships_and_villages(
        &mut self,
        counties: &[(NodeId, bool)],
        townships: u32,
        villages: u32,
    ) -> Result<(), GenerateError> {
        let mut towns = Vec::new();
        for ((county, urban), n) in counties.iter().zip(spread(townships, counties.len())) {
            for k in 0..n {
                let code = format!("{county}{:03}", k + 1);
                let suffix = if *urban {
                    "街道"
                } else if k % 4 == 3 {
                    "乡"
                } else {
                    "镇"
                };
                let name = format!("{}{suffix}", place_name(county.as_str(), k));
                towns.push(self.center(code, name, Level::Township, Some(county))?);
            }
        }
        for (town, n) in towns.iter().zip(spread(villages, towns.len())) {
            for k in 0..n {
                let code = format!("{town}{:03}", k + 1);
                let suffix = if k % 3 == 2 { "社区" } else { "村" };
                self.center(
                    code,
                    format!("{}{suffix}", place_name(town.as_str(), k)),
                    Level::Village,
                    Some(town),
                )?;
            }
        }
        Ok(())
    }
}

fn demo(b: &mut Builder) -> Result<(), GenerateError> {
    let city = b.center("350100".into(), "福州市", Level::City, None)?;
    // (county code, county, [(township, [village, village]); 2])
    type Township = (&'static str, [&'static str; 2]);
    let layout: [(&str, &str, [Township; 2]); 2] = [
        (
            "350102",
            "鼓楼区",
            [
                ("鼓东街道", ["五一社区", "东门社区"]),
                ("鼓西街道", ["西湖社区", "渔洋社区"]),
            ],
        ),
        (
            "350121",
            "闽侯县",
            [("甘蔗街道", ["昙石村", "田垱村"]), ("上街镇", ["侯官村", "厚美村"])],
        ),
    ];
    for (code, name, towns) in layout {
        let county = b.center(code.into(), name, Level::County, Some(&city))?;
        b.unit(&county, name, "police", Level::County)?;
        for (t, (town_name, villages)) in towns.iter().enumerate() {
            let town = b.center(
                format!("{code}{:03}", t + 1),
                *town_name,
                Level::Township,
                Some(&county),
            )?;
            for (v, village) in villages.iter().enumerate() {
                b.center(format!("{town}{:03}", v + 1), *village, Level::Village, Some(&town))?;
            }
        }
    }
    Ok(())
}

/// Fuzhou's 13 county-level divisions with their real codes.
const FUZHOU_COUNTIES: [(&str, &str); 13] = [
    ("350102", "鼓楼区"),
    ("350103", "台江区"),
    ("350104", "仓山区"),
    ("350105", "马尾区"),
    ("350111", "晋安区"),
    ("350112", "长乐区"),
    ("350121", "闽侯县"),
    ("350122", "连江县"),
    ("350123", "罗源县"),
    ("350124", "闽清县"),
    ("350125", "永泰县"),
    ("350128", "平潭县"),
    ("350181", "福清市"),
];

fn fuzhou(b: &mut Builder) -> Result<(), GenerateError> {
    let city = b.center("350100".into(), "福州市", Level::City, None)?;
    let mut counties = Vec::new();
    for (code, name) in FUZHOU_COUNTIES {
        counties.push((
            b.center(code.into(), name, Level::County, Some(&city))?,
            name.ends_with('区'),
        ));
    }
    b.townships_and_villages(&counties, 173, 2660)
}

/// Jiangsu's 13 prefecture-level cities with their real codes.
const JIANGSU_CITIES: [(&str, &str); 13] = [
    ("320100", "南京市"),
    ("320200", "无锡市"),
    ("320300", "徐州市"),
    ("320400", "常州市"),
    ("320500", "苏州市"),
    ("320600", "南通市"),
    ("320700", "连云港市"),
    ("320800", "淮安市"),
    ("320900", "盐城市"),
    ("321000", "扬州市"),
    ("321100", "镇江市"),
    ("321200", "泰州市"),
    ("321300", "宿迁市"),
];

fn jiangsu(b: &mut Builder) -> Result<(), GenerateError> {
    let province = b.center("320000".into(), "江苏省", Level::Province, None)?;
    let mut counties = Vec::new();
    for ((code, name), n) in JIANGSU_CITIES.iter().zip(spread(98, JIANGSU_CITIES.len())) {
        let city = b.center((*code).into(), *name, Level::City, Some(&province))?;
        for k in 0..n {
            let (suffix, urban) = match k % 3 {
                0 => ("区", true),
                1 => ("县", false),
                _ => ("市", false),
            };
            let county_name = format!("{}{suffix}", place_name(code, k));
            let county_code = format!("{}{:02}", &code[..4], k + 2);
            counties.push((b.center(county_code, county_name, Level::County, Some(&city))?, urban));
        }
    }
    b.townships_and_villages(&counties, 1280, 21_420)
}

fn fan_out(b: &mut Builder, f: &FanOut) -> Result<(), GenerateError> {
    if !matches!(f.top, Level::Province | Level::City) {
        return Err(GenerateError::BadTop(f.top));
    }
    let below = Level::Grid.depth() - f.top.depth();
    if f.fanout.len() > below as usize {
        return Err(GenerateError::TooDeep {
            top: f.top,
            got: f.fanout.len(),
            max: below as usize,
        });
    }
    if let Some(i) = f.fanout.iter().position(|&n| n == 0) {
        return Err(GenerateError::ZeroFanOut(i + 1));
    }
    for (i, &n) in f.fanout.iter().enumerate() {
        let level = Level::ALL[f.top.depth() as usize + i + 1];
        let max = match level {
            Level::City => 99,
            Level::County => 98,
            _ => 999,
        };
        if n > max {
            return Err(GenerateError::FanOutTooWide {
                level: Level::ALL[f.top.depth() as usize + i],
                got: n,
                max,
            });
        }
    }
    for unit in &f.units {
        NodeId::parse(&format!("900000-{unit}"))?;
    }
    // Province 90 is not a real one, so synthetic codes never collide with
    // real divisions.
    let (top_code, top_name) = match f.top {
        Level::Province => ("900000".to_owned(), "合成省".to_owned()),
        _ => ("900100".to_owned(), "合成市".to_owned()),
    };
    let top = b.center(top_code, top_name, f.top, None)?;
    let mut frontier = vec![top];
    for (depth, &n) in f.fanout.iter().enumerate() {
        let level = Level::ALL[f.top.depth() as usize + depth + 1];
        let mut next = Vec::new();
        for parent in &frontier {
            for k in 0..n {
                let p = parent.as_str();
                let (code, suffix) = match level {
                    Level::City => (format!("90{:02}00", k + 1), "市"),
                    Level::County => (format!("{}{:02}", &p[..4], k + 2), if k % 2 == 0 { "区" } else { "县" }),
                    Level::Township => (format!("{p}{:03}", k + 1), "镇"),
                    Level::Village => (format!("{p}{:03}", k + 1), "村"),
                    _ => (format!("{p}{:03}", k + 1), "网格"),
                };
                let name = format!("{}{suffix}", place_name(p, k));
                let id = b.center(code, name.clone(), level, Some(parent))?;
                if level == Level::County {
                    for unit in &f.units {
                        b.unit(&id, &name, unit, level)?;
                    }
                }
                next.push(id);
            }
        }
        frontier = next;
    }
    Ok(())
}

/// Splits `total` children over `parents` as evenly as possible, the first
/// parents taking one more when it does not divide.
fn spread(total: u32, parents: usize) -> impl Iterator<Item = u32> {
    let parents = parents.max(1) as u32;
    let (base, extra) = (total / parents, total % parents);
    (0..parents).map(move |i| base + u32::from(i < extra))
}

const FIRST: [char; 40] = [
    '安', '白', '宝', '北', '昌', '长', '大', '东', '丰', '凤', '福', '富', '高', '古', '广', '和', '河', '洪', '华',
    '黄', '嘉', '金', '锦', '兰', '乐', '龙', '梅', '南', '平', '青', '瑞', '三', '石', '双', '太', '文', '西', '新',
    '永', '玉',
];
const SECOND: [char; 40] = [
    '岸', '坝', '坂', '仓', '池', '川', '店', '渡', '墩', '港', '沟', '湖', '岭', '林', '埔', '桥', '泉', '沙', '山',
    '塘', '亭', '头', '湾', '溪', '峡', '洋', '源', '庄', '洲', '坪', '口', '田', '营', '园', '寨', '浦', '堡', '阳',
    '里', '圩',
];

/// A two-character place name for the `k`-th child of `parent`: siblings
/// get distinct names (for up to 1,600 siblings), and the parent's code
/// seeds the choice so cousins differ.
fn place_name(parent: &str, k: u32) -> String {
    let seed = parent
        .bytes()
        .fold(7u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)));
    let combos = (FIRST.len() * SECOND.len()) as u32;
    // 37 is coprime with 1,600, so k -> idx is one-to-one below 1,600.
    let idx = (seed % combos + k.wrapping_mul(37)) % combos;
    let mut name = String::new();
    name.push(FIRST[(idx % 40) as usize]);
    name.push(SECOND[(idx / 40) as usize]);
    if k >= combos {
        name.push_str(&(k / combos + 1).to_string());
    }
    name
}

/// "鼓楼区" -> "鼓楼", so "鼓楼公安分局" reads naturally.
fn short(center_name: &str) -> &str {
    center_name
        .strip_suffix(['区', '县', '市'])
        .filter(|s| s.chars().count() >= 2)
        .unwrap_or(center_name)
}

fn unit_name(unit: &str) -> &str {
    match unit {
        "police" => "公安分局",
        "justice" => "司法局",
        "petition" => "信访局",
        "civil-affairs" => "民政局",
        "labour" => "人社局",
        "land" => "自然资源局",
        "construction" => "住建局",
        "city-management" => "城管局",
        "emergency" => "应急管理局",
        other => other,
    }
}
