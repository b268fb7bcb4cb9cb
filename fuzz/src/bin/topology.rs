//! AFL++ target `topology`: runs [`liandong_fuzz::topology`] on each input
//! (`fuzz/run.sh topology N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::topology(data);
    });
}
