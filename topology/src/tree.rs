//! The validated tree and the queries the rest of Liandong asks of it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;

use crate::error::{Location, Problem, ProblemKind};
use crate::policy::{LinkClass, LinkSettings, Policy, Reach};
use crate::{Kind, Level, LoadError, NodeId, Severity};

/// One node of the federation as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: NodeId,
    /// Display name, usually Chinese (福州市鼓楼区).
    pub name: String,
    pub level: Level,
    pub kind: Kind,
    /// `None` only for the root.
    pub parent: Option<NodeId>,
    /// Where this node accepts QUIC connections from its children.
    pub listen: SocketAddr,
}

/// The `[document]` table of a federation document: which version of
/// the federation's configuration this is. A plain topology file has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentHeader {
    /// Increases with every version published; a node refuses a version
    /// that is not newer than the one it holds. At least 1.
    pub version: u64,
    /// When it was published (RFC 3339), for people.
    pub published: Option<String>,
    /// What changed, for people.
    pub note: Option<String>,
}

/// Where each field of a node was written, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpans {
    pub id: Location,
    pub level: Location,
    pub parent: Option<Location>,
    pub listen: Location,
}

/// Where things were written in a file, for error messages: per node
/// (parallel to the node list), and per severity in `policy.reach`.
#[derive(Debug, Clone)]
pub(crate) struct FileSpans {
    pub nodes: Vec<NodeSpans>,
    pub reach: BTreeMap<Severity, Location>,
}

/// A dense index of a node in a [`Topology`]. Nodes are stored in
/// pre-order (a node, then its whole subtree), so a subtree is a contiguous
/// range of indices. Valid only for the topology that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIx(pub u32);

impl NodeIx {
    fn at(self) -> usize {
        self.0 as usize
    }
}

/// A validated federation: exactly one root, levels strictly falling from
/// each center to its child centers, member units beside their center,
/// distinct ids and listen addresses, and a policy that only names levels
/// the tree has. Every query is O(1) or O(depth); depth is at most six.
#[derive(Debug, Clone)]
pub struct Topology {
    name: String,
    /// Pre-order: `nodes[i]`'s subtree is `i..end[i]`.
    nodes: Vec<NodeInfo>,
    index: HashMap<NodeId, NodeIx>,
    parent: Vec<Option<NodeIx>>,
    end: Vec<u32>,
    /// Children of `i` are `children[child_range[i]]`, in file order.
    children: Vec<NodeIx>,
    child_range: Vec<Range<u32>>,
    depth: Vec<u8>,
    policy: Policy,
    link: LinkSettings,
    /// Set when the text was a federation document.
    pub(crate) document: Option<DocumentHeader>,
}

/// Node counts at one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelCount {
    pub centers: usize,
    pub member_units: usize,
}

impl Topology {
    /// Builds a topology from nodes in any order, checking every rule.
    /// Used by generators and tests; files go through [`Topology::load`].
    pub fn build(
        name: impl Into<String>,
        nodes: Vec<NodeInfo>,
        policy: Policy,
        link: LinkSettings,
    ) -> Result<Topology, LoadError> {
        assemble(name.into(), nodes, None, policy, link, Vec::new())
    }

    /// The federation's name (福州市综治联动网).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn link(&self) -> &LinkSettings {
        &self.link
    }

    /// The `[document]` header, when this topology came from a federation
    /// document.
    pub fn document(&self) -> Option<&DocumentHeader> {
        self.document.as_ref()
    }

    /// How the link between `a` and `b` is declared: its lower end (the
    /// descendant) names it by its level; the default for unknown nodes.
    pub fn link_class(&self, a: &NodeId, b: &NodeId) -> LinkClass {
        let lower = if self.is_ancestor(a, b) { b } else { a };
        self.get(lower)
            .map_or_else(LinkClass::default, |n| self.link.class(n.level))
    }

    /// Number of nodes, centers and member units together.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false for a validated topology; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node in pre-order: the root, then each subtree in file order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &NodeInfo> {
        self.nodes.iter()
    }

    pub fn root(&self) -> &NodeInfo {
        &self.nodes[0]
    }

    pub fn get(&self, id: &NodeId) -> Option<&NodeInfo> {
        self.ix(id).map(|ix| self.node(ix))
    }

    pub fn ix(&self, id: &NodeId) -> Option<NodeIx> {
        self.index.get(id).copied()
    }

    /// The node at `ix`. Panics if `ix` came from another topology.
    pub fn node(&self, ix: NodeIx) -> &NodeInfo {
        &self.nodes[ix.at()]
    }

    pub fn level(&self, id: &NodeId) -> Option<Level> {
        self.get(id).map(|n| n.level)
    }

    pub fn parent(&self, id: &NodeId) -> Option<&NodeInfo> {
        self.parent_ix(self.ix(id)?).map(|p| self.node(p))
    }

    pub fn parent_ix(&self, ix: NodeIx) -> Option<NodeIx> {
        self.parent[ix.at()]
    }

    /// Children in file order: child centers and member units.
    pub fn children(&self, id: &NodeId) -> impl Iterator<Item = &NodeInfo> {
        let ixs = self.ix(id).map_or(&[][..], |ix| self.children_ix(ix));
        ixs.iter().map(|&c| self.node(c))
    }

    pub fn children_ix(&self, ix: NodeIx) -> &[NodeIx] {
        let r = &self.child_range[ix.at()];
        &self.children[r.start as usize..r.end as usize]
    }

    /// Ancestors of `id`, nearest first, not including `id`. Empty for the
    /// root or an unknown id.
    pub fn ancestors(&self, id: &NodeId) -> impl Iterator<Item = &NodeInfo> {
        let start = self.ix(id).and_then(|ix| self.parent_ix(ix));
        std::iter::successors(start, |&ix| self.parent_ix(ix)).map(|ix| self.node(ix))
    }

    /// Depth below the root: 0 for the root.
    pub fn depth_ix(&self, ix: NodeIx) -> u8 {
        self.depth[ix.at()]
    }

    /// True if `above` is a strict ancestor of `below`.
    pub fn is_ancestor(&self, above: &NodeId, below: &NodeId) -> bool {
        match (self.ix(above), self.ix(below)) {
            (Some(a), Some(b)) => a != b && self.subtree_range(a).contains(&b.0),
            _ => false,
        }
    }

    /// Pre-order index range of the subtree at `ix`, `ix` included.
    pub fn subtree_range(&self, ix: NodeIx) -> Range<u32> {
        ix.0..self.end[ix.at()]
    }

    /// The subtree at `id` (`id` included), in pre-order, optionally only
    /// the nodes of one level: "every village under county X" is
    /// `subtree(x, Some(Level::Village))`. Empty for an unknown id.
    pub fn subtree(&self, id: &NodeId, level: Option<Level>) -> impl Iterator<Item = &NodeInfo> {
        let range = self.ix(id).map_or(0..0, |ix| self.subtree_range(ix));
        self.nodes[range.start as usize..range.end as usize]
            .iter()
            .filter(move |n| level.is_none_or(|l| n.level == l))
    }

    /// Lowest common ancestor of two nodes (a node counts as its own
    /// ancestor here, so `lca(a, a)` is `a`).
    pub fn lca(&self, a: &NodeId, b: &NodeId) -> Option<&NodeInfo> {
        Some(self.node(self.lca_ix(self.ix(a)?, self.ix(b)?)))
    }

    pub fn lca_ix(&self, mut a: NodeIx, mut b: NodeIx) -> NodeIx {
        while self.depth_ix(a) > self.depth_ix(b) {
            a = self.parent[a.at()].unwrap_or(a);
        }
        while self.depth_ix(b) > self.depth_ix(a) {
            b = self.parent[b.at()].unwrap_or(b);
        }
        while a != b {
            // Same depth, different nodes: neither is the root, so both
            // have parents.
            a = self.parent[a.at()].unwrap_or(a);
            b = self.parent[b.at()].unwrap_or(b);
        }
        a
    }

    /// The nodes a message passes from `from` to `to`, both included: up
    /// to their lowest common ancestor, then down.
    pub fn path(&self, from: &NodeId, to: &NodeId) -> Option<Vec<&NodeInfo>> {
        let (a, b) = (self.ix(from)?, self.ix(to)?);
        let top = self.lca_ix(a, b);
        let mut up = vec![a];
        while *up.last()? != top {
            up.push(self.parent_ix(*up.last()?)?);
        }
        let mut down = Vec::new();
        let mut x = b;
        while x != top {
            down.push(x);
            x = self.parent_ix(x)?;
        }
        up.extend(down.into_iter().rev());
        Some(up.into_iter().map(|ix| self.node(ix)).collect())
    }

    /// The center that owns a report of `severity` entered at `origin`: the
    /// lowest center at or above the level the policy requires, on the way
    /// up from `origin` (a member unit reports through its center).
    pub fn owner(&self, origin: &NodeId, severity: Severity) -> Option<&NodeInfo> {
        Some(self.node(self.owner_ix(self.ix(origin)?, severity)))
    }

    pub fn owner_ix(&self, origin: NodeIx, severity: Severity) -> NodeIx {
        let reach = self.policy.reach(severity);
        let mut x = origin;
        if self.node(x).kind == Kind::MemberUnit {
            x = self.parent_ix(x).unwrap_or(x);
        }
        loop {
            let done = match reach {
                Reach::Top => false,
                Reach::Level(level) => self.node(x).level.at_or_above(level),
            };
            match self.parent_ix(x) {
                Some(p) if !done => x = p,
                _ => return x,
            }
        }
    }

    /// One line for people: "17 nodes: 1 city, 2 county + 2 member units, ...".
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .count_by_level()
            .iter()
            .map(|(level, c)| match c.member_units {
                0 => format!("{} {level}", c.centers),
                units => format!("{} {level} + {units} member units", c.centers),
            })
            .collect();
        format!("{} nodes: {}", self.len(), parts.join(", "))
    }

    /// Counts of centers and member units per level, top level first.
    pub fn count_by_level(&self) -> BTreeMap<Level, LevelCount> {
        let mut counts = BTreeMap::<Level, LevelCount>::new();
        for n in &self.nodes {
            let c = counts.entry(n.level).or_default();
            match n.kind {
                Kind::Center => c.centers += 1,
                Kind::MemberUnit => c.member_units += 1,
            }
        }
        counts
    }
}

/// Checks every structural and policy rule and builds the indexed tree.
/// `spans` says where things were written when they came from a file. `problems` carries what
/// earlier stages found, so one run reports everything.
pub(crate) fn assemble(
    name: String,
    nodes: Vec<NodeInfo>,
    spans: Option<FileSpans>,
    policy: Policy,
    link: LinkSettings,
    mut problems: Vec<Problem>,
) -> Result<Topology, LoadError> {
    let at = |i: usize, f: fn(&NodeSpans) -> Option<&Location>| -> Option<Location> {
        spans.as_ref().and_then(|s| f(&s.nodes[i]).cloned())
    };
    let reach_at = |s: Severity| spans.as_ref().and_then(|spans| spans.reach.get(&s).cloned());
    let mut report = |at: Option<Location>, kind: ProblemKind| problems.push(Problem { at, kind });

    if nodes.is_empty() {
        report(None, ProblemKind::Empty);
    }

    // Ids.
    let mut index: HashMap<&NodeId, usize> = HashMap::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if n.name.trim().is_empty() {
            report(at(i, |s| Some(&s.id)), ProblemKind::EmptyName { id: n.id.clone() });
        }
        if let Some(&first) = index.get(&n.id) {
            let first = at(first, |s| Some(&s.id)).unwrap_or(Location {
                file: None,
                line: 0,
                col: 0,
            });
            report(
                at(i, |s| Some(&s.id)),
                ProblemKind::DuplicateId {
                    id: n.id.clone(),
                    first,
                },
            );
        } else {
            index.insert(&n.id, i);
        }
    }

    // Parents (as file indices) and roots.
    let mut parent: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut roots = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let parent_at = at(i, |s| s.parent.as_ref());
        match &n.parent {
            None if n.kind == Kind::MemberUnit => report(
                at(i, |s| Some(&s.id)),
                ProblemKind::UnitWithoutParent { id: n.id.clone() },
            ),
            None => roots.push(i),
            Some(p) if *p == n.id => report(parent_at, ProblemKind::OwnParent { id: n.id.clone() }),
            Some(p) => match index.get(p) {
                None => report(
                    parent_at,
                    ProblemKind::UnknownParent {
                        id: n.id.clone(),
                        parent: p.clone(),
                    },
                ),
                Some(&pi) => parent[i] = Some(pi),
            },
        }
    }
    if roots.len() > 1 {
        let ids = roots.iter().map(|&r| nodes[r].id.clone()).collect();
        report(at(roots[1], |s| Some(&s.id)), ProblemKind::SeveralRoots(ids));
    } else if roots.is_empty() && !nodes.is_empty() {
        report(None, ProblemKind::NoRoot);
    }

    // Cycles: walk up from each node; a walk that meets itself is a cycle.
    // state: 0 unvisited, 1 on the current walk, 2 done.
    let mut state = vec![0u8; nodes.len()];
    let mut on_cycle = vec![false; nodes.len()];
    for start in 0..nodes.len() {
        let mut walk = Vec::new();
        let mut x = Some(start);
        while let Some(i) = x {
            if state[i] != 0 {
                break;
            }
            state[i] = 1;
            walk.push(i);
            x = parent[i];
        }
        if let Some(i) = x.filter(|&i| state[i] == 1) {
            let pos = walk.iter().position(|&w| w == i).unwrap_or(0);
            let cycle = &walk[pos..];
            for &c in cycle {
                on_cycle[c] = true;
            }
            let first = *cycle.iter().min().unwrap_or(&i);
            report(
                at(first, |s| s.parent.as_ref()),
                ProblemKind::Cycle(cycle.iter().map(|&c| nodes[c].id.clone()).collect()),
            );
        }
        for w in walk {
            state[w] = 2;
        }
    }

    // Levels and member units.
    for (i, n) in nodes.iter().enumerate() {
        let Some(pi) = parent[i] else { continue };
        if on_cycle[i] {
            continue;
        }
        let p = &nodes[pi];
        let level_at = at(i, |s| Some(&s.level));
        if p.kind == Kind::MemberUnit {
            report(
                at(i, |s| s.parent.as_ref()),
                ProblemKind::ParentIsUnit {
                    id: n.id.clone(),
                    parent: p.id.clone(),
                },
            );
        } else if n.kind == Kind::MemberUnit && n.level != p.level {
            report(
                level_at,
                ProblemKind::UnitLevel {
                    id: n.id.clone(),
                    level: n.level,
                    parent: p.id.clone(),
                    parent_level: p.level,
                },
            );
        } else if n.kind == Kind::Center && !p.level.is_above(n.level) {
            report(
                level_at,
                ProblemKind::LevelNotBelowParent {
                    id: n.id.clone(),
                    level: n.level,
                    parent: p.id.clone(),
                    parent_level: p.level,
                },
            );
        }
    }

    // Listen addresses.
    let mut listen: HashMap<SocketAddr, usize> = HashMap::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if n.listen.port() == 0 {
            report(at(i, |s| Some(&s.listen)), ProblemKind::ZeroPort { id: n.id.clone() });
        }
        if let Some(&first) = listen.get(&n.listen) {
            let first_at = at(first, |s| Some(&s.listen)).unwrap_or(Location {
                file: None,
                line: 0,
                col: 0,
            });
            report(
                at(i, |s| Some(&s.listen)),
                ProblemKind::DuplicateListen {
                    addr: n.listen,
                    id: n.id.clone(),
                    first_id: nodes[first].id.clone(),
                    first: first_at,
                },
            );
        } else {
            listen.insert(n.listen, i);
        }
    }

    // The policy may only name levels some center has.
    let mut present = [false; 6];
    for n in nodes.iter().filter(|n| n.kind == Kind::Center) {
        present[n.level.depth() as usize] = true;
    }
    for severity in Severity::ALL {
        if let Reach::Level(level) = policy.reach(severity)
            && !present[level.depth() as usize]
        {
            let names: Vec<&str> = Level::ALL
                .iter()
                .filter(|l| present[l.depth() as usize])
                .map(|l| l.name())
                .collect();
            let present = names.join(", ");
            report(
                reach_at(severity),
                ProblemKind::PolicyLevelMissing {
                    severity,
                    level,
                    present,
                },
            );
        }
    }

    // A more severe report must climb at least as high as a less severe one.
    for pair in Severity::ALL.windows(2) {
        let (lower, higher) = (pair[0], pair[1]);
        let (low, high) = (policy.reach(lower), policy.reach(higher));
        if high.height() < low.height() {
            let at = reach_at(higher).or_else(|| reach_at(lower));
            let (higher_reach, lower_reach) = (high.to_string(), low.to_string());
            report(
                at,
                ProblemKind::PolicyNotMonotonic {
                    higher,
                    higher_reach,
                    lower,
                    lower_reach,
                },
            );
        }
    }

    if !problems.is_empty() {
        problems.sort_by_key(|p| p.at.as_ref().map_or((u32::MAX, 0), |l| (l.line, l.col)));
        return Err(LoadError::Invalid(problems));
    }
    drop(index);
    Ok(index_tree(name, nodes, &parent, roots[0], policy, link))
}

/// Lays out a checked tree in pre-order with its indices.
fn index_tree(
    name: String,
    nodes: Vec<NodeInfo>,
    parent: &[Option<usize>],
    root: usize,
    policy: Policy,
    link: LinkSettings,
) -> Topology {
    let n = nodes.len();
    // Children per file index, in file order.
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            kids[*p].push(i);
        }
    }
    // Iterative DFS: file index -> pre-order index.
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(kids[i].iter().rev());
    }
    let mut new_ix = vec![0u32; n];
    for (pre, &file) in order.iter().enumerate() {
        new_ix[file] = pre as u32;
    }

    let mut slots: Vec<Option<NodeInfo>> = nodes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n);
    let mut parent_ix = Vec::with_capacity(n);
    let mut depth = Vec::with_capacity(n);
    let mut children = Vec::with_capacity(n);
    let mut child_range = Vec::with_capacity(n);
    for &file in &order {
        let p = parent[file].map(|p| NodeIx(new_ix[p]));
        depth.push(p.map_or(0, |p: NodeIx| depth[p.at()] + 1));
        parent_ix.push(p);
        let start = children.len() as u32;
        children.extend(kids[file].iter().map(|&k| NodeIx(new_ix[k])));
        child_range.push(start..children.len() as u32);
        if let Some(node) = slots[file].take() {
            out.push(node);
        }
    }
    // Subtree ends, computed bottom-up over the pre-order.
    let mut end: Vec<u32> = (1..=n as u32).collect();
    for i in (0..n).rev() {
        if let Some(p) = parent_ix[i] {
            end[p.at()] = end[p.at()].max(end[i]);
        }
    }
    let index = out
        .iter()
        .enumerate()
        .map(|(i, node)| (node.id.clone(), NodeIx(i as u32)))
        .collect();
    Topology {
        name,
        nodes: out,
        index,
        parent: parent_ix,
        end,
        children,
        child_range,
        depth,
        policy,
        link,
        document: None,
    }
}
