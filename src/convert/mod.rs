//! Pure conversions between Telegram and Matrix representations (formatting
//! entities ⇄ HTML, media metadata). No I/O lives here, so everything is
//! unit-testable without a network.
