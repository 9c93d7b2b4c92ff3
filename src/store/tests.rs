//! Tests of the store through its private parts.
