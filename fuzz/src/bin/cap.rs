//! AFL++ target `cap`: runs [`liandong_fuzz::cap`] on each input
//! (`fuzz/run.sh cap N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::cap(data);
    });
}
