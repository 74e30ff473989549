//! Example tasks: sequence classification (many-to-one), tagging
//! (many-to-many, aligned) and sequence to sequence (many-to-many,
//! unaligned). They share the recurrent stacks of [`crate::model`], the
//! training loop of [`crate::train`] and the trial directories, CSVs and
//! plots of the character language model.
//!
//! [`data`] reads or generates the examples, [`models`] holds the
//! classifier and tagger, [`seq2seq`] the encoder–decoder with attention and
//! its decoding, and [`objective`] batches examples and computes the losses
//! and metrics the trainer logs.
pub mod data;
pub mod decode;
pub mod models;
pub mod objective;
pub mod seq2seq;
