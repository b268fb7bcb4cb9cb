//! `cargo run --release -p liandong-sim --example simrun -- SCENARIO SEED [sweep]`
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let s = liandong_sim::Scenario::load(std::path::Path::new(&args[1])).unwrap();
    let s = if args.get(3).is_some_and(|a| a == "sweep") {
        s.sweep_variant()
    } else {
        s
    };
    let seed = args.get(2).map_or(1, |x| x.parse().unwrap());
    let opts = liandong_sim::RunOptions {
        seed,
        planted_bug: None,
    };
    let (report, stats) = liandong_sim::run(&s, &opts, &mut |_| {}).unwrap();
    print!("{report}");
    println!("{stats}");
}
