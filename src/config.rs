//! The YAML configuration: types, defaults and validation with messages that
//! name the offending key.
