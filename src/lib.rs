//! feedgate: transaction feeds (RSS 2.0 / Atom 1.0) over conditional GET.

pub mod model;
pub mod render;
pub mod cursor;
pub mod protocol;
