pub use knocker_core::*;
