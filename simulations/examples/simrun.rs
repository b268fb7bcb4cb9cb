//! `cargo run --release -p liandong-sim --example simrun -- SCENARIO SEED [sweep] [json] [bug=NAME]`
//! (`json`: the report as `liandong sim run --json` prints it, nothing else;
//! `bug=room-out-of-order`: a planted bug, as `--planted-bug` takes it).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let s = liandong_sim::Scenario::load(std::path::Path::new(&args[1])).unwrap();
    let flag = |f: &str| args.iter().skip(3).any(|a| a == f);
    let s = if flag("sweep") { s.sweep_variant() } else { s };
    let seed = args.get(2).map_or(1, |x| x.parse().unwrap());
    let opts = liandong_sim::RunOptions {
        seed,
        planted_bug: args
            .iter()
            .find_map(|a| a.strip_prefix("bug="))
            .map(|b| b.parse().unwrap()),
    };
    let (report, stats) = liandong_sim::run(&s, &opts, &mut |_| {}).unwrap();
    if flag("json") {
        print!("{}", report.to_json());
        return;
    }
    print!("{report}");
    println!("{stats}");
}
