//! The cell registry: one [`CellDef`] per recurrent cell, and [`CELLS`], the
//! list a spec's `model.cell` is looked up in. Everything the code asks
//! about a cell (its name in specs, whether libtorch runs it, its state, its
//! constraints, how to build it) is a field of its entry, so no code outside
//! this file and the cell's own file matches on cells.
//!
//! To add a cell, touch two files and one line:
//! 1. write it in its own file under `src/model/`: a [`CellLayer`] (its
//!    equations, in `step`), a [`BuildLayer`] that creates its parameters
//!    through [`LayerShape::param`], and its `CellDef`;
//! 2. declare the file in `src/model/mod.rs` (`pub mod <file>;`);
//! 3. register the entry in [`CELLS`] below: `&super::<file>::<NAME>,`
//!    (at the end: the order is that of "expected one of …").
//!
//! The toy minimal gated unit shows the three steps: `src/model/mgu.rs`,
//! `#[cfg(test)] mod mgu;` in `src/model/mod.rs`, and the registration line
//! `#[cfg(test)] &super::mgu::MGU,` below; it is registered in unit tests only.
//!
//! [`Cell`] is a `Copy` handle onto a registered entry rather than an enum,
//! because an enum is a second list of the cells that must be kept in step
//! with the registry (and with every `match` on it). It (de)serialises by
//! name exactly as the enum it replaces did (`lstm`, `gru_lecture`, …, and
//! "unknown variant `x`, expected one of …" for a name not registered), so
//! specs, trial ids and results written before stay valid.
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use serde::de::{self, Deserializer, EnumAccess, Unexpected, VariantAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use super::custom::{BuildLayer, CellLayer, LayerShape};
pub use super::fused::Kernel;

/// Every cell a spec can name, in the order error messages list them.
pub static CELLS: &[&CellDef] = &[
    &super::fused::RNN_TANH,
    &super::fused::RNN_RELU,
    &super::fused::LSTM,
    &super::fused::GRU,
    &super::lstm::VANILLA,
    &super::lstm::NIG,
    &super::lstm::NFG,
    &super::lstm::NOG,
    &super::lstm::NIAF,
    &super::lstm::NOAF,
    &super::lstm::NP,
    &super::lstm::CIFG,
    &super::lstm::FGR,
    &super::gru::GRU_LECTURE,
    &super::gru::MUT1,
    &super::gru::MUT2,
    &super::gru::MUT3,
    #[cfg(test)]
    &super::mgu::MGU,
];

/// What the code knows about one cell.
pub struct CellDef {
    /// The name in specs (`model.cell: lstm_vanilla`) and in `summary.csv`.
    pub name: &'static str,
    /// The state tensors a layer carries from step to step, the output `h`
    /// first: `["h"]`, `["h", "c"]` for an LSTM memory cell, ….
    pub state: &'static [&'static str],
    /// Blocks of the input projection `weight_ih` (`[gates·hidden, input]`):
    /// 4 for the LSTM (i, f, g, o), 3 for the GRU (r, z, n), 1 for a plain RNN.
    pub gates: i64,
    /// Has a forget gate whose bias `model.forget_bias` sets.
    pub forget_gate: bool,
    /// Adds the raw input to a hidden-size vector, so its input size must
    /// equal the hidden size (MUT1, MUT2).
    pub input_is_hidden: bool,
    pub build: Build,
}

/// How a cell's stack is built.
#[derive(Clone, Copy)]
pub enum Build {
    /// By libtorch's fused kernel (cuDNN on CUDA), as a [`super::FusedRnn`].
    Fused(Kernel),
    /// From hand-written layers, one per layer and direction, in a
    /// [`super::CustomRnn`].
    Layers(&'static dyn BuildLayer),
}

impl CellDef {
    /// Runs on a libtorch kernel rather than step by step.
    pub fn is_fused(&self) -> bool {
        matches!(self.build, Build::Fused(_))
    }

    /// Keeps an LSTM memory cell `c` as its second state tensor.
    pub fn has_memory_cell(&self) -> bool {
        self.state.get(1) == Some(&"c")
    }
}

/// A registered cell: what `model.cell` holds. Dereferences to its [`CellDef`].
#[derive(Clone, Copy)]
pub struct Cell(&'static CellDef);

impl Cell {
    /// The default cell, PyTorch's LSTM.
    pub const LSTM: Cell = Cell(&super::fused::LSTM);

    /// The registered cell called `name` (as a spec writes it).
    pub fn named(name: &str) -> Option<Cell> {
        CELLS.iter().find(|def| def.name == name).map(|&def| Cell(def))
    }

    /// Every registered cell, in registry order.
    pub fn all() -> impl Iterator<Item = Cell> {
        CELLS.iter().map(|&def| Cell(def))
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }
}

impl std::ops::Deref for Cell {
    type Target = CellDef;

    fn deref(&self) -> &CellDef {
        self.0
    }
}

impl PartialEq for Cell {
    fn eq(&self, other: &Cell) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Cell {}

impl Hash for Cell {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

/// The name as spec files write it.
impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// The name in CamelCase (`LstmVanilla`), as the enum this type replaced
/// printed it, so messages built with `{:?}` read as before.
impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for part in self.0.name.split('_') {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                write!(f, "{}{}", first.to_ascii_uppercase(), chars.as_str())?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CellDef {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("CellDef")
            .field("name", &self.name)
            .field("state", &self.state)
            .field("gates", &self.gates)
            .field("fused", &self.is_fused())
            .finish_non_exhaustive()
    }
}

/// Registered names, for "expected one of …".
static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| CELLS.iter().map(|def| def.name).collect());

fn names() -> &'static [&'static str] {
    NAMES.as_slice()
}

/// As serde's derive writes a unit variant of `enum Cell`.
impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = CELLS.iter().position(|def| def.name == self.0.name).expect("a registered cell");
        serializer.serialize_unit_variant("Cell", index as u32, self.0.name)
    }
}

/// As serde's derive reads a unit variant of `enum Cell`: the same accepted
/// forms (a name, a YAML tag, a variant index) and the same error messages.
impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cell, D::Error> {
        deserializer.deserialize_enum("Cell", names(), CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("enum Cell")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Cell, A::Error> {
        let (Variant(cell), variant) = data.variant()?;
        variant.unit_variant()?;
        Ok(cell)
    }
}

/// A variant identifier: a registered name or index.
struct Variant(Cell);

impl<'de> Deserialize<'de> for Variant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Variant, D::Error> {
        deserializer.deserialize_identifier(VariantVisitor)
    }
}

struct VariantVisitor;

impl Visitor<'_> for VariantVisitor {
    type Value = Variant;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("variant identifier")
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<Variant, E> {
        match CELLS.get(index as usize) {
            Some(&def) => Ok(Variant(Cell(def))),
            None => Err(E::invalid_value(
                Unexpected::Unsigned(index),
                &format!("variant index 0 <= i < {}", CELLS.len()).as_str(),
            )),
        }
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Variant, E> {
        Cell::named(name).map(Variant).ok_or_else(|| E::unknown_variant(name, names()))
    }

    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Variant, E> {
        self.visit_str(&String::from_utf8_lossy(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, a) in CELLS.iter().enumerate() {
            assert!(CELLS[..i].iter().all(|b| b.name != a.name), "{} is registered twice", a.name);
        }
    }

    #[test]
    fn cells_round_trip_by_name() {
        for cell in Cell::all() {
            let yaml = serde_yaml::to_string(&cell).unwrap();
            assert_eq!(yaml.trim(), cell.name());
            assert_eq!(serde_yaml::from_str::<Cell>(&yaml).unwrap(), cell);
            let json = serde_json::to_string(&cell).unwrap();
            assert_eq!(json, format!("\"{}\"", cell.name()));
            assert_eq!(serde_json::from_str::<Cell>(&json).unwrap(), cell);
        }
        assert_eq!(format!("{:?}", Cell::named("lstm_vanilla").unwrap()), "LstmVanilla");
        assert_eq!(format!("{:?}", Cell::named("mut1").unwrap()), "Mut1");
        assert_eq!(Cell::LSTM, Cell::named("lstm").unwrap());
    }

    #[test]
    fn an_unknown_name_lists_the_registered_ones() {
        let err = serde_yaml::from_str::<Cell>("transformer").unwrap_err().to_string();
        let listed: Vec<String> = CELLS.iter().map(|def| format!("`{}`", def.name)).collect();
        assert!(err.starts_with(&format!("unknown variant `transformer`, expected one of {}", listed.join(", "))));
    }
}
