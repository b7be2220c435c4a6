//! corefeed library.
