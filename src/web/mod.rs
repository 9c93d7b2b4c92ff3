//! The optional web-login page served by the bridge itself (server-rendered,
//! works without JavaScript). It drives the shared login flow and never echoes
//! a secret back into a page or a URL.
