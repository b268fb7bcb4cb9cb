//! AFL++ target `node_config`: runs [`liandong_fuzz::node_config`] on each input
//! (`fuzz/run.sh node_config N`).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        liandong_fuzz::node_config(data);
    });
}
