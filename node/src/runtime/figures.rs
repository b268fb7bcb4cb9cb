//! The safety report a control client asks for (`Query::Figures`): this
//! center's subtree report for a period, or a child's subtree from its
//! latest summary. A pure function of the core, like `operators`.

use liandong_control::Response;
use liandong_dispatch::Core;
use liandong_dispatch::figures::Period;
use liandong_topology::NodeId;

/// The report of `center` (this center when `None`) for `period`.
pub(super) fn report(core: &Core, period: Period, center: Option<&NodeId>) -> Response {
    let me = core.id();
    let refused = |reason: String| Response::Refused { reason };
    let Some(center) = center.filter(|c| *c != me) else {
        return Response::Figures(Box::new(core.report(period)));
    };
    let t = core.topology();
    if t.get(center).is_none() {
        return refused(format!("{center} is not a node of this federation"));
    }
    if !t.is_ancestor(me, center) {
        return refused(format!(
            "{center} is not in this center's subtree ({me}): ask a center above it"
        ));
    }
    let child = t
        .ancestors(center)
        .find(|a| t.parent(&a.id).is_some_and(|p| p.id == *me))
        .map_or_else(|| center.clone(), |a| a.id.clone());
    if child != *center {
        return refused(format!(
            "{center} is below {child}: this center holds its children's summaries only; ask for --center {child}, or ask {child}'s node"
        ));
    }
    match core.child_report(center, period) {
        Some(report) => Response::Figures(Box::new(report)),
        None => refused(format!("no summary from {center} for {period} has come yet")),
    }
}
