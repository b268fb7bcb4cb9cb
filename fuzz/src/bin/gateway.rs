//! AFL++ target `gateway`: runs [`liandong_fuzz::gateway`] on each input
//! (`fuzz/run.sh gateway N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::gateway(data);
    });
}
