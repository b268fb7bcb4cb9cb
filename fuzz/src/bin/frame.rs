//! AFL++ target `frame`: runs [`liandong_fuzz::frame`] on each input
//! (`fuzz/run.sh frame N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::frame(data);
    });
}
