//! Counting a model for its parameter budget draws nothing from libtorch's
//! global generator. Its own test binary: the generator is process-wide, and
//! tests running beside it in one process would draw from it too.
use rnnlab::model::Cell;
use rnnlab::spec::{InputEncoding, ModelSpec};
use tch::{Device, Kind, Tensor};

/// Counting a model for its budget leaves libtorch's generator where it
/// was, so a trainer that seeds and then solves the budget initialises
/// its model as if it had not counted.
#[test]
fn counting_draws_nothing() {
    let draw = || Tensor::rand([4], (Kind::Float, Device::Cpu));
    tch::manual_seed(11);
    let want = draw();
    for cell in Cell::all() {
        for input in [InputEncoding::Onehot, InputEncoding::Embedding] {
            if cell.input_is_hidden && input == InputEncoding::Onehot {
                continue;
            }
            let spec = ModelSpec { cell, hidden: 6, layers: 2, input, embedding_size: 6, ..Default::default() };
            tch::manual_seed(11);
            rnnlab::spec::build::count_without_drawing(&spec, 11);
            assert!(draw().equal(&want), "{cell} {input:?}: counting drew from the generator");
        }
    }
}
