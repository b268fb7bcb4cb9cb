//! AFL++ target `federation`: runs [`liandong_fuzz::federation`] on each input
//! (`fuzz/run.sh federation N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::federation(data);
    });
}
