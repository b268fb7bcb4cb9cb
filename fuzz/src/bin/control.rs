//! AFL++ target `control`: runs [`liandong_fuzz::control`] on each input
//! (`fuzz/run.sh control N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::control(data);
    });
}
