//! Coordination rooms under faults: `rooms-under-faults`' cheaper variant
//! passes its room invariants for a few seeds, with rooms that really
//! worked (events, asks, tasks settled, members checked), and a core that
//! applies an early room event at once instead of holding it is caught.

mod common;

use liandong_sim::{PlantedBug, Report, RunOptions, run};

fn go(seed: u64, planted_bug: Option<PlantedBug>) -> Report {
    let scenario = common::load("rooms-under-faults").sweep_variant();
    run(&scenario, &RunOptions { seed, planted_bug }, &mut |_| {})
        .expect("runs")
        .0
}

const ROOM_INVARIANTS: [&str; 4] = [
    "every room member's log is its home's",
    "every node applies each room's events in order, once",
    "every room ask is taken into its log once, or refused",
    "every room task's order is settled",
];

#[test]
fn rooms_converge_through_cuts_crashes_and_lost_disks() {
    for seed in [1, 2, 3] {
        let report = go(seed, None);
        assert!(report.failed_invariants().is_empty(), "seed {seed}:\n{report}");
        for what in ROOM_INVARIANTS {
            assert!(
                report.invariants.iter().any(|i| i.name.starts_with(what) && i.passed),
                "seed {seed}: {what} is not judged"
            );
        }
        let rooms = report.rooms.clone().expect("the report has the rooms");
        // Rooms really ran: most opened, with talk, tasks and members.
        assert_eq!(rooms.planned, 8, "seed {seed}: {rooms:?}");
        assert!(rooms.opened >= 6, "seed {seed}: {rooms:?}");
        assert!(rooms.events > 40 && rooms.taken > 30, "seed {seed}: {rooms:?}");
        assert!(rooms.tasks > 0 && rooms.tasks_settled > 0, "seed {seed}: {rooms:?}");
        assert!(rooms.members >= rooms.opened, "seed {seed}: {rooms:?}");
        assert_eq!(
            rooms.asks,
            rooms.taken + rooms.refused_by_home + rooms.asks_excused,
            "seed {seed}: every ask accounted for: {rooms:?}"
        );
        // The faults hit the rooms: disks were lost on the way.
        assert!(report.disks_lost > 0, "seed {seed}");
        assert!(report.to_string().contains("rooms: "), "seed {seed}");
    }
    // Rooms replay exactly from their seed.
    assert_eq!(go(2, None).to_json(), go(2, None).to_json());
}

#[test]
fn a_core_that_applies_early_room_events_is_caught() {
    let report = go(1, Some(PlantedBug::RoomOutOfOrder));
    let failed = report.failed_invariants();
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("every node applies each room's events in order") && f.contains("was next")),
        "the planted bug went unnoticed: {failed:?}\n{report}"
    );
    assert!(
        failed
            .iter()
            .any(|f| f.starts_with("every room member's log is its home's")),
        "{failed:?}"
    );
    // Nothing but the rooms is wrong.
    assert!(failed.iter().all(|f| f.contains("room")), "{failed:?}");
    assert!(
        report
            .planted_bug
            .as_deref()
            .is_some_and(|b| b.starts_with("room-out-of-order"))
    );
    assert_eq!("room-out-of-order".parse(), Ok(PlantedBug::RoomOutOfOrder));
}
