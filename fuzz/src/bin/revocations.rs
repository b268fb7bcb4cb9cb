//! AFL++ target `revocations`: runs [`liandong_fuzz::revocations`] on each input
//! (`fuzz/run.sh revocations N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::revocations(data);
    });
}
