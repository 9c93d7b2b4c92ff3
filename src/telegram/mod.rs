//! The Telegram adapter: the grammers client, the login flows shared by the
//! terminal, Matrix and the web page, and the update stream turned into bridge
//! events. It knows nothing about Matrix.
