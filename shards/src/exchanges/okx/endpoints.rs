//! okx endpoints.
