//! Job contracts.
